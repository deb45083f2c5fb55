"""Per-row rubrics: the rubric items a training row carries, in the shapes they are published in, and
HealthBench's scoring rule.

Accepted item shapes, mixed freely in one list:

- Rubrics as Rewards (RaR-Medicine, RaR-Science): ``{"title", "description", "weight"}``; a negative weight is
  a pitfall (the description says "Pitfall Criteria: ...");
- HealthBench: ``{"criterion", "points", "tags"}``; negative points are a pitfall;
- NeMo Gym (multichallenge): ``{"question", "pass_criteria": "YES"|"NO", "weight"}``: the item is met when the
  answer to ``question`` is ``pass_criteria``;
- a plain string: an item worth 1 point.

Score (HealthBench): each item is a yes/no question "does the answer meet it?" and
``(sum of the points of met items, pitfalls negative) / (sum of positive points)``, clipped to [0, 1]. With a
soft verdict (P(met)) the points are weighted by it. A rubric arrives as a list, or as its JSON text (a CSV
cell, a parquet string column).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rlaif.errors import RubricError

Shape = Literal["rar", "healthbench", "nemo", "text"]

# The keys that tell a shape, and the field holding its text and its weight.
_SHAPES: tuple[tuple[Shape, str, str, frozenset[str]], ...] = (
    ("rar", "description", "weight", frozenset({"title", "description", "weight"})),
    ("healthbench", "criterion", "points", frozenset({"criterion", "points", "tags"})),
    ("nemo", "question", "weight", frozenset({"question", "pass_criteria", "weight"})),
)


@dataclass(frozen=True)
class RubricItem:
    """One item of a row's rubric: a criterion the answer meets or not, and what meeting it is worth.

    ``points`` < 0 marks a pitfall: meeting it (the answer does the bad thing) takes points away.
    ``met_on`` is the judge's answer that means met: "yes" except for a NeMo Gym item whose pass criterion is NO.
    """

    id: str  # i0, i1, ...: the item's key in a JSON verdict and in rewards.jsonl
    text: str
    points: float
    shape: Shape
    title: str = ""
    tags: tuple[str, ...] = ()
    met_on: str = "yes"
    required: bool = False  # a file criterion marked required: P(met) gates the whole score, as in a file rubric

    @property
    def pitfall(self) -> bool:
        return self.points < 0


@dataclass(frozen=True)
class RowRubric:
    """A row's items; ``positive_points`` (> 0, checked) is what a perfect answer earns."""

    items: tuple[RubricItem, ...]

    @property
    def positive_points(self) -> float:
        return sum(i.points for i in self.items if i.points > 0)

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.items]

    def score(self, met: Mapping[str, float]) -> float:
        """HealthBench's rule over P(met) (or 0/1) per item id: met points over positive points, in [0, 1]."""
        earned = sum(i.points * met[i.id] for i in self.items)
        return min(1.0, max(0.0, earned / self.positive_points))


def parse_row_rubric(value: Any, where: str) -> RowRubric:
    """Read one row's rubric; :class:`RubricError` names ``where`` (file:line or row, and the column) and the item."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RubricError(f"{where}: the rubric is text but not a JSON list of items") from None
    if value is None:
        raise RubricError(f"{where}: the row has no rubric")
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise RubricError(f"{where}: expected a list of rubric items, got {type(value).__name__}")
    if not value:
        raise RubricError(f"{where}: the rubric is empty")
    rubric = RowRubric(tuple(_item(raw, k, f"{where}[{k}]") for k, raw in enumerate(value)))
    if rubric.positive_points <= 0:
        raise RubricError(f"{where}: no item has positive points, so no answer can earn any (only pitfalls)")
    return rubric


def parse_item(raw: Any, where: str) -> RubricItem:
    """One rubric item alone (any shape; a pitfall too, which a rubric of its own would refuse): a labelled
    item of ``rlaif.judge_eval``. :class:`RubricError` names ``where``."""
    return _item(raw, 0, where)


def _item(raw: Any, k: int, where: str) -> RubricItem:
    if isinstance(raw, str):
        if not raw.strip():
            raise RubricError(f"{where}: an item with no text")
        return RubricItem(id=f"i{k}", text=raw.strip(), points=1.0, shape="text")
    if not isinstance(raw, Mapping):
        raise RubricError(f"{where}: expected a string or a mapping, got {type(raw).__name__}")
    for shape, text_key, weight_key, keys in _SHAPES:
        if text_key in raw:
            unknown = sorted(set(raw) - keys)
            if unknown:
                raise RubricError(f"{where}: unknown key(s) {unknown} for a {shape} item (keys: {sorted(keys)})")
            return _shaped(raw, k, where, shape, text_key, weight_key)
    known = " | ".join("{" + ", ".join(sorted(keys)) + "}" for _, _, _, keys in _SHAPES)
    raise RubricError(f"{where}: not a rubric item (keys {sorted(raw)}); expected a string or one of {known}")


def _shaped(raw: Mapping[str, Any], k: int, where: str, shape: Shape, text_key: str, weight_key: str) -> RubricItem:
    text = raw.get(text_key)
    if not isinstance(text, str) or not text.strip():
        raise RubricError(f"{where}.{text_key}: an item with no text")
    weight = raw.get(weight_key, 1.0)
    if isinstance(weight, str):  # a CSV or a hand-written JSON may quote it
        try:
            weight = float(weight)
        except ValueError:
            raise RubricError(f"{where}.{weight_key}: expected a number, got {weight!r}") from None
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not math.isfinite(weight):
        raise RubricError(f"{where}.{weight_key}: expected a number, got {weight!r}")
    met_on = "yes"
    if shape == "nemo":
        criteria = str(raw.get("pass_criteria", "YES")).strip().upper()
        if criteria not in ("YES", "NO"):
            raise RubricError(f"{where}.pass_criteria: expected YES or NO, got {raw.get('pass_criteria')!r}")
        met_on = criteria.lower()
    tags = raw.get("tags") or ()
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise RubricError(f"{where}.tags: expected a list of strings, got {tags!r}")
    title = raw.get("title") or ""
    return RubricItem(
        id=f"i{k}",
        text=text.strip(),
        points=float(weight),
        shape=shape,
        title=str(title).strip(),
        tags=tuple(str(t) for t in tags),
        met_on=met_on,
    )
