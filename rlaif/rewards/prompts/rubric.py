"""Judge prompts for rubric grading: one yes/no question per criterion, or one JSON verdict per answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.fencing import IGNORE_INSTRUCTIONS, fence
from rlaif.rewards.rubric_spec import Criterion, Rubric
from rlaif.rewards.transcript import fence_answer, heading

YES, NO = "yes", "no"

_SYSTEM = "You are a strict, fair grader. " + IGNORE_INSTRUCTIONS


def _context(rubric: Rubric, question: str, reference: str | None) -> str:
    parts = [f"Task: {rubric.task}"] if rubric.task else []
    parts.append(f"Question:\n{fence(question, 'question')}")
    if reference is not None:
        parts.append(f"Reference answer (trusted):\n{fence(reference, 'reference')}")
    return "\n\n".join(parts)


def criterion_request(
    rubric: Rubric, criterion: Criterion, question: str, answer: str, reference: str | None
) -> JudgeRequest:
    """A single yes/no question scored from the judge's next-token probabilities (no decoding).

    The compact layout opens with the criterion (requests share their opening: prefix caches reuse it).
    The full layout keeps the criterion after the answer: moved before the question, it cost the packaged
    judge its agreement on the shipped labelled set (AUC 0.66 -> 0.57, kappa 0.22 -> 0.00; benchmarks/README.md).
    """
    if rubric.prompt == "compact":
        return _compact_request(criterion, question, answer, reference)
    examples = "".join(
        f"Example answer:\n{fence(e.answer)}\nVerdict: {YES if e.passes else NO}\n\n" for e in criterion.examples
    )
    user = (
        f"{_context(rubric, question, reference)}\n\n{examples}"
        f"{heading(answer, 'Answer to grade')}\n{fence_answer(answer)}\n\n"
        f"Criterion: {criterion.question}\nDoes the answer meet the criterion? Reply with {YES} or {NO} only."
    )
    messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]
    return JudgeRequest.chat(
        messages, choices=(YES, NO), max_tokens=1, logprobs=True, top_logprobs=20, affinity=question
    )


def _compact_request(criterion: Criterion, question: str, answer: str, reference: str | None) -> JudgeRequest:
    # Measured with the packaged 135M judge on the shipped labelled set (docs/judging.md): a system role or the
    # warning about the answer's instructions cost it 0.1-0.4 AUC; worked examples did not help. The texts stay
    # fenced (defused), so the answer still cannot write a tag or a control token. The criterion comes
    # first: every request about one criterion shares its opening, and the answer comes last.
    shown = f"Reference answer (trusted):\n{fence(reference, 'reference')}\n" if reference is not None else ""
    user = (
        f"{criterion.question} Answer {YES} or {NO}.\n\nQuestion:\n{fence(question, 'question')}\n{shown}"
        f"{heading(answer, 'Answer')}\n{fence_answer(answer)}"
    )
    return JudgeRequest.chat(
        [{"role": "user", "content": user}],
        choices=(YES, NO),
        max_tokens=1,
        logprobs=True,
        top_logprobs=20,
        affinity=question,
    )


def verdict_schema(rubric: Rubric) -> dict[str, Any]:
    """JSON schema of a verdict: for every criterion id a one-sentence reason and a Boolean pass."""
    return verdict_schema_for([c.id for c in rubric.criteria])


def verdict_schema_for(ids: Sequence[str], strict: bool = True) -> dict[str, Any]:
    """The verdict schema over criterion ``ids``: the one the judge is asked for and the one its reply is read
    against (:func:`rlaif.rewards.verdicts.parsing.parse_json_verdict`).

    ``strict=False`` is the reader's: ``reason`` may be missing, or of any length or type, because a backend
    that does not constrain its output (the local judge, Bedrock without structured output) lets a judge write
    what it likes there, and only ``pass`` decides. Exactly the criteria, a Boolean ``pass`` and no other
    field are required either way.
    """
    reason: dict[str, Any] = {"type": "string", "maxLength": 300} if strict else {}
    item = {
        "type": "object",
        "properties": {"reason": reason, "pass": {"type": "boolean"}},
        "required": ["reason", "pass"] if strict else ["pass"],
        "additionalProperties": False,
    }
    return keyed_schema(ids, item)


def keyed_schema(ids: Sequence[str], item: dict[str, Any]) -> dict[str, Any]:
    """A JSON object with exactly ``ids`` as its keys, each holding an ``item``: the shape of every verdict
    over named things (a rubric's criteria, a group's answers)."""
    return {
        "type": "object",
        "properties": {i: item for i in ids},
        "required": list(ids),
        "additionalProperties": False,
    }


def json_request(
    rubric: Rubric, question: str, answer: str, reference: str | None, max_tokens: int = 512
) -> JudgeRequest:
    """One call per answer: a schema-constrained object with a reason and a pass/fail per criterion."""
    lines = []
    for c in rubric.criteria:
        lines.append(f"- {c.id}: {c.question}" + (" (passes when the answer to this is no)" if c.pass_on == NO else ""))
        lines.extend(f"    e.g. {e.answer!r} -> {'pass' if e.passes else 'fail'}" for e in c.examples)
    user = (
        f"{_context(rubric, question, reference)}\n\n{heading(answer, 'Answer to grade')}\n{fence_answer(answer)}\n\n"
        "Criteria (each is pass or fail):\n" + "\n".join(lines) + "\n\n"
        'Reply with one JSON object only: {"<criterion id>": {"reason": "<one sentence>", "pass": true|false}, ...} '
        "with every criterion id. Give the reason before deciding."
    )
    messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]
    return JudgeRequest.chat(messages, json_schema=verdict_schema(rubric), max_tokens=max_tokens, affinity=question)
