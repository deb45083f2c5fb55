"""Which answers a run report shows: per step the best- and worst-scored, and every answer the judge failed on.

An answer row carries everything the page's filter reads: its criteria's verdicts (pass when P(pass) >= 0.5,
the rubric reward's own threshold), the rationales and the error. A per-row rubric's items (``reward=row_rubric``:
``verdicts`` maps item id -> ``{text, points, met, reason?}``) are shown with their answer, each with its text,
points, P(met) and reason, and stay out of the criterion filter: item ids (``i0``, ``i1``) mean nothing across
rows. A run of 500 steps shows 1,000 scored answers and at most :data:`MAX_FAILURES` failures (the count of the
rest is shown), so the page stays a few MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlaif.rewards.transcript import plain_text

MAX_FAILURES = 200
PASS_AT = 0.5


@dataclass(frozen=True)
class RowItem:
    """One item of the answer's own row rubric, as the judge found it."""

    id: str
    text: str
    points: float  # < 0: a pitfall (meeting it costs points)
    met: float  # P(met), or 0/1
    reason: str | None = None

    @property
    def passed(self) -> bool:
        """Met, at the rubric reward's own threshold."""
        return self.met >= PASS_AT

    @property
    def good(self) -> bool:
        """What the answer should have done: an item met, a pitfall avoided."""
        return self.passed != (self.points < 0)


@dataclass(frozen=True)
class AnswerRow:
    """One answer as the page shows it."""

    step: int
    kind: str  # "best", "worst" or "failed"
    prompt: str
    completion: str
    score: float | None
    verdicts: dict[str, bool] = field(default_factory=dict)  # criterion or check -> passed
    rationale: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    items: list[RowItem] = field(default_factory=list)  # a per-row rubric's items (not in the criterion filter)

    def search_text(self) -> str:
        """What the text filter matches: the question, the answer, the rationales, the row's items and the error,
        lower case."""
        items = [f"{i.text} {i.reason or ''}" for i in self.items]
        parts = [self.prompt, self.completion, *self.rationale.values(), *items, self.error or ""]
        return " ".join(parts).lower()


@dataclass(frozen=True)
class Answers:
    rows: list[AnswerRow]
    criteria: list[str]  # every criterion and check that has a verdict somewhere, for the filter
    failures: int  # answers the judge was asked about and gave no verdict
    failures_shown: int


def pick_answers(lines: Sequence[Mapping[str, Any]]) -> Answers:
    """The rows to show from ``rewards.jsonl`` lines (steps already as the report counts them)."""
    by_step: dict[int, list[Mapping[str, Any]]] = {}
    failed: list[Mapping[str, Any]] = []
    for line in lines:
        step = line.get("step")
        if not isinstance(step, int):
            continue
        if line.get("error") is not None and line.get("score") is None:
            failed.append(line)
        elif isinstance(line.get("score"), int | float):
            by_step.setdefault(step, []).append(line)
    rows: list[AnswerRow] = []
    for step in sorted(by_step):
        scored = by_step[step]
        best = max(scored, key=lambda line: line["score"])
        worst = min(scored, key=lambda line: line["score"])
        rows.append(_row(best, step, "best"))
        if worst is not best:
            rows.append(_row(worst, step, "worst"))
    shown = failed[:MAX_FAILURES]
    rows += [_row(line, int(line["step"]), "failed") for line in shown]
    criteria = sorted({name for row in rows for name in row.verdicts})
    return Answers(rows=rows, criteria=criteria, failures=len(failed), failures_shown=len(shown))


def _row(line: Mapping[str, Any], step: int, kind: str) -> AnswerRow:
    verdicts = {str(k): float(v) >= PASS_AT for k, v in _numbers(line.get("verdicts"))}
    # The deterministic checks (a gate before the judge) have verdicts too: a filter on them finds gated answers.
    verdicts.update({f"check:{k}": float(v) >= PASS_AT for k, v in _numbers(line.get("checks"))})
    items = _items(line.get("verdicts"))
    rationale = line.get("rationale")
    if isinstance(rationale, Mapping):  # an item's reason shows with its item
        rationale = {k: v for k, v in rationale.items() if k not in {i.id for i in items}}
    score = line.get("score")
    return AnswerRow(
        step=step,
        kind=kind,
        prompt=str(line.get("prompt") or ""),
        completion=plain_text(line.get("completion")),  # a tool-using transcript: one labelled line per turn
        score=float(score) if isinstance(score, int | float) else None,
        verdicts=verdicts,
        rationale={str(k): str(v) for k, v in rationale.items()} if isinstance(rationale, Mapping) else {},
        error=str(line["error"]) if line.get("error") is not None else None,
        items=items,
    )


def _items(verdicts: Any) -> list[RowItem]:
    """A per-row rubric's items from a ``rewards.jsonl`` line's ``verdicts`` (none for a file rubric's P(pass))."""
    if not isinstance(verdicts, Mapping):
        return []
    items = []
    for key, v in verdicts.items():
        if (
            isinstance(v, Mapping)
            and isinstance(v.get("met"), int | float)
            and isinstance(v.get("points"), int | float)
        ):
            reason = v.get("reason")
            items.append(
                RowItem(str(key), str(v.get("text") or ""), float(v["points"]), float(v["met"]), reason and str(reason))
            )
    return items


def _numbers(value: Any) -> Iterable[tuple[Any, float]]:
    if not isinstance(value, Mapping):
        return []
    return [(k, v) for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)]
