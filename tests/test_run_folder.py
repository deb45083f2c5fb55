"""The run folder through the real entry point: rlaif removes only what this invocation created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlaif.runs.run_folder import latest_checkpoint, plot_rewards, set_aside_failed_marker
from tests._entry_point import run_train


def test_bad_input_never_deletes_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's work")
    (folder / ".hydra").mkdir()  # an earlier run's saved config, as in a folder being resumed
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\n")

    result = run_train(f"hydra.run.dir={folder}", f"data.path={tmp_path / 'typo.jsonl'}")

    assert result.returncode == 2, result.stderr[-2000:]
    assert "typo.jsonl: dataset file not found (data.path)" in result.stdout + result.stderr
    assert (folder / "notes.txt").read_text() == "the user's work"
    assert (folder / ".hydra" / "config.yaml").is_file()
    # What this invocation added (Hydra's log) is gone again: the folder holds what it held before.
    assert sorted(p.name for p in folder.iterdir()) == [".hydra", "notes.txt"]


def test_bad_input_with_the_working_directory_as_run_folder(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    result = run_train("hydra.run.dir=.", "data.path=missing.jsonl", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert tmp_path.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_a_new_folder_is_removed_on_bad_input(tmp_path: Path) -> None:
    run_dir = tmp_path / "new" / "run"
    result = run_train(f"hydra.run.dir={run_dir}", "resume=/nowhere/checkpoint-3")
    assert result.returncode == 2
    assert "resume: /nowhere/checkpoint-3 is not a complete checkpoint folder" in result.stdout + result.stderr
    assert not run_dir.exists()


def test_latest_checkpoint_skips_one_cut_short(tmp_path: Path) -> None:
    for step, complete in ((2, True), (4, True), (6, False), (10, True)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-12").write_text("a file, not a checkpoint")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    (tmp_path / "checkpoint-10" / "trainer_state.json").unlink()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    assert latest_checkpoint(tmp_path / "absent") is None


def test_an_earlier_failure_record_is_kept_aside(tmp_path: Path) -> None:
    (tmp_path / "FAILED").write_text("first")
    set_aside_failed_marker(tmp_path)
    (tmp_path / "FAILED").write_text("second")
    set_aside_failed_marker(tmp_path)
    assert (tmp_path / "FAILED.1").read_text() == "first" and (tmp_path / "FAILED.2").read_text() == "second"
    assert not (tmp_path / "FAILED").exists()


@pytest.mark.parametrize("rewards", [[], [(1, 0.2, None), (3, 0.4, 0.1)]])
def test_reward_plot_with_steps_that_had_no_reward(tmp_path: Path, rewards: list) -> None:  # type: ignore[type-arg]
    plot_rewards(rewards, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


# What reads the reference, and the way out the message offers.
REFERENCE_READERS = {
    "preference": (["reward=preference"], ["reward 'preference'", "reward.mode=within_group"]),
    "reference_qa": (["rubric=reference_qa"], ["rubric 'reference_qa'", "++rubric.show_reference=false"]),
}


@pytest.mark.parametrize("reader", sorted(REFERENCE_READERS))
def test_a_reward_that_reads_references_refuses_rows_without_one_at_set_up(tmp_path: Path, reader: str) -> None:
    overrides, named = REFERENCE_READERS[reader]
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"Question {i}?"}]} for i in range(4)]
    data = tmp_path / "no_refs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir = tmp_path / "run"
    result = run_train(*overrides, f"data.path={data}", "grpo.max_steps=1", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert f"{data}: 4 of 4 rows have no reference_answer" in output
    assert all(part in output for part in named), output[-3000:]
    assert not run_dir.exists()
