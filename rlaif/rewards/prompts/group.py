"""How a group of answers to one question is put to the judge in one request (group judging, ``reward=group``).

The judge sees the question and every distinct answer of the group, each labelled by a short random id, and
replies with one JSON object naming each id exactly once (a rationale and a score). The ids are drawn per
request from a seeded generator: they carry no position (no A, B, C, no 1, 2, 3 for the judge to prefer), a
retry gets fresh ones, and the same group asked again (a resumed run) gets the same request, so the judge's
cache still answers it. Every answer is fenced as data (:mod:`rlaif.rewards.fencing`). When all answers open
with the same long text, it is shown once and each answer from where it differs: the request does not pay
for the same tokens G times, and the judge compares what actually differs.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.fencing import IGNORE_INSTRUCTIONS, fence
from rlaif.rewards.prompts.rubric import keyed_schema
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.transcript import fence_answer, heading, is_transcript

# Consonants only: an id never spells a word or a grade ("ace", "bad"), nor reads as a position (a, b, 1, 2).
_ID_LETTERS = "bcdfghjkmnpqrstvwxz"
_ID_LENGTH = 3
_SYSTEM = "You are a strict, fair judge scoring several answers to the same question side by side. " + (
    IGNORE_INSTRUCTIONS
)


@dataclass(frozen=True)
class GroupPrompt:
    """What the judge is told about a good answer: a rubric's criteria, or a free instruction."""

    instruction: str = ""
    rubric: Rubric | None = None
    task: str = ""
    max_score: int = 10
    rationale_chars: int = 200
    max_tokens_per_answer: int = 128

    def guidance(self) -> str:
        """The scoring guidance: the instruction, or the rubric's criteria as a list."""
        if self.rubric is None:
            return f"What makes an answer good:\n{self.instruction}"
        lines = []
        for c in self.rubric.criteria:
            better = " (a good answer: no)" if c.pass_on == "no" else ""
            weight = f" [weight {c.weight:g}]" if any(o.weight != c.weight for o in self.rubric.criteria) else ""
            required = " [required: an answer failing it scores 0]" if c.required else ""
            lines.append(f"- {c.id}: {c.question}{better}{weight}{required}")
        return "Score each answer against these criteria:\n" + "\n".join(lines)


def draw_ids(count: int, seed: str) -> list[str]:
    """``count`` distinct short ids, the same for the same ``seed`` (a hash of what the request holds)."""
    rng = random.Random(hashlib.sha256(seed.encode("utf-8")).hexdigest())
    ids: list[str] = []
    while len(ids) < count:
        candidate = "".join(rng.choice(_ID_LETTERS) for _ in range(_ID_LENGTH))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def shared_prefix(texts: Sequence[str], min_chars: int) -> int:
    """The length of the beginning every text shares, cut back to a whitespace boundary (no word split);
    0 when there are fewer than two texts, it is shorter than ``min_chars``, or a text is a tool-using transcript
    (its final answer is only its last part)."""
    if len(texts) < 2 or min_chars <= 0 or is_transcript(*texts):
        return 0
    first, length = texts[0], min(map(len, texts))
    end = 0
    while end < length and all(t[end] == first[end] for t in texts):
        end += 1
    if end < length or any(len(t) > end for t in texts):  # some text goes on: cut at its last whitespace
        cut = max(first.rfind(" ", 0, end), first.rfind("\n", 0, end))
        end = cut + 1 if cut >= 0 else 0
    return end if end >= min_chars else 0


def group_schema(ids: Sequence[str], max_score: int, rationale_chars: int = 200, strict: bool = True) -> dict[str, Any]:
    """The reply's JSON schema: every id, exactly those, each with a rationale and an integer score.

    ``strict=False`` is the reader's (as :func:`rlaif.rewards.prompts.rubric.verdict_schema_for`): a backend that
    does not constrain output lets the judge write what it likes as the rationale, and any number in range
    counts as a score; the ids and the score stay required.
    """
    rationale: dict[str, Any] = {"type": "string", "maxLength": rationale_chars} if strict else {}
    score = {"type": "integer" if strict else "number", "minimum": 0, "maximum": max_score}
    item = {
        "type": "object",
        "properties": {"rationale": rationale, "score": score},
        "required": ["rationale", "score"] if strict else ["score"],
        "additionalProperties": False,
    }
    return keyed_schema(ids, item)


def group_request(
    prompt: GroupPrompt, question: str, answers: Sequence[str], ids: Sequence[str], reference: str | None, prefix: int
) -> JudgeRequest:
    """One request scoring ``answers`` (in the order shown), labelled ``ids``; ``prefix``: the length of the
    beginning they all share, shown once (0: none)."""
    parts = [f"Task: {prompt.task}"] if prompt.task else []
    parts += [prompt.guidance(), f"Question:\n{fence(question, 'question')}"]
    if reference is not None:
        parts.append(f"Reference answer (trusted):\n{fence(reference, 'reference')}")
    if prefix:
        parts.append(
            f"Every answer begins with the same text, shown once here:\n{fence(answers[0][:prefix])}\n"
            "Each answer below is shown from where it goes on after that beginning."
        )
    for answer_id, answer in zip(ids, answers, strict=True):
        rest = answer[prefix:]
        if not prefix:
            shown = fence_answer(answer)  # a transcript is shown whole (never with a shared beginning)
        else:
            shown = fence(rest) if rest else fence(rest) + "\n(the answer ends with the shared beginning)"
        label = f'Answer "{answer_id}"'
        parts.append(f"{heading(answer, label)}\n{shown}")
    listed = ", ".join(f'"{i}"' for i in ids)
    parts.append(
        f"Compare the answers with each other and score each from 0 (worst) to {prompt.max_score} (best). Reply "
        'with one JSON object only: {"<answer id>": {"rationale": "<one short sentence>", "score": <integer>}, '
        f"...}}, naming every answer id exactly once: {listed}. Give the rationale before the score."
    )
    messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
    return JudgeRequest.chat(
        messages,
        json_schema=group_schema(ids, prompt.max_score, prompt.rationale_chars),
        max_tokens=16 + len(ids) * prompt.max_tokens_per_answer,
        affinity=question,  # routing only: one question's requests share their opening (prefix caches)
    )
