"""Rubric files: Boolean criteria with observable pass conditions, weights and required gates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.errors import RubricError

PROMPT_LAYOUTS = ("full", "compact")


@dataclass(frozen=True)
class Example:
    """A worked example shown to the judge: an answer and whether it passes."""

    answer: str
    passes: bool


@dataclass(frozen=True)
class Criterion:
    """One yes/no question about the answer; ``required`` failures gate the whole score to 0."""

    id: str
    question: str
    weight: float = 1.0
    required: bool = False
    examples: tuple[Example, ...] = ()
    # "no": the question names a fault ("Is the answer long?") and the criterion passes on P(no). Small
    # judges say "yes" more to some answers whatever the question; asking for the fault turns that around.
    pass_on: str = "yes"


@dataclass(frozen=True)
class OutputFormat:
    """A JSON-output task: answers must match ``schema`` (a gate before any judge call), and when
    ``items`` names a list in the answer (``comments`` or ``review.comments``), each element is graded
    on its own against the criteria and the answer scores the mean over its items."""

    schema: Mapping[str, Any] | None = None
    items: str | None = None


@dataclass(frozen=True)
class Rubric:
    """A named list of criteria and the task description the judge reads first."""

    name: str
    criteria: tuple[Criterion, ...]
    task: str = ""
    output: OutputFormat | None = None
    # full: system role, task, examples, fenced texts (capable judges) | compact: one user turn, the
    # criterion's question first, then the fenced question and answer (small judges: measured in docs/).
    prompt: str = "full"
    # false: the judge never sees the row's reference answer (criteria about the answer alone: showing it
    # cost the packaged judge 0.08 AUC on "concise", docs/judging.md)
    show_reference: bool = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "rubric") -> Rubric:
        """Validate a mapping (from YAML / Hydra) and build the rubric; errors name ``source.key``."""
        if not isinstance(data, Mapping):
            raise RubricError(f"{source}: expected a mapping with 'name' and 'criteria', got {type(data).__name__}")
        allowed = ("name", "task", "criteria", "output", "prompt", "show_reference")
        unknown = set(data) - set(allowed)
        if unknown:
            raise RubricError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(allowed)}")
        show_reference = data.get("show_reference", True)
        if not isinstance(show_reference, bool):
            raise RubricError(f"{source}.show_reference: expected true or false, got {show_reference!r}")
        prompt = data.get("prompt", "full")
        if prompt not in PROMPT_LAYOUTS:
            raise RubricError(f"{source}.prompt: expected one of {list(PROMPT_LAYOUTS)}, got {prompt!r}")
        raw = data.get("criteria")
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise RubricError(f"{source}.criteria: expected a non-empty list of criteria")
        criteria = tuple(_criterion(c, f"{source}.criteria[{i}]") for i, c in enumerate(raw))
        ids = [c.id for c in criteria]
        if len(set(ids)) != len(ids):
            raise RubricError(f"{source}.criteria: duplicate ids in {ids}")
        if sum(c.weight for c in criteria) <= 0:
            raise RubricError(f"{source}.criteria: weights must add up to more than 0")
        if prompt == "compact":
            shown = [i for i, c in enumerate(criteria) if c.examples]
            if shown:
                raise RubricError(
                    f"{source}.criteria[{shown[0]}].examples: prompt=compact shows no examples; "
                    "remove them or use prompt: full"
                )
        return cls(
            name=str(data.get("name") or "rubric"),
            criteria=criteria,
            task=str(data.get("task") or ""),
            output=_output(data.get("output"), f"{source}.output"),
            prompt=prompt,
            show_reference=show_reference,
        )


def _criterion(data: Any, where: str) -> Criterion:
    if not isinstance(data, Mapping):
        raise RubricError(f"{where}: expected a mapping with 'id' and 'question'")
    unknown = set(data) - {"id", "question", "weight", "required", "examples", "pass_on"}
    if unknown:
        raise RubricError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in ("id", "question"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise RubricError(f"{where}.{key}: required, a non-empty string")
    if not str(data["id"]).replace("_", "").isalnum():
        raise RubricError(f"{where}.id: {data['id']!r} must be letters, digits and '_' (it becomes a JSON key)")
    weight = data.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        raise RubricError(f"{where}.weight: expected a number >= 0, got {weight!r}")
    examples = tuple(_example(e, f"{where}.examples[{i}]") for i, e in enumerate(data.get("examples") or ()))
    # YAML 1.1 reads a bare no / yes as a Boolean: accept both spellings.
    raw = data.get("pass_on", "yes")
    pass_on = ("yes" if raw else "no") if isinstance(raw, bool) else raw
    if pass_on not in ("yes", "no"):
        raise RubricError(f"{where}.pass_on: expected yes or no, got {raw!r}")
    return Criterion(
        id=data["id"],
        question=data["question"].strip(),
        weight=float(weight),
        required=bool(data.get("required", False)),
        examples=examples,
        pass_on=pass_on,
    )


def _example(data: Any, where: str) -> Example:
    if not isinstance(data, Mapping) or not isinstance(data.get("answer"), str) or "passes" not in data:
        raise RubricError(f"{where}: expected {{answer: <text>, passes: true|false}}")
    return Example(answer=data["answer"], passes=bool(data["passes"]))


def _output(data: Any, where: str) -> OutputFormat | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or set(data) - {"schema", "items"}:
        raise RubricError(f"{where}: expected a mapping with 'schema' and/or 'items'")
    schema, items = data.get("schema"), data.get("items")
    if items is not None and (not isinstance(items, str) or not items.strip()):
        raise RubricError(f"{where}.items: expected a dotted key path such as 'comments'")
    return OutputFormat(schema=json_schema(schema, f"{where}.schema") if schema is not None else None, items=items)


def json_schema(schema: Any, where: str) -> dict[str, Any]:
    """``schema`` as plain dicts and lists, checked against the JSON Schema meta-schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, Mapping):
        raise RubricError(f"{where}: expected a JSON schema (a mapping)")
    plain = _plain(schema)
    try:
        Draft202012Validator.check_schema(plain)
    except SchemaError as exc:
        raise RubricError(f"{where}: not a valid JSON schema: {exc.message}") from None
    return plain


def _plain(value: Any) -> Any:
    # Hydra hands over converted containers; jsonschema wants plain dicts and lists.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value
