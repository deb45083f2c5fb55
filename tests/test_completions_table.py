"""Each step's answers with the judge's rationales reach TensorBoard as a text table (CompletionsTable)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlaif.runs.run_record import CompletionsTable
from tests._entry_point import SMALL, run_train


def line(step: int, k: int, **extra: object) -> str:
    row = {"step": step, "prompt": f"Question {k}?", "completion": f"Answer {k} | with a pipe\nand a newline",
           "score": 0.25 * k, "verdicts": {"polite": 0.75}, "rationale": {"polite": f"P(yes)=0.7{k}"},
           "error": None}  # fmt: skip
    return json.dumps(row | extra) + "\n"


def texts(log_dir: Path) -> dict[int, str]:
    """Step -> the ``completions`` text written under ``log_dir``, read back as TensorBoard reads it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    tag = next(t for t in events.Tags()["tensors"] if t.startswith("completions"))
    return {e.step: e.tensor_proto.string_val[0].decode() for e in events.Tensors(tag)}


def test_each_log_writes_the_answers_since_the_last_one_with_their_rationales(tmp_path: Path) -> None:
    rewards = tmp_path / "rewards.jsonl"
    table = CompletionsTable(tmp_path)
    args = SimpleNamespace(report_to=["tensorboard"], num_completions_to_print=None)
    rewards.write_text(line(0, 1) + line(0, 2))
    table.on_log(args, SimpleNamespace(is_world_process_zero=True, global_step=1), None, logs={"loss": 0.0})
    with rewards.open("a") as handle:
        handle.write(line(1, 3, score=None, verdicts={}, rationale={}, error="HTTP 500"))
        # A per-row rubric's verdicts: each item with its points and P(met).
        items = {
            "i0": {"text": "Rests.", "points": 5.0, "met": 0.62},
            "i1": {"text": "Rude.", "points": -3, "met": 0.1},
        }
        handle.write(line(1, 4, verdicts=items) + '{"step": 1, "pro')
    table.on_log(args, SimpleNamespace(is_world_process_zero=True, global_step=2), None, logs={"loss": 0.0})
    table.on_train_end(args, None, None)
    written = texts(tmp_path / "runs" / "completions")
    assert sorted(written) == [1, 2]
    assert "P(yes)=0.71" in written[1] and "P(yes)=0.72" in written[1] and "Question 3" not in written[1]
    assert "Answer 1 \\| with a pipe and a newline" in written[1]  # one row per answer, the table intact
    assert "HTTP 500" in written[2] and "| none |" in written[2]  # a failed verdict: its error, no score
    assert "| i0 (+5) 0.62 Rests., i1 (-3) 0.10 Rude. |" in written[2]
    assert "Question 1" not in written[2]  # a line half-written at the log waits for the next one


def test_rows_are_capped_and_nothing_is_written_without_tensorboard(tmp_path: Path) -> None:
    (tmp_path / "rewards.jsonl").write_text("".join(line(0, k) for k in range(5)))
    state = SimpleNamespace(is_world_process_zero=True, global_step=1)
    CompletionsTable(tmp_path).on_log(SimpleNamespace(report_to=["wandb"], num_completions_to_print=None), state, None)
    assert not (tmp_path / "runs").exists()
    capped = CompletionsTable(tmp_path)
    capped.on_log(SimpleNamespace(report_to=["tensorboard"], num_completions_to_print=2), state, None)
    capped.on_train_end(None, None, None)
    text = texts(tmp_path / "runs" / "completions")[1]
    assert "Question 1" in text and "Question 2" not in text and text.count("\n") == 3  # header, rule, 2 rows


@pytest.mark.slow
def test_trls_completions_table_for_wandb_carries_the_rationale_through_the_real_entry_point(tmp_path: Path) -> None:
    # TRL logs to W&B / Trackio exactly the table it saves as parquet: the rationale column must be in it.
    import pandas as pd

    run_dir = tmp_path / "run"
    args = (*SMALL, "grpo.max_steps=1", "grpo.log_completions=true", f"hydra.run.dir={run_dir}")
    result = run_train(*args, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    (parquet,) = (run_dir / "completions").glob("*.parquet")
    table = pd.read_parquet(parquet)
    assert "rubric_on_topic_rationale" in table.columns and len(table) == 4  # every answer of the step
    lines = [json.loads(x) for x in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert all(any(k in why for k in ("P(", "gate", "error", "judge")) for why in table["rubric_on_topic_rationale"])
    scores = sorted(-1 if x["score"] is None else x["score"] for x in lines)
    assert sorted(table["rubric_on_topic"].fillna(-1)) == pytest.approx(scores, abs=1e-6)  # TRL keeps float32
