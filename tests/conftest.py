"""Test-wide settings and fixtures: offline, one model cache, the fixtures several test files share, and the
pytest-xdist set-up (``make test`` runs ``pytest -n 2 --dist loadgroup``).

Parallel: every test runs on whichever worker is free, except the groups below, each kept on one worker
(``xdist_group``): tests that share a session fixture too costly to build twice (the vLLM server of
tests/integration; the trained run of :func:`smoke_run`) run where it was built.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._entry_point import build_installed_wheel, run_installed, sha256, train_command

# No hub access in tests: a download attempt must fail loudly, never hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist the workers share the cores: each worker's torch (and the trainings it starts, which
# inherit this) gets its share of them, not all, so two trainings at once do not spin OpenMP threads
# against each other. Set here, before any test module imports torch.
if (workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

TESTS = Path(__file__).resolve().parent
# Session fixtures that group the tests using them onto one xdist worker (fixture name -> group).
GROUPED_FIXTURES = {"smoke_run": "smoke_run"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """xdist groups (used by ``--dist loadgroup``; without xdist they mean nothing). tests/integration: one
    vLLM server for the session (~40 s to start, one per worker would compete for the cores), and trainings
    beside it that its tests size for one server on the machine."""
    for item in items:
        if item.path.is_relative_to(TESTS / "integration"):
            item.add_marker(pytest.mark.xdist_group("vllm"))
            continue
        for fixture, group in GROUPED_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionstart(session: pytest.Session) -> None:
    """With xdist workers, the packaged model is converted once here, before they start, instead of by two at
    once (each would spend ~30 s; the conversion's atomic rename keeps that safe but not cheap)."""
    if getattr(session.config, "workerinput", None) is None and session.config.getoption("numprocesses", None):
        from rlaif.data.models import cache_dir, packaged_model_dir

        if not (cache_dir() / "models" / "smollm2-135m-instruct" / "config.json").is_file():
            packaged_model_dir()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (installed once when missing and possible; the test is skipped, with why, when not)."""
    from tests.browser import chromium_path

    path, why = chromium_path()
    if path is None:
        pytest.skip(f"no browser for the report tests: {why}")
    return path


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """rlaif as a user installs it: (the wheel, the folder it is installed into), built once per session."""
    return build_installed_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, installed_wheel: tuple[Path, Path]) -> tuple[Path, str]:
    """The default smoke run (2 steps), once per session for every test that only reads its folder (its
    adapter, logs, report): (its folder, the packaged base weights' sha256 before it ran). Read it, never
    write into it; a test that needs to change files copies them."""
    from rlaif.data.models import packaged_model_dir

    # From the installed wheel, not the checkout: the default smoke run proves the package data is complete.
    _, target = installed_wheel
    tmp_path = tmp_path_factory.mktemp("smoke")
    where = run_installed(target, "-c", "import rlaif; print(rlaif.__file__)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr[-3000:]
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout

    base_before = sha256(packaged_model_dir() / "model.safetensors")
    run_dir = tmp_path / "run"
    result = run_installed(target, *train_command("debug=smoke", f"hydra.run.dir={run_dir}")[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run_dir, base_before
