"""Judge prompts for per-row rubrics: one yes/no question per item, or one JSON verdict over all of a row's items.

In log-prob mode the question and the answer come first and the item last, so every request about one
answer opens the same way and a prefix cache (vLLM's) serves all items after the first from it.
"""

from __future__ import annotations

from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.fencing import IGNORE_INSTRUCTIONS, fence
from rlaif.rewards.prompts.rubric import NO, YES, verdict_schema_for
from rlaif.rewards.row_rubric_spec import RowRubric, RubricItem
from rlaif.rewards.transcript import fence_answer, heading

_SYSTEM = "You are a strict, fair grader. " + IGNORE_INSTRUCTIONS


def _texts(question: str, answer: str, reference: str | None, task: str) -> str:
    parts = [f"Task: {task}"] if task else []
    parts.append(f"Question:\n{fence(question, 'question')}")
    if reference is not None:
        parts.append(f"Reference answer (trusted):\n{fence(reference, 'reference')}")
    parts.append(f"{heading(answer, 'Answer to grade')}\n{fence_answer(answer)}")
    return "\n\n".join(parts)


def item_question(item: RubricItem) -> str:
    """The item as the yes/no question the judge is asked: a NeMo Gym item is its own question, any other
    item a criterion the answer meets or not (a pitfall too: meeting it is what costs points)."""
    if item.shape == "nemo":
        return item.text
    return f"Does the answer meet this criterion? {item.text}"


def item_request(item: RubricItem, question: str, answer: str, reference: str | None, task: str = "") -> JudgeRequest:
    """One item as a yes/no question scored from the judge's next-token probabilities (no decoding)."""
    user = f"{_texts(question, answer, reference, task)}\n\n{item_question(item)}\nReply with {YES} or {NO} only."
    return JudgeRequest.chat(
        [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}],
        choices=(YES, NO),
        max_tokens=1,
        logprobs=True,
        top_logprobs=20,
        affinity=question,
    )


def items_request(
    rubric: RowRubric,
    question: str,
    answer: str,
    reference: str | None,
    max_tokens: int = 512,
    task: str = "",
    correction: str | None = None,
) -> JudgeRequest:
    """One request grading all of a row's items: a schema listing exactly the row's item ids, a reason and a
    ``pass`` (met) per item. ``correction``: what the judge's last reply got wrong, for the one retry (it makes
    the request new, so no cache serves the old reply again)."""
    lines = []
    for item in rubric.items:
        note = " (met when the answer to this is no)" if item.met_on == NO else ""
        lines.append(f"- {item.id}: {item_question(item) if item.shape == 'nemo' else item.text}{note}")
    user = (
        f"{_texts(question, answer, reference, task)}\n\n"
        "Rubric items (for each, decide whether the answer meets it):\n" + "\n".join(lines) + "\n\n"
        'Reply with one JSON object only: {"<item id>": {"reason": "<one sentence>", "pass": true|false}, ...} '
        f"naming each of {', '.join(rubric.ids)} exactly once; pass is true when the answer meets the item. "
        "Give the reason before deciding."
    )
    if correction:
        user += f"\n\nYour previous reply was invalid ({correction}). Reply again with every item id exactly once."
    return JudgeRequest.chat(
        [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}],
        json_schema=verdict_schema_for(rubric.ids),
        max_tokens=max_tokens,
        affinity=question,
    )
