"""Per-row rubrics as a user's data brings them: a Nova JSONL (``rubric`` at the root or under ``metadata``), a
CSV cell of JSON text, a parquet column (``data.columns.rubric``). Rows load and each row's rubric reaches the
reward; a bad rubric is an exit 2 of ``python -m rlaif.train`` at set-up naming the file, the line (or row) and
the column, with no run folder left behind.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rlaif.data.loaders import load_prompts
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.row_rubric import RowRubricReward
from tests._entry_point import run_train
from tests.rewards.scripted import fenced, scripted_judge, user_text, yes_no

QUESTION = "How many legs does a spider have?"
RUBRIC: list[Any] = [  # RaR, a HealthBench pitfall, a plain string: positive points 5 + 1 = 6
    {"title": "Count", "description": "The answer says eight.", "weight": 5},
    {"criterion": "The answer says six.", "points": -3, "tags": ["axis:accuracy"]},
    "The answer is short.",
]
ANSWERS = {"Eight.": 1.0, "Eight legs, not six.": 0.5, "Six.": 0.0}  # (5 + 1), (5 - 3 + 1), (-3 + 1 clipped) / 6


def _judge(request: JudgeRequest) -> TransportResult:
    """Met when the item's key word is in the answer ("short": under five words)."""
    answer, item = fenced(request).lower(), user_text(request).rsplit("?", 1)[-1]
    if "short" in item:
        return yes_no(1.0 if len(answer.split()) < 5 else 0.0)
    word = re.search(r"says (\w+)\.", item)
    assert word, item
    return yes_no(1.0 if word.group(1) in answer else 0.0)


def _scores(dataset: Any) -> list[float | None]:
    """Each answer of ANSWERS to the first row, scored as TRL calls the reward with the row's columns."""
    judge, _ = scripted_judge(_judge)
    row = dataset[0]
    n = len(ANSWERS)
    return asyncio.run(
        RowRubricReward(judge)(
            [row["prompt"]] * n,
            [[{"role": "assistant", "content": a}] for a in ANSWERS],
            reference_answer=[row["reference_answer"]] * n,
            extra=[row["extra"]] * n,
            id=[row["id"]] * n,
        )
    )


def _nova(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _row(rid: str, **fields: Any) -> dict[str, Any]:
    return {"id": rid, "messages": [{"role": "user", "content": QUESTION}], **fields}


@pytest.mark.parametrize(
    "fields", [{"rubric": RUBRIC}, {"metadata": {"rubric": RUBRIC, "reference_answer": "Eight."}}], ids=["root", "meta"]
)
def test_a_nova_jsonl_rubric_reaches_the_reward(tmp_path: Path, fields: dict[str, Any]) -> None:
    dataset = load_prompts(str(_nova(tmp_path / "rows.jsonl", [_row("q1", **fields)])), shuffle=False)
    assert _scores(dataset) == pytest.approx(list(ANSWERS.values()))


def test_a_nova_jsonl_field_of_another_name_is_mapped_onto_rubric(tmp_path: Path) -> None:
    path = _nova(tmp_path / "rows.jsonl", [_row("q1", metadata={"criteria": RUBRIC})])
    dataset = load_prompts(str(path), shuffle=False, columns={"rubric": "criteria"})
    assert _scores(dataset) == pytest.approx(list(ANSWERS.values()))


def test_a_csv_cell_of_json_text_reaches_the_reward(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "rows.csv"
    pd.DataFrame({"question": [QUESTION], "items": [json.dumps(RUBRIC)]}).to_csv(path, index=False)
    dataset = load_prompts(str(path), shuffle=False, columns={"prompt": "question", "rubric": "items"})
    assert _scores(dataset) == pytest.approx(list(ANSWERS.values()))


@pytest.mark.parametrize("as_text", [False, True], ids=["structs", "json_text"])
def test_a_parquet_column_reaches_the_reward(tmp_path: Path, as_text: bool) -> None:
    import pandas as pd

    # A native column must be one Arrow type: RaR structs only (the weight as a float); or the mixed list as text.
    rar = [{"title": "Count", "description": "The answer says eight.", "weight": 5.0}]
    rar.append({"title": "Wrong", "description": "The answer says six.", "weight": -3.0})
    rar.append({"title": "Short", "description": "The answer is short.", "weight": 1.0})
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"question": [QUESTION], "items": [json.dumps(RUBRIC) if as_text else rar]}).to_parquet(path)
    dataset = load_prompts(str(path), shuffle=False, columns={"prompt": "question", "rubric": "items"})
    assert _scores(dataset) == pytest.approx(list(ANSWERS.values()))


def _csv(path: Path, cell: str) -> Path:
    import pandas as pd

    good = json.dumps(RUBRIC)
    pd.DataFrame({"question": [QUESTION, "Why is the sky blue?"], "items": [good, cell]}).to_csv(path, index=False)
    return path


def _parquet(path: Path, cell: str) -> Path:
    import pandas as pd

    good = json.dumps(RUBRIC)
    pd.DataFrame({"question": [QUESTION, "Why is the sky blue?"], "items": [good, cell]}).to_parquet(path)
    return path


MAPPED = ("data.columns.prompt=question", "data.columns.rubric=items")


@pytest.mark.parametrize(
    ("name", "write", "mapped", "message"),
    [
        ("rows.jsonl", lambda p: _nova(p, [_row("q1", rubric=RUBRIC), _row("q2")]), (),
         "{path}:2: the row has no 'rubric' field"),
        ("rows.csv", lambda p: _csv(p, json.dumps([{"criterion": "c", "points": "lots", "tags": []}])), MAPPED,
         "{path} (row id 'rows-1', column 'items', data.columns.rubric): rubric[0].points: expected a number, "
         "got 'lots'"),
    ],
    ids=["no_rubric", "csv_weight"],
)  # fmt: skip
def test_a_bad_rubric_exits_2_at_set_up_naming_file_line_and_column(
    tmp_path: Path, name: str, write: Any, mapped: tuple[str, ...], message: str
) -> None:
    path = write(tmp_path / name)
    run_dir = tmp_path / "run"
    result = run_train("reward=row_rubric", f"data.path={path}", *mapped, f"hydra.run.dir={run_dir}", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and f"rlaif: {message.format(path=path)}" in errors[0], output[-3000:]
    assert "Traceback" not in output and not run_dir.exists()


@pytest.mark.parametrize(
    ("name", "write", "columns", "message"),
    [
        ("rows.jsonl", lambda p: _nova(p, [_row("q1", rubric=RUBRIC), _row("q2", metadata={"rubric": []})]), None,
         "{path}:2: rubric: the rubric is empty"),
        ("rows.jsonl", lambda p: _nova(p, [_row("q1", rubric=["ok", {"question": "", "weight": 1}])]), None,
         "{path}:1: rubric[1].question: an item with no text"),
        ("rows.parquet", lambda p: _parquet(p, json.dumps([{"criterion": "c", "points": -1, "tags": []}])),
         {"prompt": "question", "rubric": "items"},
         "{path} (row id 'rows-1', column 'items', data.columns.rubric): rubric: no item has positive points"),
    ],
    ids=["empty", "no_text", "parquet_no_points"],
)  # fmt: skip
def test_the_set_up_check_names_every_kind_of_bad_rubric(
    tmp_path: Path, name: str, write: Any, columns: dict[str, str] | None, message: str
) -> None:
    # The same check as the two entry-point cases above (exit 2, nothing left behind), without a process each.
    from rlaif.errors import RubricError
    from rlaif.runs.config_checks import check_rows

    path = write(tmp_path / name)
    judge, _ = scripted_judge(_judge)
    with pytest.raises(RubricError) as caught:
        check_rows(RowRubricReward(judge), load_prompts(str(path), columns=columns), str(path), columns)
    assert str(caught.value).startswith(message.format(path=path))
