"""Any list of test files collects, in any order, from any working directory: tests/ is a package, and every
helper is imported by its package name (``tests.judges.converse_server``), never as a top-level module that
only some orders of collection put on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
