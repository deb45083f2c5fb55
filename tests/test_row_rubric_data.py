"""The shipped per-row rubric example (data=everyday_rubrics, experiment=cpu_row_rubric): its rows parse and pass the
set-up check, its held-out questions are unseen, and the experiment trains end to end through the entry point."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from rlaif.data.loaders import load_prompts
from rlaif.data.packaged import resolve
from rlaif.errors import RubricError
from rlaif.judges.base import Judge
from rlaif.rewards.row_rubric import RowRubricReward, row_rubric_of
from rlaif.rewards.row_rubric_spec import parse_row_rubric
from rlaif.runs.config_checks import check_rows
from tests._entry_point import run_train
from tests.rewards.scripted import ScriptedTransport, yes_no

PREFIXES = ("Essential Criteria: ", "Important Criteria: ", "Optional Criteria: ", "Pitfall Criteria: ")


def _data_config() -> dict:
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=cpu_row_rubric"])
    assert cfg.reward._target_ == "rlaif.rewards.row_rubric.RowRubricReward"
    assert cfg.judge_eval.labelled == "packaged:everyday_items"  # preflight=true: a set this reward can grade
    assert cfg.monitor.length_in_rubric is True  # every row's rubric asks about length
    return {k: v for k, v in dict(cfg.data).items() if k != "seed"}


def _reward() -> RowRubricReward:
    return RowRubricReward(Judge(ScriptedTransport(lambda r: yes_no(0.5)), {"cache": False}))


def _questions(rows: object) -> set[str]:
    return {m[-1]["content"] for m in rows["prompt"]}  # type: ignore[index]


def test_the_shipped_rows_pass_the_set_up_check_and_the_held_out_questions_are_unseen() -> None:
    data = _data_config()
    train = load_prompts(**{**data, "eval_path": None, "limit": None})
    held_out = load_prompts(path=data["eval_path"], shuffle=False)
    assert len(train) >= 48 and len(held_out) >= 16
    check_rows(_reward(), train, data["path"], data["columns"])
    check_rows(_reward(), held_out, data["eval_path"], data["columns"])
    assert not _questions(train) & _questions(held_out)
    shapes = set()
    for extra in [*train["extra"], *held_out["extra"]]:
        rubric = row_rubric_of(extra, "row")
        assert 3 <= len(rubric.items) <= 5 and any(i.pitfall or i.met_on == "no" for i in rubric.items)
        shapes |= {i.shape for i in rubric.items}
        for item in rubric.items:
            assert item.shape != "rar" or item.text.startswith(PREFIXES), item.text
            assert item.shape != "rar" or (item.points < 0) == item.text.startswith("Pitfall"), item.text
    assert shapes == {"rar", "healthbench", "nemo", "text"}  # the shapes mix, in one file


def test_a_broken_shipped_style_row_is_refused_naming_its_line(tmp_path: Path) -> None:
    data = _data_config()
    rows = resolve("prompts", data["path"]).read_text().splitlines()[:3]
    broken = json.loads(rows[1]) | {"rubric": [{"title": "x", "description": "Pitfall Criteria: y", "weight": -5}]}
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join([rows[0], json.dumps(broken), rows[2]]) + "\n")
    with pytest.raises(RubricError, match=f"{path}:2.*no item has positive points"):
        check_rows(_reward(), load_prompts(path=str(path)), str(path))


@pytest.mark.slow
def test_cpu_row_rubric_trains_end_to_end(tmp_path: Path) -> None:
    """The baseline, the reward, the canaries (on packaged:everyday_items), the judged monitor's second judge,
    TensorBoard's completions table and the run report all take the rows' own rubrics: two smoke steps with the
    packaged policy and judge (the baseline step, the table and the second judge used to fail on them)."""
    run_dir = tmp_path / "run"
    result = run_train(
        "experiment=cpu_row_rubric", "debug=smoke", f"hydra.run.dir={run_dir}",
        "+judge@monitor.judge=local", "monitor.judge_sample=4",  # the judged monitor grades with the rows' items too
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    baseline = json.loads((run_dir / "baseline.json").read_text())
    assert baseline["scored"] == baseline["prompts"] == 2
    lines = [json.loads(x) for x in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and all(x["score"] is not None and 0.0 <= x["score"] <= 1.0 for x in lines)
    rubrics = {
        json.loads(row)["id"]: json.loads(row)["rubric"]
        for row in resolve("prompts", "packaged:everyday_rubrics").read_text().splitlines()
    }
    judged = [line for line in lines if line["judged"]]  # the others failed the on-topic gate: no items asked
    assert judged
    for line in judged:  # each answer's items are its own row's, in order
        items = line["verdicts"]
        assert [v["text"] for v in items.values()] == [
            i.text for i in parse_row_rubric(rubrics[line["prompt_id"]], "r").items
        ]
        assert list(items) == [f"i{k}" for k in range(len(items))] and all(0 <= v["met"] <= 1 for v in items.values())
    points = {v["points"] for x in judged for v in x["verdicts"].values()}
    assert {5.0, 8.0, -2.0} <= points  # the rows' own items: politeness, "Is the answer long?", the pitfall
    (check,) = [json.loads(x) for x in (run_dir / "canaries.jsonl").read_text().splitlines()]
    assert check["parse_failure_rate"] == 0.0 and check["auc"] is not None and check["judge_requests"] == 8.0
    monitor = [json.loads(x) for x in (run_dir / "monitor.jsonl").read_text().splitlines()]
    assert [(m["second_judge_failures"], m["judge_agreement"] is not None) for m in monitor] == [(0.0, True)] * 2
    assert all(m["second_judge_requests"] > 0 for m in monitor)
    assert list((run_dir / "runs" / "completions").glob("events.*"))  # the table of item verdicts was written
    page = (run_dir / "report.html").read_text()
    options = re.findall(r'<select class="criterion">(.*?)</select>', page)[0]
    assert "<option>i0</option>" not in options  # item ids mean nothing across rows: not a criterion filter
    first = next(iter(judged[0]["verdicts"].values()))["text"]
    assert page.count('data-testid="row-items"') >= 1 and html.escape(first) in page  # each answer's own items
