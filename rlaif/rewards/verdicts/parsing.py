"""JSON verdict extraction from the judge's own output. Strict: anything off the menu is a failure.

Only the judge's reply is parsed, never the answer under judgement, and only a complete verdict
counts: it is validated (jsonschema) against the verdict schema the judge is asked for
(:func:`rlaif.rewards.prompts.rubric.verdict_schema_for`), so a missing criterion, a non-Boolean ``pass`` or
extra keys make the whole verdict invalid.
When a reply holds several JSON objects (a model that "thinks out loud"), the last complete one wins.
Choice verdicts (yes/no, A/B) are read by :mod:`rlaif.rewards.verdicts.choices`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.rewards.prompts.rubric import verdict_schema_for


class VerdictError(ValueError):
    """The judge's reply does not contain a valid verdict."""


@dataclass(frozen=True)
class CriterionVerdict:
    """One criterion's entry in a JSON verdict as read from the reply: pass or fail, and why."""

    passed: bool
    reason: str


def parse_json_verdict(text: str | None, criterion_ids: Sequence[str]) -> dict[str, CriterionVerdict]:
    """The last JSON object in ``text`` that is a complete verdict over exactly ``criterion_ids``."""
    if not text or not text.strip():
        raise VerdictError("empty judge reply")
    last_error = "no JSON object in the judge reply"
    for candidate in reversed(json_objects(text)):
        try:
            return _verdict(candidate, criterion_ids)
        except VerdictError as exc:
            last_error = str(exc)
    raise VerdictError(last_error)


def json_objects(
    text: str,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    keep: tuple[type[Exception], ...] = (),
) -> list[Any]:
    """Every top-level JSON object in ``text``, in order. ``object_pairs_hook`` goes to the decoder; an
    exception of a ``keep`` type that it raises is kept in the list in place of its object."""
    decoder = json.JSONDecoder(object_pairs_hook=object_pairs_hook)
    found: list[Any] = []
    index = 0
    while (start := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except keep as exc:
            found.append(exc)
            index = start + 1
            continue
        except json.JSONDecodeError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def duplicate_keys(text: str, keys: Sequence[str]) -> list[str]:
    """Which of ``keys`` some JSON object in ``text`` names more than once (``json`` keeps only the last value
    of a repeated key, silently): a verdict that names an item twice is no verdict."""
    repeated: set[str] = set()

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [k for k, _ in items]
        repeated.update(k for k in names if names.count(k) > 1)
        return dict(items)

    json_objects(text, pairs)
    return sorted(repeated & set(keys))


def _verdict(data: Any, criterion_ids: Sequence[str]) -> dict[str, CriterionVerdict]:
    errors = list(_validator(tuple(criterion_ids)).iter_errors(data))
    if any(not e.absolute_path for e in errors):  # the object itself: not an object, or the wrong keys
        if not isinstance(data, Mapping):
            raise VerdictError("verdict is not a JSON object")
        raise VerdictError(f"verdict keys {sorted(data)} do not match the criteria {sorted(criterion_ids)}")
    if errors:  # the first criterion (in the rubric's order) off the schema, named with its field
        first = {str(e.absolute_path[0]): e for e in reversed(errors)}
        cid = next(c for c in criterion_ids if c in first)
        error = first[cid]
        field = "".join(f", field {part!r}" for part in list(error.absolute_path)[1:])
        raise VerdictError(
            f"criterion {cid!r}{field}: {error.message}; expected {{'reason': str, 'pass': true|false}}, "
            f"got {data[cid]!r}"
        )
    # reason: whatever the judge wrote there (the reader's schema allows any), as text and kept short.
    return {
        cid: CriterionVerdict(passed=data[cid]["pass"], reason=str(data[cid].get("reason", ""))[:500])
        for cid in criterion_ids
    }


@functools.lru_cache(maxsize=64)
def _validator(criterion_ids: tuple[str, ...]) -> Any:
    """A validator of the reader's verdict schema over these criteria (built once per rubric)."""
    from jsonschema import Draft202012Validator  # imported here: only JSON-verdict judging pays for it

    return Draft202012Validator(verdict_schema_for(criterion_ids, strict=False))
