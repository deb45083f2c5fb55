"""Every option of every config group composes, and every ``_target_`` instantiates offline.

No model is loaded and nothing is contacted: constructors are cheap by design (house rule 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

import rlaif
from rlaif.judges.base import Judge, JudgeRequest, TransportResult

CONF = Path(rlaif.__file__).parent / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and not p.name.startswith("_"))
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]


class _NoCallTransport:
    identity = "test:no-calls"

    async def send(self, request: JudgeRequest) -> TransportResult:
        raise AssertionError("configs must not call the judge when they are built")

    async def aclose(self) -> None:
        pass


def _compose(*overrides: str) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _instantiate_all(cfg: Any, tmp_path: Path) -> dict[str, Any]:
    judge = instantiate(cfg.judge, _convert_="all")
    assert isinstance(judge, Judge) and judge.identity
    reward = instantiate(cfg.reward, judge=Judge(_NoCallTransport()), log_path=str(tmp_path / "r.jsonl"))
    assert callable(reward) and reward.__name__
    args = instantiate(cfg.grpo, output_dir=str(tmp_path), _convert_="all")
    peft = instantiate(cfg.peft, _convert_="all")
    return {"judge": judge, "reward": reward, "args": args, "peft": peft}


def test_there_are_options_in_every_expected_group() -> None:
    assert {"policy", "peft", "grpo", "judge", "reward", "rubric", "data", "experiment", "debug"} <= set(GROUPS)
    assert {"local", "vllm", "openai", "bedrock"} <= {o for g, o in OPTIONS if g == "judge"}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates_offline(group: str, option: str, tmp_path: Path) -> None:
    overrides = [f"{group}={option}"]
    if group == "grpo" and option == "gpu" and not _has_cuda():
        # GRPOConfig itself refuses bf16 without a GPU; everything else in the file is still checked.
        overrides.append("grpo.bf16=false")
    cfg = _compose(*overrides)
    OmegaConf.resolve(cfg)
    built = _instantiate_all(cfg, tmp_path)
    assert built["args"].output_dir == str(tmp_path)
    assert built["judge"].transport is not None


def test_default_grpo_values_are_cpu_sane(tmp_path: Path) -> None:
    args = _instantiate_all(_compose(), tmp_path)["args"]
    assert args.bf16 is False and args.gradient_checkpointing is False
    assert args.per_device_train_batch_size % args.num_generations == 0
    assert args.max_completion_length <= 64 and args.logging_steps == 1


def test_smoke_overlay_shrinks_the_run() -> None:
    cfg = _compose("debug=smoke")
    assert cfg.grpo.max_steps == 2 and cfg.data.limit == 8


@pytest.mark.parametrize("path", sorted(CONF.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONF)))
def test_every_config_file_starts_with_the_command_that_uses_it(path: Path) -> None:
    comments = [line for line in path.read_text().splitlines()[:2] if line.startswith("#")]
    commands = ("python -m rlaif.train", "python -m rlaif.evaluate", "python -m rlaif.judge_eval")
    assert any(c in line for line in comments for c in commands), f"{path}: first lines must show the command"


def test_no_secret_values_in_configs() -> None:
    for path in CONF.rglob("*.yaml"):
        data = OmegaConf.to_container(OmegaConf.load(path))
        for key, value in _walk(data):
            assert not (
                any(s in key.lower() for s in ("secret", "password", "token")) and isinstance(value, str) and value
            ), f"{path}: {key} looks like a secret; read it from the environment instead"


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _walk(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [kv for k, v in data.items() for kv in _walk(v, f"{prefix}.{k}")]
    return [(prefix, data)]
