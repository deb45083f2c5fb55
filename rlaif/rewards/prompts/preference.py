"""The preference judge's instruction (from config) and the pairwise request it renders.

The method asks preference judges to say explicitly what makes one answer better, with concrete
examples. Examples alternate the better answer between positions A and B, so the prompt itself
teaches no position bias; the two answers are fenced as data in tags they cannot close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.errors import RubricError
from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.fencing import fence, ignore_instructions
from rlaif.rewards.transcript import fence_answer, heading

CHOICES = ("A", "B")
_SYSTEM = "You are a strict, fair judge comparing two answers to the same question. " + ignore_instructions(
    "answer_a", "answer_b"
)


@dataclass(frozen=True)
class PreferenceExample:
    """A worked comparison: a question, the better and the worse answer, and why."""

    question: str
    better: str
    worse: str
    why: str = ""


@dataclass(frozen=True)
class PreferenceSpec:
    """What makes an answer better, in words and examples."""

    instruction: str
    task: str = ""
    examples: tuple[PreferenceExample, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "preference") -> PreferenceSpec:
        """Validate a mapping (from YAML / Hydra); errors name ``source.key``."""
        if not isinstance(data, Mapping):
            raise RubricError(f"{source}: expected a mapping with 'instruction' and optional 'task', 'examples'")
        unknown = set(data) - {"instruction", "task", "examples"}
        if unknown:
            raise RubricError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: instruction, task, examples")
        instruction = data.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise RubricError(f"{source}.instruction: required: say what makes one answer better than another")
        raw = data.get("examples") or ()
        if isinstance(raw, str) or not isinstance(raw, Sequence):
            raise RubricError(f"{source}.examples: expected a list of {{question, better, worse, why}}")
        examples = tuple(_example(e, f"{source}.examples[{i}]") for i, e in enumerate(raw))
        return cls(instruction=instruction.strip(), task=str(data.get("task") or "").strip(), examples=examples)


def _example(data: Any, where: str) -> PreferenceExample:
    keys = ("question", "better", "worse")
    if not isinstance(data, Mapping) or not all(isinstance(data.get(k), str) for k in keys):
        raise RubricError(f"{where}: expected {{question, better, worse, why}} with text values")
    return PreferenceExample(data["question"], data["better"], data["worse"], str(data.get("why") or ""))


def _shown_examples(spec: PreferenceSpec) -> str:
    blocks = []
    for k, e in enumerate(spec.examples):
        first, second, winner = (e.better, e.worse, "A") if k % 2 == 0 else (e.worse, e.better, "B")
        why = f" ({e.why})" if e.why else ""
        blocks.append(
            f"Example {k + 1}. Question: {e.question}\n{fence(first, 'answer_a')}\n{fence(second, 'answer_b')}\n"
            f"Better: {winner}{why}\n"
        )
    return "\n".join(blocks) + "\n" if blocks else ""


def pair_request(
    spec: PreferenceSpec, question: str, answer_a: str, answer_b: str, reference: str | None = None
) -> JudgeRequest:
    """Which of two answers is better: the first answer token, scored over the choices ``A`` / ``B``."""
    parts = [f"Task: {spec.task}"] if spec.task else []
    parts.append(f"What makes an answer better:\n{spec.instruction}")
    head = "\n\n".join(parts) + "\n\n" + _shown_examples(spec)
    trusted = f"Reference answer (trusted):\n{fence(reference, 'reference')}\n\n" if reference is not None else ""
    user = (
        f"{head}Question:\n{fence(question, 'question')}\n\n{trusted}"
        f"{heading(answer_a, 'Answer A')}\n{fence_answer(answer_a, 'answer_a')}\n\n"
        f"{heading(answer_b, 'Answer B')}\n{fence_answer(answer_b, 'answer_b')}\n\n"
        "Which answer is better? Reply with A or B only."
    )
    messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]
    return JudgeRequest.chat(messages, choices=CHOICES, max_tokens=1, logprobs=True, top_logprobs=20, affinity=question)
