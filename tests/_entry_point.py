"""Running ``python -m rlaif.train`` as a user does, for the tests that go through the real entry point: forked
from a process that imported TRL once (:mod:`tests._forkserver`), or, for the installed wheel, a fresh interpreter."""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests import _forkserver as forked

# A few cheap steps of the real default run: the packaged policy and judge, 8-token answers, 8 prompts.
# The canaries on 4 rows, as debug=smoke has them: their wiring at a quarter of their cost.
SMALL = (
    "grpo.max_completion_length=8",
    "grpo.per_device_train_batch_size=4",
    "data.limit=8",
    "canaries.second_opinion.sample=4",
)


def train_command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "rlaif.train", *overrides]


def train_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", **(extra or {})}


def run_train(
    *overrides: str, timeout: int = 900, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return forked.run(
        train_command(*overrides),
        timeout=timeout,
        env=train_env(env),
        cwd=cwd,
    )


# -- rlaif as a user installs it (tests/conftest.py's installed_wheel and smoke_run) ----------------------------

ROOT = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_installed_wheel(work: Path) -> tuple[Path, Path]:
    """rlaif's wheel built and installed under ``work``: (the wheel, the folder it is installed into).

    Built from a copy of the checkout: building in place would write build/ and rlaif.egg-info/ into a
    tree other runs share. No build isolation and no index: the venv's own setuptools, nothing fetched.
    """
    source = work / "source"
    shutil.copytree(ROOT / "rlaif", source / "rlaif", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    dist, target = work / "dist", work / "target"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(source)]
    _check_call(build)
    (wheel,) = dist.glob("rlaif-*.whl")
    _check_call([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)])
    return wheel, target


def _check_call(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"


def run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` seeing rlaif only as installed in ``target``, never the checkout.

    -S: no .pth files, so the checkout's editable install (a finder that a .pth file installs, and that
    would answer for any module missing from the wheel) is not there; the venv's site-packages come back
    through PYTHONPATH, after ``target``. -P: not the working directory either.
    """
    path = [str(target), *site.getsitepackages()]
    env = train_env({"PYTHONPATH": os.pathsep.join(path)})
    command = [sys.executable, "-S", "-P", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=cwd)
