"""``rlaif.judge_eval`` on sets of per-row rubric items (reward=row_rubric): rows of one item each, asked as
training asks it; the numbers with a scripted judge (exact), the shipped set, and the real entry point with the
packaged local judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import ConfigError, DataError
from rlaif.evaluation import stats as st
from rlaif.evaluation.judge_eval_run import run_judge_eval
from rlaif.evaluation.judge_eval_settings import DEFAULT_THRESHOLDS
from rlaif.evaluation.labelled_sets import check_compatible, load_labelled, row_item
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.prompts.row_rubric import item_request
from rlaif.rewards.row_rubric import RowRubricReward
from rlaif.rewards.row_rubric_spec import parse_item
from rlaif.rewards.rubric import RubricReward
from tests.rewards.scripted import fenced, scripted_judge, text_reply, user_text, yes_no
from tests.test_judge_eval import RUBRIC, items, judge_eval, point, write_jsonl

NO_EXTRAS = {"audit": {"enabled": False}, "repeats": {"k": 1}, "bootstrap": {"resamples": 200}}
POLITE = {"title": "Polite", "description": "Essential Criteria: The answer is polite.", "weight": 5}
LONG = {"title": "Too long", "description": "Pitfall Criteria: The answer is long.", "weight": -5}
NEMO = {"question": "Is the answer long?", "pass_criteria": "NO", "weight": 5}
HEALTH = {"criterion": "Says the right number.", "points": 3, "tags": ["axis:accuracy"]}


def item_row(i: int, response: str, item: Any, met: bool) -> dict[str, Any]:
    return {"id": f"r{i}", "prompt": f"Question {i}?", "response": response, "item": item, "met": met}


# The judge below says yes (0.9) to an answer with GOOD in it and 0.2 otherwise, whatever it is asked.
ROWS = [
    item_row(0, "GOOD answer", POLITE, True),  # 0.9: right
    item_row(1, "bad answer", POLITE, False),  # 0.2: right
    item_row(2, "GOOD long answer", LONG, True),  # a pitfall, met: 0.9, right
    item_row(3, "short answer", LONG, False),  # a pitfall, not met: 0.2, right
    item_row(4, "GOOD answer", NEMO, False),  # met on "no": P(met) = 0.1, right
    item_row(5, "GOOD but wrong", HEALTH, False),  # 0.9: wrong
    item_row(6, "terse and right", "The answer is short.", True),  # 0.2: wrong
]


def says_good(request: JudgeRequest) -> TransportResult:
    return yes_no(0.9 if "GOOD" in fenced(request) else 0.2)


def evaluate(tmp_path: Path, rows: list[Any], reward: Any, **settings: Any) -> Any:
    labelled = write_jsonl(tmp_path / "items.jsonl", rows)
    thresholds = {**dict.fromkeys(DEFAULT_THRESHOLDS), **settings.pop("thresholds", {})}
    config = {"labelled": str(labelled), **NO_EXTRAS, "thresholds": thresholds, **settings}
    result = run_judge_eval(config, reward, tmp_path / "out")
    reward.judge.close()
    return result


def test_item_numbers_pitfalls_apart_and_the_word_count_baseline(tmp_path: Path) -> None:
    judge, transport = scripted_judge(says_good)
    result = evaluate(tmp_path, ROWS, RowRubricReward(judge), thresholds={"min_kappa": 0.4, "min_auc": 0.8})
    s = result.summary
    assert s["set_kind"] == "item" and s["n"] == 7 and s["parse_failure_rate"] == 0.0 and s["soft_scores"]
    assert [line["score"] for line in items(result.out_dir)] == pytest.approx([0.9, 0.2, 0.9, 0.2, 0.1, 0.9, 0.2])
    # labels T F T F F F T, predictions T F T F F T F: po 5/7, pe (3/7)^2 + (4/7)^2 = 25/49 -> kappa 5/12.
    assert s["agreement"] == pytest.approx(5 / 7) and s["kappa"] == pytest.approx(5 / 12)
    # AUC over the 12 (met, not met) pairs, ties 1/2: r0 and r2 win 3.5 each, r6 wins 2 -> 9/12.
    assert s["auc"] == pytest.approx(0.75)
    words = [-float(len(r["response"].split())) for r in ROWS]
    assert s["word_count_auc"] == pytest.approx(st.roc_auc([r["met"] for r in ROWS], words))
    polarity = s["breakdowns"]["polarity"]
    assert polarity["pitfall"]["n"] == 2 and polarity["pitfall"]["agreement"] == 1.0
    assert polarity["positive"]["n"] == 5 and polarity["positive"]["agreement"] == pytest.approx(3 / 5)
    # The gate: kappa 5/12 passes 0.4, AUC 0.75 fails 0.8.
    assert result.failures == ["auc 0.750 < min_auc 0.8"]
    assert "## By polarity" in (result.out_dir / "report.md").read_text()
    # One request per row, and each is the very request training sends for that item (a pitfall too).
    assert len(transport.requests) == len(ROWS)
    for row, sent in zip(ROWS, transport.requests, strict=True):
        asked = item_request(parse_item(row["item"], "test"), row["prompt"], row["response"], None)
        assert sent.messages == asked.messages


def test_json_mode_grades_a_one_item_rubric(tmp_path: Path) -> None:
    def verdict(request: JudgeRequest) -> TransportResult:
        assert "- i0: " in user_text(request) and "- i1" not in user_text(request)
        return text_reply(json.dumps({"i0": {"reason": "r", "pass": "GOOD" in fenced(request)}}))

    judge, transport = scripted_judge(verdict)
    result = evaluate(tmp_path, ROWS[:4], RowRubricReward(judge, mode="json"))
    assert [line["score"] for line in items(result.out_dir)] == [1.0, 0.0, 1.0, 0.0]
    assert result.summary["agreement"] == 1.0 and result.summary["soft_scores"] is False
    assert len(transport.requests) == 4


def test_a_judge_failure_is_an_unscored_item(tmp_path: Path) -> None:
    judge, _ = scripted_judge(lambda r: text_reply("maybe") if "bad" in fenced(r) else says_good(r))
    result = evaluate(tmp_path, ROWS[:2], RowRubricReward(judge))
    assert [line["score"] for line in items(result.out_dir)] == [pytest.approx(0.9), None]
    assert result.summary["parse_failure_rate"] == 0.5


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({**ROWS[1], "met": "yes"}, ":2: 'met' must be true or false, got 'yes'"),
        ({**ROWS[1], "item": {"name": "x"}}, ":2: item: not a rubric item (keys ['name'])"),
        ({**ROWS[1], "item": {**LONG, "weight": "heavy"}}, ":2: item.weight: expected a number"),
        ({k: v for k, v in ROWS[1].items() if k != "met"}, ":2: missing required field 'met'"),
        (point(1, "x", "pass"), ":2: a pointwise row in a set whose first row is not (it is item)"),
    ],
)
def test_bad_item_rows_name_file_and_line(tmp_path: Path, bad: dict[str, Any], expected: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [ROWS[0], bad])
    with pytest.raises(DataError) as info:
        load_labelled(str(path))
    assert f"{path}{expected}" in str(info.value)


def test_item_sets_need_the_row_rubric_reward_and_it_needs_them(tmp_path: Path) -> None:
    item_set = load_labelled(str(write_jsonl(tmp_path / "items.jsonl", ROWS)))
    point_set = load_labelled(str(write_jsonl(tmp_path / "points.jsonl", [point(0, "x", "pass")])))
    judge, _ = scripted_judge(says_good)
    with pytest.raises(ConfigError, match="is a set of rubric items: use reward=row_rubric"):
        check_compatible(item_set, RubricReward(judge, RUBRIC))
    with pytest.raises(ConfigError, match="is a pointwise set: use a rubric reward"):
        check_compatible(point_set, RowRubricReward(judge))
    check_compatible(item_set, RowRubricReward(judge))


def test_the_shipped_item_set_is_as_described() -> None:
    labelled = load_labelled("packaged:everyday_items")
    assert labelled.kind == "item" and len(labelled.rows) >= 60
    shapes = {row_item(r).shape for r in labelled.rows}
    assert shapes == {"rar", "healthbench", "nemo", "text"}
    for split in ("dev", "test"):
        rows = [r for r in labelled.rows if r["split"] == split]
        for pitfall in (True, False):  # met and not met among both pitfall and positive items, in both splits
            mets = {r["met"] for r in rows if row_item(r).pitfall == pitfall}
            assert mets == {True, False}, (split, pitfall)
    questions = [{r["prompt"] for r in labelled.rows if r["split"] == s} for s in ("dev", "test")]
    assert not questions[0] & questions[1]  # no question is both tuned on and reported on


def test_local_judge_grades_items_end_to_end(tmp_path: Path) -> None:
    shipped = load_labelled("packaged:everyday_items").rows
    rows = [r for r in shipped if r["kind"] in ("length", "polite")][:4]
    data = write_jsonl(tmp_path / "items.jsonl", rows)
    out = tmp_path / "out"
    result = judge_eval(
        f"labelled={data}",
        "reward=row_rubric",
        "split=all",
        "repeats.k=1",
        "thresholds.min_auc=null",
        f"hydra.run.dir={out}",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "4 rubric items" in result.stdout and "by polarity" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["set_kind"] == "item" and summary["judge"]["identity"].startswith("local:")
    assert summary["judge"]["requests"] == 4 and summary["parse_failure_rate"] == 0.0
    assert set(summary["breakdowns"]["polarity"]) == {"pitfall", "positive"}
    assert all(0.0 < line["score"] < 1.0 for line in items(out))  # P(met) from the judge's log-probabilities
