"""Any list of test files collects, in any order, from any working directory: tests/ is a package, and every
helper is imported by its package name (``tests.judges.converse_server``), never as a top-level module that
only some orders of collection put on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent

# Mixed folders, conftests that import each other's fixtures (nova <- judges), helpers from other folders.
LISTS = (
    ("nova/test_lambda_handler.py", "judges/test_bedrock.py"),
    ("monitoring/test_canaries.py", "integration/test_jury_vllm.py", "test_open_reward.py", "judges/test_faults.py"),
    (
        "test_evaluate_row_rubric.py",
        "reporting/test_report_browser.py",
        "nova/test_package.py",
        "gpu/test_policy_bf16.py",
    ),
)


def test_every_folder_of_tests_is_a_package() -> None:
    folders = {p.parent for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").is_file()) == []


def test_mixed_lists_of_test_files_collect_in_any_order(tmp_path: Path) -> None:
    # Outside the checkout, by absolute paths, no PYTHONPATH: nothing rests on the working directory or the
    # environment putting the checkout on sys.path (pytest's own --import-mode does, for a package).
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    runs = {
        files: subprocess.Popen(
            [*command, *(str(TESTS / f) for f in files)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for files in (*LISTS, LISTS[1][::-1])
    }
    for files, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{files}:\n{output[-3000:]}"
        assert all(f"tests/{f}::" in output for f in files), output[-3000:]


class _Config:
    """What pytest-xdist's scheduler reads of pytest's config under ``make test`` (-n 2 --dist loadfile)."""

    def __init__(self, dist: str) -> None:
        self.values = {"dist": dist, "tx": ["2*popen"]}

    def getvalue(self, name: str) -> object:
        return self.values[name]


def test_the_files_that_share_a_costly_fixture_are_one_unit_on_one_worker() -> None:
    """docs/development.md, "The test suite": under --dist loadfile a file is a unit, except tests/integration
    (one vLLM server) and test_train + test_evaluate (one smoke run), each one unit."""
    from tests import conftest

    scheduler: Any = conftest.pytest_xdist_make_scheduler(_Config("loadfile"), None)  # type: ignore[arg-type]
    unit = scheduler._split_scope
    assert unit("tests/integration/test_group_vllm.py::test_x") == unit("tests/integration/test_pool_vllm.py::t[a]")
    assert unit("tests/test_train.py::test_x") == unit("tests/test_evaluate.py::test_y") != unit("tests/x.py::t")
    assert unit("tests/judges/test_pool.py::test_x") == "tests/judges/test_pool.py" != unit("tests/test_errors.py::t")
    assert conftest.pytest_xdist_make_scheduler(_Config("load"), None) is None  # type: ignore[arg-type]
    for prefix in conftest.UNITS:  # a renamed file or folder would silently leave its unit
        assert (TESTS.parent / prefix).exists(), prefix


def test_every_test_listed_to_run_alone_exists() -> None:
    """A renamed test would drop out of the alone list without a word, and fail again beside another's load."""
    from tests import conftest

    for entry in conftest.ALONE:
        path, _, name = entry.partition("::")
        source = (TESTS / path).read_text(encoding="utf-8")
        assert not name or f"def {name}(" in source, entry
