"""The answers the report shows (docs/reporting.md): per step the best and the worst, and the first 200 failures
with the count of all."""

from __future__ import annotations

from rlaif.reporting.run_answers import MAX_FAILURES, pick_answers


def test_best_and_worst_per_step_and_the_first_200_failures_with_the_count_of_all() -> None:
    scored = [{"step": 1, "score": s, "completion": f"scored {s}", "verdicts": {}} for s in (0.2, 0.9, 0.5)]
    failed = [{"step": 1, "score": None, "error": f"HTTP 500 #{i}", "completion": "x"} for i in range(250)]
    answers = pick_answers([*scored, *failed])
    kinds = [(row.kind, row.completion) for row in answers.rows if row.kind != "failed"]
    assert kinds == [("best", "scored 0.9"), ("worst", "scored 0.2")]
    assert MAX_FAILURES == 200 and (answers.failures, answers.failures_shown) == (250, 200)
    assert [row.error for row in answers.rows if row.kind == "failed"][-1] == "HTTP 500 #199"


def _row_rubric_line(step: int, score: float, items: dict[str, dict[str, object]]) -> dict[str, object]:
    """A rewards.jsonl line of reward=row_rubric: verdicts map item id -> {text, points, met, reason?}."""
    reasons = {k: str(v.get("reason", f"P(met)={v['met']:.2f}")) for k, v in items.items()}
    return {"step": step, "score": score, "completion": f"answer {score}", "verdicts": items, "rationale": reasons,
            "checks": {"non_empty": 1.0}}  # fmt: skip


def test_a_row_rubrics_items_are_shown_with_their_answer_and_kept_out_of_the_criterion_filter() -> None:
    spider = {
        "i0": {"text": "Says eight.", "points": 5.0, "met": 1.0, "reason": "It says eight."},
        "i1": {"text": "Says six.", "points": -3.0, "met": 0.9, "reason": "It also says six."},
    }
    colour = {"i0": {"text": "Names a primary colour.", "points": 1.0, "met": 0.2}}
    answers = pick_answers([_row_rubric_line(1, 0.4, spider), _row_rubric_line(1, 0.2, colour)])
    best, worst = answers.rows
    assert answers.criteria == ["check:non_empty"]  # i0 is a different item on each row: no filter on it
    assert best.verdicts == {"check:non_empty": True} and best.rationale == {}  # reasons go with their items
    assert [(i.id, i.text, i.points, i.met, i.reason) for i in best.items] == [
        ("i0", "Says eight.", 5.0, 1.0, "It says eight."),
        ("i1", "Says six.", -3.0, 0.9, "It also says six."),
    ]
    assert [(i.passed, i.good) for i in best.items] == [(True, True), (True, False)]  # a pitfall met is bad
    assert [(i.reason, i.passed) for i in worst.items] == [(None, False)]  # logprob mode: P(met), no reason
    assert "it also says six." in best.search_text() and "primary colour" in worst.search_text()
    # A file rubric's line is unchanged: its criteria are the filter's, no items.
    plain = pick_answers([{"step": 1, "score": 0.5, "verdicts": {"polite": 0.7}, "rationale": {"polite": "ok"}}])
    assert plain.criteria == ["polite"] and plain.rows[0].items == [] and plain.rows[0].rationale == {"polite": "ok"}
