"""Verdict extraction from the judge's own output. Strict: anything off the menu is a failure.

Only the judge's reply is parsed, never the answer under judgement, and only a complete verdict
counts: a missing criterion, a non-Boolean ``pass`` or extra keys make the whole verdict invalid.
When a reply holds several JSON objects (a model that "thinks out loud"), the last complete one wins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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
        if not isinstance(item, Mapping) or not isinstance(item.get("pass"), bool):
            raise VerdictError(f"criterion {cid!r}: expected {{'reason': str, 'pass': true|false}}, got {item!r}")
        verdicts[cid] = CriterionVerdict(passed=item["pass"], reason=str(item.get("reason", ""))[:500])
    return verdicts


def yes_probability(
    choice_logprobs: Mapping[str, float] | None, text: str | None = None, yes: str = "yes", no: str = "no"
) -> float:
    """P(yes) renormalised over {yes, no} from the judge's first-token log-probabilities.

    Backends without log-probabilities (Bedrock) answer in text: an exact ``yes`` / ``no`` reply is a
    hard 1.0 / 0.0, so a logprob-mode rubric still runs on them; any other reply is a failure.
    """
    if choice_logprobs and yes in choice_logprobs and no in choice_logprobs:
        lp_yes, lp_no = choice_logprobs[yes], choice_logprobs[no]
        if not all(math.isfinite(v) for v in (lp_yes, lp_no)):
            raise VerdictError(f"non-finite log-probabilities {choice_logprobs}")
        return 1.0 / (1.0 + math.exp(lp_no - lp_yes))
    if text is not None and text.strip().lower() in (yes, no):
        return 1.0 if text.strip().lower() == yes else 0.0
    raise VerdictError(f"no yes/no log-probabilities and an off-menu reply {text!r}")
