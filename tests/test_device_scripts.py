"""The prepared GPU check (scripts/device_check.sh) and its wheels (scripts/device_wheels.sh), checked without a GPU.

Both scripts pass shellcheck in tests/test_scripts.py (every scripts/*.sh); here: their dry runs, the wheel lock
they share, and the tiny model the check trains.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "scripts" / "device_wheels.lock"


def _lock_pins() -> list[str]:
    return [line.split()[0] for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]


def _dry_run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / script)],
        capture_output=True,
        text=True,
        env={**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable},
        timeout=60,
    )


@pytest.mark.parametrize("script", ["device_wheels.sh", "device_check.sh"])
def test_dry_run_prints_the_wheel_list_and_the_commands(script: str) -> None:
    result = _dry_run(script)
    assert result.returncode == 0, result.stderr
    listed, commands = result.stdout.split("commands:\n")
    for pin in _lock_pins():
        assert pin in listed
    assert ("pip" in commands and "--no-index" in commands) or "pip download --no-deps" in commands


def test_the_check_runs_the_three_parts_on_the_gpu_config() -> None:
    commands = _dry_run("device_check.sh").stdout.split("commands:\n")[1]
    assert "pip install --no-index --no-deps --target" in commands
    assert "-m pytest -m gpu tests/gpu" in commands
    train = next(line for line in commands.splitlines() if "-m rlaif.train" in line)
    assert "grpo=gpu grpo.use_vllm=false judge=local" in train and "grpo.max_steps=4" in train
    assert "policy.name_or_path=device-check/tiny-model judge.model=device-check/tiny-model" in train
    assert "-m rlaif.step_timing device-check/train" in commands


def test_the_lock_carries_what_the_check_imports_and_nothing_the_image_has() -> None:
    names = {pin.split("==")[0] for pin in _lock_pins()}
    assert {"trl", "hydra-core", "omegaconf", "datasets", "pyarrow", "pandas", "matplotlib", "pytest"} <= names
    assert not names & {"torch", "transformers", "accelerate", "peft", "numpy", "huggingface-hub", "tokenizers"}
    assert all(line.split()[2].startswith("sha256=") for line in LOCK.read_text().splitlines()[1:] if line)


def _make_tiny_model() -> object:
    spec = importlib.util.spec_from_file_location("make_tiny_model", ROOT / "scripts" / "make_tiny_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_model_is_a_small_chat_model_whose_judge_reads_verdicts(tmp_path: Path) -> None:
    from rlaif.data.models import load_causal_lm, load_tokenizer
    from rlaif.judges.backends.local import local_judge
    from rlaif.judges.protocol import JudgeRequest
    from rlaif.rewards.verdicts.choices import choice_distribution

    folder = _make_tiny_model().build(tmp_path / "tiny")  # type: ignore[attr-defined]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2_000_000
    tokenizer = load_tokenizer(str(folder))
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert load_causal_lm(str(folder), "bfloat16").num_parameters() < 1_000_000
    judge = local_judge(model=str(folder))
    try:
        questions = ["Is the answer long? Answer: Paris.", "Is the answer polite? Answer: Go away."]
        replies = judge.generate(
            [
                JudgeRequest.chat([{"role": "user", "content": q}], choices=("yes", "no"), max_tokens=1)
                for q in questions
            ]
        )
        p_yes = [choice_distribution(("yes", "no"), r)["yes"] for r in replies]  # raises when off the menu
    finally:
        judge.close()
    assert all(0 < p < 1 for p in p_yes) and p_yes[0] != p_yes[1]
