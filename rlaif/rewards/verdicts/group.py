"""Reading a group verdict: one JSON object that names every answer id exactly once, each with a score.

Strict, as every verdict rule here: the reply is validated (jsonschema) against the reader's copy of the schema
the judge was asked for (:func:`rlaif.rewards.prompts.group.group_schema`), so a missing id, an id the request
did not hold, a score out of range or an id named twice (a duplicate key, which ``json`` would silently
collapse to its last value) makes the whole reply invalid. Nothing is ever assigned by position: an invalid
reply is a :class:`VerdictError`, never a partial or shifted set of scores. When a reply holds several JSON
objects, the last complete verdict wins (as :mod:`rlaif.rewards.verdicts.parsing` reads rubric verdicts).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.rewards.prompts.group import group_schema
from rlaif.rewards.verdicts.parsing import VerdictError, json_objects


@dataclass(frozen=True)
class AnswerScore:
    """One answer's entry in a group verdict as read from the reply: its score (0 to the request's maximum) and why.
    The reward turns it into the answer's :class:`~rlaif.rewards.grades.Grade`."""

    score: float
    rationale: str


class _DuplicateKey(ValueError):
    pass


def parse_group_verdict(reply: Any, ids: Sequence[str], max_score: int) -> dict[str, AnswerScore]:
    """Every id's verdict from a judge response (or anything with ``text`` and ``error``); raises
    :class:`VerdictError` unless one complete verdict names exactly ``ids``, each once."""
    if getattr(reply, "error", None) is not None:
        raise VerdictError(f"judge error: {reply.error}")
    text = getattr(reply, "text", None)
    if not text or not text.strip():
        raise VerdictError("empty judge reply")
    last_error = "no JSON object in the judge reply"
    # An object naming a key twice comes back as its _DuplicateKey error: a dict would keep only the last.
    for candidate in reversed(json_objects(text, _pairs, keep=(_DuplicateKey,))):
        if isinstance(candidate, _DuplicateKey):
            last_error = str(candidate)
            continue
        try:
            return _verdict(candidate, ids, max_score)
        except VerdictError as exc:
            last_error = str(exc)
    raise VerdictError(last_error)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _DuplicateKey(f"the reply names {repeated} more than once")
    return dict(pairs)


def _verdict(data: Any, ids: Sequence[str], max_score: int) -> dict[str, AnswerScore]:
    if not isinstance(data, dict):
        raise VerdictError("verdict is not a JSON object")
    missing = [i for i in ids if i not in data]
    unknown = sorted(k for k in data if k not in ids)
    if missing or unknown:
        raise VerdictError(
            f"the reply must name every answer id exactly once: missing {missing}, unknown {unknown} "
            f"(expected {list(ids)})"
        )
    errors = sorted(_validator(tuple(ids), max_score).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path)
        raise VerdictError(f"answer {where}: {error.message}; expected {{'rationale': str, 'score': 0-{max_score}}}")
    return {
        i: AnswerScore(score=float(data[i]["score"]), rationale=str(data[i].get("rationale", ""))[:500]) for i in ids
    }


@functools.lru_cache(maxsize=256)
def _validator(ids: tuple[str, ...], max_score: int) -> Any:
    from jsonschema import Draft202012Validator  # imported here: only JSON-verdict judging pays for it

    return Draft202012Validator(group_schema(ids, max_score, strict=False))
