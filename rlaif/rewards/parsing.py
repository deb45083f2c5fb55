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
    return choice_probability(choice_logprobs, text, yes, no)


def choice_probability(choice_logprobs: Mapping[str, float] | None, text: str | None, first: str, second: str) -> float:
    """P(``first``) renormalised over {``first``, ``second``}: soft from log-probabilities, else hard from text.

    The text fallback accepts the reply only when it *is* one of the two choices (case-insensitive,
    surrounding whitespace ignored): ``"A"`` counts, ``"[[A]]"`` or ``"A, because ..."`` is off the menu
    and a failure, never a guess.
    """
    if choice_logprobs and first in choice_logprobs and second in choice_logprobs:
        lp_first, lp_second = choice_logprobs[first], choice_logprobs[second]
        if not all(math.isfinite(v) for v in (lp_first, lp_second)):
            raise VerdictError(f"non-finite log-probabilities {dict(choice_logprobs)}")
        return _sigmoid(lp_first - lp_second)
    reply = text.strip().lower() if text is not None else None
    if reply in (first.lower(), second.lower()):
        return 1.0 if reply == first.lower() else 0.0
    raise VerdictError(f"no {first}/{second} log-probabilities and an off-menu reply {text!r}")


def _sigmoid(x: float) -> float:
    # Stable for the -9999 floors some servers report for a choice outside their top list.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
