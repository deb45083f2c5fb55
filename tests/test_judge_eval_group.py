"""``rlaif.judge_eval reward=group``: a listwise set (Kendall's tau against a known order) and the pairwise set
(G = 2), with a scripted judge that scores by a hidden quality tag, so every number is known exactly. The real
judge runs on the shipped sets in tests/integration/test_group_vllm.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import ConfigError, DataError
from rlaif.evaluation.judge_eval_outputs import terminal_summary
from rlaif.evaluation.judge_eval_run import run_judge_eval
from rlaif.evaluation.labelled_sets import check_compatible, load_labelled, select_split
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.group import GroupReward
from rlaif.rewards.rubric import RubricReward
from tests.rewards.scripted import scripted_judge, user_text

SETTINGS = {"audit": {"enabled": False}, "repeats": {"k": 1}, "bootstrap": {"resamples": 100}, "split": "all"}
_ANSWER = re.compile(r'Answer "([a-z]{3})":\n<answer>\n(.*?)\n</answer>', re.DOTALL)


def tagged(first_bonus: int = 0, broken: str = "") -> Any:
    """A judge scoring each answer by its ``qN`` tag (N = 0-10), plus ``first_bonus`` for the one listed first;
    a group whose question contains ``broken`` gets a reply without ids."""

    def script(request: JudgeRequest) -> TransportResult:
        text = user_text(request)
        if broken and broken in text:
            return TransportResult(text='{"rationale": "no ids", "score": 3}')
        shown = _ANSWER.findall(text)
        body = {
            i: {"rationale": "tag", "score": min(10, int(re.search(r"q(\d+)", t).group(1)) + first_bonus * (k == 0))}  # type: ignore[union-attr]
            for k, (i, t) in enumerate(shown)
        }
        return TransportResult(text=json.dumps(body))

    return script


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


LISTWISE = [
    # ranks agree with the tags: tau 1
    {"id": "g1", "prompt": "Q1?", "responses": ["q9 a", "q1 b", "q5 c", "q3 d"], "ranks": [1, 4, 2, 3], "kind": "x"},
    # two adjacent answers swapped: tau 4/6
    {"id": "g2", "prompt": "Q2?", "responses": ["q9 a", "q8 b", "q2 c", "q1 d"], "ranks": [2, 1, 3, 4], "kind": "x"},
    # the judge fails on this group
    {"id": "g3", "prompt": "Q3 broken?", "responses": ["q9 a", "q1 b"], "ranks": [1, 2], "kind": "y"},
]


def test_a_listwise_set_reports_kendall_tau_top1_and_the_orders_agreement(tmp_path: Path) -> None:
    judge, transport = scripted_judge(tagged(broken="broken"))
    reward = GroupReward(judge, instruction="Higher tags are better.")
    labelled = write_jsonl(tmp_path / "list.jsonl", LISTWISE)
    result = run_judge_eval({**SETTINGS, "labelled": str(labelled)}, reward, tmp_path / "out")
    s = result.summary
    assert s["set_kind"] == "listwise" and s["n"] == 3 and s["n_scored"] == 2
    assert s["kendall_tau"] == pytest.approx((1 + 4 / 6) / 2) and s["top1_accuracy"] == pytest.approx(0.5)
    assert s["order_agreement"] == pytest.approx(1.0) and s["parse_failure_rate"] == pytest.approx(1 / 3)
    assert s["breakdowns"]["kind"]["y"]["n_scored"] == 0
    assert s["thresholds"]["min_kendall_tau"]["status"] == "pass"
    assert s["thresholds"]["max_parse_failure_rate"]["status"] == "fail" and not result.passed
    assert s["thresholds"]["min_auc"]["status"] == "n/a" and s["thresholds"]["min_accuracy"]["status"] == "n/a"
    assert len(transport.requests) == 4 + 4 + 2 * 2  # cyclic: one request per rotation; the broken pair's retried
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert items[0]["score"] == pytest.approx(1.0) and items[0]["scores"][0] == pytest.approx([0.9] * 4)
    assert items[2]["score"] is None and "exactly once" in items[2]["error"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Kendall's τ (mean over groups) | 0.833" in report and "the orders' agreement" in report
    assert "Kendall's tau 0.833" in terminal_summary(s, tmp_path / "out")


def test_tau_per_group_matches_scipy_and_a_position_bias_shows_in_the_orders_agreement(tmp_path: Path) -> None:
    stats = pytest.importorskip("scipy.stats")
    rows = [
        {"id": "g1", "prompt": "Q1?", "responses": ["q6 a", "q5 b", "q5 c", "q2 d"], "ranks": [2, 1, 3, 4]},
        {"id": "g2", "prompt": "Q2?", "responses": ["q4 a", "q5 b", "q6 c"], "ranks": [1, 2, 3]},
    ]
    judge, _ = scripted_judge(tagged(first_bonus=4))
    result = run_judge_eval(
        {**SETTINGS, "labelled": str(write_jsonl(tmp_path / "l.jsonl", rows))},
        GroupReward(judge, instruction="x"),
        tmp_path / "out",
    )
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    for row, item in zip(rows, items, strict=True):
        means = [sum(s) / len(s) for s in item["scores"]]
        assert item["score"] == pytest.approx(stats.kendalltau(means, [-r for r in row["ranks"]]).statistic)
    assert result.summary["order_agreement"] < 1.0


def test_the_pairwise_set_gives_group_judging_with_two_answers_an_order_accuracy(tmp_path: Path) -> None:
    rows = [
        {"id": "p1", "prompt": "Q1?", "response_a": "q8 good", "response_b": "q2 bad", "preferred": "a"},
        {"id": "p2", "prompt": "Q2?", "response_a": "q3 meh", "response_b": "q7 fine", "preferred": "b"},
        {"id": "p3", "prompt": "Q3?", "response_a": "q5 x", "response_b": "q4 y", "preferred": "b"},  # judge wrong
    ]
    judge, transport = scripted_judge(tagged(first_bonus=2))
    result = run_judge_eval(
        {**SETTINGS, "labelled": str(write_jsonl(tmp_path / "p.jsonl", rows))},
        GroupReward(judge, instruction="x"),
        tmp_path / "out",
    )
    s = result.summary
    assert s["set_kind"] == "pairwise" and s["accuracy"] == pytest.approx(2 / 3)
    # p3: a is listed first once (5 + 2 vs 4) and second once (5 vs 4 + 2): the orders disagree, a tie.
    assert s["swap_consistency"] == pytest.approx(2 / 3) and len(transport.requests) == 6


def test_the_shipped_listwise_set(tmp_path: Path) -> None:
    labelled = load_labelled("packaged:everyday_listwise")
    assert labelled.listwise and not labelled.pairwise and labelled.kind == "listwise"
    assert 20 <= len(labelled.rows) <= 30 and len({r["prompt"] for r in labelled.rows}) == len(labelled.rows)
    for row in labelled.rows:
        assert len(row["responses"]) == 4 and sorted(row["ranks"]) == [1, 2, 3, 4]
        assert len(set(row["responses"])) == 4 and row["reference"]
    test, dev = select_split(labelled, "test"), select_split(labelled, "dev")
    assert len(test.rows) + len(dev.rows) == len(labelled.rows) and len(test.rows) > len(dev.rows)
    # The best answer is not always listed first: a judge preferring a position gets no credit for it.
    assert len({row["ranks"].index(1) for row in labelled.rows}) == 4
    judge, _ = scripted_judge(tagged())
    with pytest.raises(ConfigError, match="use reward=group"):
        check_compatible(labelled, RubricReward(judge, {"name": "r", "criteria": [{"id": "c", "question": "q?"}]}))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "Q?", "responses": ["a", "b"], "ranks": [1]}, "one integer >= 1 per response"),
        ({"prompt": "Q?", "responses": ["a"], "ranks": [1]}, "at least two strings"),
        ({"prompt": "Q?", "responses": ["a", "b"], "ranks": [1, 1]}, "must order the responses"),
        ({"prompt": "Q?", "responses": ["a", "b"]}, "missing required field 'ranks'"),
    ],
)
def test_a_bad_listwise_row_is_named_by_file_and_line(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    good = {"prompt": "Q?", "responses": ["a", "b"], "ranks": [2, 1]}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, row])
    with pytest.raises(DataError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(message)):
        load_labelled(str(path))
