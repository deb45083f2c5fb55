"""``python -m rlaif.train reward=row_rubric`` end to end with the packaged policy and judge (``debug=smoke``): the
baseline step, every step's rewards.jsonl, TensorBoard's completions table and the run report all take each row's
own rubric items, and so does the judged monitor's second judge (the baseline step, the completions table and the
second judge used to fail on them)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

try:  # tests/ as a package or as rootdir-relative modules: either pytest import mode works
    from tests._entry_point import run_train
except ImportError:  # pragma: no cover
    from _entry_point import run_train  # type: ignore[no-redef]

RUBRICS = {
    "legs": ("How many legs does a spider have?", ["The answer says eight."]),
    "colour": ("Name a primary colour.", [{"title": "Colour", "description": "The answer names red.", "weight": 2}]),
    "capital": (
        "What is the capital of Japan?",
        [
            {"title": "City", "description": "The answer names Tokyo.", "weight": 5},
            {"criterion": "The answer names Kyoto.", "points": -2, "tags": []},
        ],
    ),
    "sum": ("What is 2 + 2?", [{"question": "Does the answer say four?", "pass_criteria": "YES", "weight": 1}]),
}


def _item_texts(rubric: list[object]) -> list[str]:
    keys = ("description", "criterion", "question")
    return [r if isinstance(r, str) else next(r[k] for k in keys if k in r) for r in rubric]  # type: ignore[index,operator]


@pytest.mark.slow
def test_a_smoke_run_grades_every_answer_against_its_rows_items(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": rid, "messages": [{"role": "user", "content": q}], "metadata": {"rubric": r}}) + "\n"
            for rid, (q, r) in RUBRICS.items()
        )
    )
    run_dir = tmp_path / "run"
    result = run_train(
        "reward=row_rubric", f"data.path={data}", "debug=smoke", "canaries=off", f"hydra.run.dir={run_dir}",
        "+judge@monitor.judge=local", "monitor.judge_sample=4",  # the judged monitor grades with the rows' items too
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    baseline = json.loads((run_dir / "baseline.json").read_text())
    assert baseline["prompts"] == baseline["scored"] == 2 and baseline["failures"] == 0
    lines = [json.loads(x) for x in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and all(line["score"] is not None for line in lines)
    for line in lines:  # each answer's items are its own row's, in order
        items = line["verdicts"]
        assert [v["text"] for v in items.values()] == _item_texts(RUBRICS[line["prompt_id"]][1])
        assert list(items) == [f"i{k}" for k in range(len(items))] and all(0 <= v["met"] <= 1 for v in items.values())
    monitor = [json.loads(x) for x in (run_dir / "monitor.jsonl").read_text().splitlines()]
    assert [(m["second_judge_failures"], m["judge_agreement"] is not None) for m in monitor] == [(0.0, True)] * 2
    assert all(m["second_judge_requests"] > 0 for m in monitor)
    assert list((run_dir / "runs" / "completions").glob("events.out.tfevents.*"))  # the table was written
    page = (run_dir / "report.html").read_text()
    options = re.findall(r'<select class="criterion">(.*?)</select>', page)[0]
    assert "<option>i0</option>" not in options
    first = _item_texts(RUBRICS[lines[0]["prompt_id"]][1])[0]
    assert page.count('data-testid="row-items"') == len(re.findall(r'data-kind="', page)) and html.escape(first) in page
