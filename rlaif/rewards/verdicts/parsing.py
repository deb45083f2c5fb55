"""JSON verdict extraction from the judge's own output. Strict: anything off the menu is a failure.

Only the judge's reply is parsed, never the answer under judgement, and only a complete verdict
counts: a missing criterion, a non-Boolean ``pass`` or extra keys make the whole verdict invalid.
When a reply holds several JSON objects (a model that "thinks out loud"), the last complete one wins.
Choice verdicts (yes/no, A/B) are read by :mod:`rlaif.rewards.verdicts.choices`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ITEM_KEYS = frozenset({"reason", "pass"})


class VerdictError(ValueError):
    """The judge's reply does not contain a valid verdict."""


@dataclass(frozen=True)
class CriterionVerdict:
    passed: bool
    reason: str


def parse_json_verdict(text: str | None, criterion_ids: Sequence[str]) -> dict[str, CriterionVerdict]:
    """The last JSON object in ``text`` that is a complete verdict over exactly ``criterion_ids``."""
    if not text or not text.strip():
        raise VerdictError("empty judge reply")
    last_error = "no JSON object in the judge reply"
    for candidate in reversed(_json_objects(text)):
        try:
            return _verdict(candidate, criterion_ids)
        except VerdictError as exc:
            last_error = str(exc)
    raise VerdictError(last_error)


def _json_objects(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found, index = [], 0
    while (start := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def _verdict(data: Any, criterion_ids: Sequence[str]) -> dict[str, CriterionVerdict]:
    if not isinstance(data, Mapping):
        raise VerdictError("verdict is not a JSON object")
    if set(data) != set(criterion_ids):
        raise VerdictError(f"verdict keys {sorted(data)} do not match the criteria {sorted(criterion_ids)}")
    verdicts = {}
    for cid in criterion_ids:
        item = data[cid]
        # The schema allows exactly these fields: anything else is a judge off its format, not a verdict.
        if not isinstance(item, Mapping) or not isinstance(item.get("pass"), bool) or set(item) - _ITEM_KEYS:
            raise VerdictError(f"criterion {cid!r}: expected {{'reason': str, 'pass': true|false}}, got {item!r}")
        verdicts[cid] = CriterionVerdict(passed=item["pass"], reason=str(item.get("reason", ""))[:500])
    return verdicts
