"""A resume cuts the run folder's per-step logs back to its checkpoint (rlaif/runs/resume_logs.py).

The whole path (kill -9 between two checkpoints, resume=auto, every log and TensorBoard read back) is
tests/test_train_faults.py::test_sigkill_then_resume_completes_and_replays_from_the_cache; these pin the rules on
files laid out by hand: TRL's step numbers in every file (and an older folder's renumbered), what is never
touched, a crash during the cut.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rlaif.runs import resume_logs
from rlaif.runs.config_checks import resolve_resume
from rlaif.runs.resume_logs import hide_steps_from


def write(path: Path, steps: list[object], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"step": s, "n": i}) + "\n" for i, s in enumerate(steps)) + tail)


def steps(path: Path) -> list[object]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def _killed_run(run: Path, during: int) -> Path:
    """A run killed during step 5 with checkpoints after steps 2 and (cut short, no trainer_state.json) 4. The files
    written while a step runs number it ``during`` less than TRL: 0 now, 1 in a folder from before that rule."""
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"global_step": 2, "log_history": []}))
    (run / "checkpoint-4").mkdir()
    if not during:
        (run / "run_info.json").write_text(json.dumps({"started_at": 1.0, "step_numbering": "trl"}))
    write(run / "metrics.jsonl", [1, 2, 3, 4])  # written when a step is done: TRL's number
    write(run / "step_timing.jsonl", [1.0, 2.0, 3.0, 4.0])

    def per_step(numbers: list[object]) -> list[object]:
        return [n - during if isinstance(n, int) else n for n in numbers]

    # A row without a step is kept; the kill cut the last line short.
    write(run / "rewards.jsonl", per_step([1, 1, None, 2, 2, 3, 3, 4]), tail='{"step": 5, "prom')
    write(run / "monitor.jsonl", per_step([1, 2, 3, 4]))
    write(run / "canaries.jsonl", per_step([1]))
    write(run / "alarms.jsonl", per_step([2, 3]))
    write(run / "monitor_judge" / "rewards.jsonl", per_step([1, 2, 3, 4]))
    write(run / "rewards.rank1.jsonl", per_step([1, 2, 3, 4]))  # process 1's own: process 1 cuts it
    write(run / "notes.jsonl", [0, 1, 2, 3])  # not rlaif's
    return run


@pytest.fixture
def killed_run(tmp_path: Path) -> Path:
    return _killed_run(tmp_path / "run", during=0)


@pytest.mark.parametrize("during", [0, 1], ids=["trl-numbers", "older-folder"])
def test_a_resume_keeps_each_logs_rows_up_to_its_checkpoint_and_nothing_else(tmp_path: Path, during: int) -> None:
    """Every file keeps the rows of steps 1-2 (checkpoint-2's), in TRL's numbers: an older folder's files written
    while a step ran are renumbered and the folder marked, so the resumed run appends to files of one numbering."""
    killed_run = _killed_run(tmp_path / "run", during)
    checkpoint = resolve_resume("auto", killed_run)

    assert checkpoint == str(killed_run / "checkpoint-2")
    assert steps(killed_run / "metrics.jsonl") == [1, 2]
    assert steps(killed_run / "step_timing.jsonl") == [1.0, 2.0]
    assert steps(killed_run / "rewards.jsonl") == [1, 1, None, 2, 2]  # the cut-short line is gone with step 5
    assert (killed_run / "rewards.jsonl").read_text().endswith("\n")  # the resumed run's first row starts a line
    assert steps(killed_run / "monitor.jsonl") == [1, 2]
    assert steps(killed_run / "canaries.jsonl") == [1]
    assert steps(killed_run / "alarms.jsonl") == [2]
    assert steps(killed_run / "monitor_judge" / "rewards.jsonl") == [1, 2]
    assert steps(killed_run / "rewards.rank1.jsonl") == [1 - during, 2 - during, 3 - during, 4 - during]  # not ours
    assert steps(killed_run / "notes.jsonl") == [0, 1, 2, 3]
    assert json.loads((killed_run / "run_info.json").read_text())["step_numbering"] == "trl"
    assert [json.loads(x)["n"] for x in (killed_run / "rewards.jsonl").read_text().splitlines()] == [0, 1, 2, 3, 4]
    assert not [p for p in killed_run.rglob(".*") if p.is_file()]  # no temporary file left
    resolve_resume("auto", killed_run)  # a second resume from the same checkpoint: nothing renumbered twice
    assert steps(killed_run / "rewards.jsonl") == [1, 1, None, 2, 2] and steps(killed_run / "alarms.jsonl") == [2]


def test_a_fresh_start_cuts_nothing_and_a_cut_file_is_not_rewritten(killed_run: Path) -> None:
    before = (killed_run / "metrics.jsonl").read_text()
    assert resolve_resume(None, killed_run) is None
    assert (killed_run / "metrics.jsonl").read_text() == before

    canaries = killed_run / "canaries.jsonl"
    inode = canaries.stat().st_ino
    resolve_resume("auto", killed_run)
    assert canaries.stat().st_ino == inode  # nothing of it to cut: the file is left as it was


def test_a_crash_during_the_cut_leaves_the_whole_old_file(killed_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (killed_run / "metrics.jsonl").read_text()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")  # as the process dying between writing the cut copy and renaming it

    monkeypatch.setattr(resume_logs.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        resolve_resume("auto", killed_run)
    assert (killed_run / "metrics.jsonl").read_text() == before
    assert not [p for p in killed_run.rglob(".*") if p.is_file()]

    monkeypatch.undo()  # the next resume cuts it
    resolve_resume("auto", killed_run)
    assert steps(killed_run / "metrics.jsonl") == [1, 2]


def test_tensorboard_shows_the_resumed_runs_values_of_the_replayed_steps_after_each_resume(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
    from torch.utils.tensorboard import SummaryWriter

    def write_steps(first: int, scale: int) -> None:  # as TRL's writer and the completions table write
        writer = SummaryWriter(log_dir=str(tmp_path))
        for step in range(first, 7):
            writer.add_scalar("train/reward", scale * step, step)
        writer.close()
        time.sleep(1)  # event files are named by the second they were opened in, and read in name order

    write_steps(1, 1)  # the first run, killed after step 4 (written to 6 here)
    hide_steps_from(tmp_path, 3)  # resumed after step 2
    write_steps(3, 10)
    hide_steps_from(tmp_path, 5)  # killed again, resumed after step 4
    write_steps(5, 100)
    expected = [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0), (5, 500.0), (6, 600.0)]

    server = plugin_event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    server.Reload()  # TensorBoard's own reader: it ignores a run's first START, so one purge_step alone shows all
    assert [(e.step, e.tensor_proto.float_val[0]) for e in server.Tensors("train/reward")] == expected
    older = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    older.Reload()
    assert [(e.step, e.value) for e in older.Scalars("train/reward")] == expected
