"""GPU tests (``pytest -m gpu``): each skips without CUDA; the tiny model is built once per session.

On a lent GPU machine scripts/device_check.sh runs them with ``RLAIF_TINY_MODEL`` pointing at the model it
built; otherwise the fixture builds one with scripts/make_tiny_model.py (no download, about a second).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


requires_cuda = pytest.mark.skipif(
    not cuda_available(), reason="needs a CUDA GPU: torch.cuda.is_available() is False on this machine"
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    given = os.environ.get("RLAIF_TINY_MODEL")
    if given and (Path(given) / "config.json").is_file():
        return given
    spec = importlib.util.spec_from_file_location("make_tiny_model", ROOT / "scripts" / "make_tiny_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return str(module.build(tmp_path_factory.mktemp("tiny-model")))
