"""Test-wide settings and fixtures: offline, one model cache, the fixtures several test files share, and the
pytest-xdist set-up (``make test`` runs ``pytest -n 2 --dist loadfile``).

Parallel, a file at a time: a file's tests run on one worker, in their order (module-scoped fixtures are built
once, and some tests read what an earlier one left in them), files on whichever worker is free. Files that share
a session fixture too costly to build twice are one unit (:func:`pytest_xdist_make_scheduler`): tests/integration
(one vLLM server), tests/test_train.py and tests/test_evaluate.py (one trained run, :func:`smoke_run`). Tests
marked ``alone`` (rates measured on the wall clock, which another test's CPU load skews) run while no other test
runs: a lock shared by the workers (:func:`_machine_lock`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, ClassVar

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
# Files scheduled as one unit under --dist loadfile: they share a session fixture (path prefix -> unit).
UNITS = {"tests/integration/": "vllm", "tests/test_train.py": "smoke_run", "tests/test_evaluate.py": "smoke_run"}
# Tests marked alone (a file: all its tests), seen to fail beside another test's CPU load under xdist: request
# rates measured at a server against the limiter's wall clock; a concurrency reached within a reply's delay.
ALONE = {"judges/test_rate_limits.py", "nova/test_lambda_handler.py::test_one_invocations_judge_calls_run_concurrently"}


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: without it installed, nothing to schedule
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """--dist loadfile, with the files of :data:`UNITS` as one unit each: tests/integration's vLLM server takes
    ~40 s to start and one per worker would compete for the cores (its tests size their trainings for one
    server on the machine); the smoke run trains for ~20 s. Other --dist modes: pytest-xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class _Units(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path: str = super()._split_scope(nodeid)
            return next((unit for prefix, unit in UNITS.items() if path.startswith(prefix)), path)

    return _Units(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix()
        if where in ALONE or f"{where}::{item.name}" in ALONE:
            item.add_marker(pytest.mark.alone)


# -- alone: one lock file shared by the workers (read-write, with a turnstile so a test waiting to run alone is
# not starved by the other workers' next tests). Without xdist workers there is nothing to wait for.


class _Held:
    """What this worker holds: "alone" or "shared" (or None), and the open lock files."""

    mode: ClassVar[str | None] = None
    files: ClassVar[list[IO[str]]] = []


def _lock_dir(config: pytest.Config) -> Path | None:
    if getattr(config, "workerinput", None) is None:
        return None
    factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]
    return factory.getbasetemp().parent  # the session's folder, above each worker's own


def _machine_lock(config: pytest.Config, alone: bool) -> None:
    folder, mode = _lock_dir(config), "alone" if alone else "shared"
    if folder is None or _Held.mode == mode:
        return
    _release()
    turnstile = open(folder / "machine.turnstile", "a")  # noqa: SIM115 - held across hooks
    fcntl.flock(turnstile, fcntl.LOCK_EX)
    machine = open(folder / "machine.lock", "a")  # noqa: SIM115
    fcntl.flock(machine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
    if alone:  # keep the turnstile: the others' next tests wait at it
        _Held.files = [machine, turnstile]
    else:
        turnstile.close()
        _Held.files = [machine]
    _Held.mode = mode


def _release() -> None:
    for handle in _Held.files:
        handle.close()
    _Held.files, _Held.mode = [], None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _machine_lock(item.config, alone=item.get_closest_marker("alone") is not None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Shared: released after every test, so a test waiting to run alone gets its turn. Alone: kept while the
    next test on this worker runs alone too (its module's next test), so no other test slips in between."""
    if item.get_closest_marker("alone") is None or nextitem is None or nextitem.get_closest_marker("alone") is None:
        _release()


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
