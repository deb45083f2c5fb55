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
