"""Running ``python -m rlaif.train`` as a user does, for the tests that go through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# A few cheap steps of the real default run: the packaged policy and judge, 8-token answers, 8 prompts.
# The canaries on 4 rows, as debug=smoke has them: their wiring at a quarter of their cost.
SMALL = ("grpo.max_completion_length=8", "grpo.per_device_train_batch_size=4", "data.limit=8", "canaries.rows=4")


def train_command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "rlaif.train", *overrides]


def train_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", **(extra or {})}


def run_train(
    *overrides: str, timeout: int = 900, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        train_command(*overrides),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=train_env(env),
        cwd=cwd,
    )
