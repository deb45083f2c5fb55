"""The Amazon Nova RFT reward-function contract: samples in, ``{id, aggregate_reward_score, metrics_list}`` out.

Nova (Bedrock RFT, SageMaker training jobs, HyperPod) invokes a reward Lambda with a JSON **list** of
samples and expects a list of results back, same length and order, ids echoed. AWS documents three sample
shapes, and this module reads all of them:

- Bedrock RFT: ``{"id", "messages": [... user, assistant], "metadata": {"reference_answer", ...}}``;
- SageMaker "implementing reward functions": ``reference_answer`` (and custom fields) at the root;
- SageMaker RFT evaluation: the answer's role is ``nova_assistant`` and ``content`` a list of text blocks.

The policy's answer is the last message (role ``assistant`` or ``nova_assistant``); the messages before it
are the prompt. A multi-turn, tool-using sample (Nova 2.0 RFT's OpenAI conversational format: assistant turns
with ``tool_calls``, ``tool`` messages with the results) is a transcript: the messages after its last user turn
are the answer, judged whole (:mod:`rlaif.rewards.transcript`; read with the standard library only).
A result's ``metrics_list`` holds ``{"name", "value", "type"}`` with type ``"Reward"``
(used in training) or ``"Metric"`` (reported only). Nothing beyond the standard library and
:mod:`rlaif.data.records` (itself standard-library only at import): this is also the deployed Lambda's import path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rlaif.data.records import nova_fields

ANSWER_ROLES = ("assistant", "nova_assistant")
PROMPT_ROLES = ("system", "user", "assistant", "nova_assistant")

MetricType = Literal["Reward", "Metric"]


class SampleError(ValueError):
    """A sample that breaks the contract; the message names the sample and the field."""


@dataclass(frozen=True)
class NovaSample:
    """One sample, read: the prompt turns (roles as TRL and rlaif's rewards expect), the answer, the rest."""

    id: str
    prompt: list[dict[str, str]]
    answer: str | list[dict[str, Any]]  # a tool-using sample's messages after its last user turn
    reference: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # every other field, root and metadata


def samples_of(event: Any) -> list[Any]:
    """The samples of one invocation: the event itself (a list), or a single sample (a mapping)."""
    if isinstance(event, list):
        return event
    if isinstance(event, Mapping):
        return [event]
    raise SampleError(f"event: expected a JSON list of samples, got {type(event).__name__}")


def sample_id(raw: Any, index: int) -> str:
    """The id to echo: the sample's own, or ``sample[<index>]`` when it has none (its result says why)."""
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str | int) and not isinstance(raw.get("id"), bool):
        return str(raw["id"])
    return f"sample[{index}]"


def parse_sample(raw: Any, index: int) -> NovaSample:
    """Read one sample; :class:`SampleError` names the sample (index and id) and the field at fault."""
    where = f"sample[{index}]"
    if not isinstance(raw, Mapping):
        raise SampleError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    raw_id = raw.get("id")
    if raw_id is None:
        raise SampleError(f"{where}: missing field 'id'")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise SampleError(f"{where}: field 'id' must be a string, got {type(raw_id).__name__}")
    where = f"sample[{index}] (id {raw_id!r})"
    messages = raw.get("messages")
    if messages is None:
        raise SampleError(f"{where}: missing field 'messages'")
    if not isinstance(messages, list) or not messages:
        raise SampleError(f"{where}: field 'messages' must be a non-empty list")
    if any(isinstance(m, Mapping) and (m.get("role") == "tool" or m.get("tool_calls")) for m in messages):
        return _tool_sample(raw, messages, where)
    turns = [_turn(m, f"{where}: messages[{k}]") for k, m in enumerate(messages)]
    role, answer = turns[-1]
    if role not in ANSWER_ROLES:
        raise SampleError(
            f"{where}: messages[{len(turns) - 1}] has role {role!r}; the last message must be the policy's "
            f"answer (role {' or '.join(ANSWER_ROLES)})"
        )
    if not any(r == "user" for r, _ in turns[:-1]):
        raise SampleError(f"{where}: field 'messages' has no user turn before the answer")
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise SampleError(f"{where}: field 'metadata' must be an object, got {type(metadata).__name__}")
    reference, extra = nova_fields(raw, metadata or {})
    prompt = [{"role": "assistant" if r == "nova_assistant" else r, "content": text} for r, text in turns[:-1]]
    return NovaSample(id=str(raw_id), prompt=prompt, answer=answer, reference=reference, extra=extra)


def _tool_sample(raw: Mapping[str, Any], messages: list[Any], where: str) -> NovaSample:
    """A tool-using sample: the prompt up to its last user turn, then the transcript (assistant turns, their tool
    calls, the tools' results, the final answer last)."""
    users = [k for k, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        raise SampleError(f"{where}: field 'messages' has no user turn before the answer")
    start = users[-1] + 1
    prompt_turns = [_turn(m, f"{where}: messages[{k}]") for k, m in enumerate(messages[:start])]
    names: dict[str, str] = {}  # tool_call_id -> the tool's name, so a result says which tool gave it
    transcript = []
    for k, message in enumerate(messages[start:], start=start):
        transcript.append(_transcript_turn(message, f"{where}: messages[{k}]", names))
    if not transcript or transcript[-1]["role"] != "assistant" or transcript[-1].get("tool_calls"):
        raise SampleError(
            f"{where}: the last message must be the policy's final answer (role {' or '.join(ANSWER_ROLES)}, "
            "without tool_calls)"
        )
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise SampleError(f"{where}: field 'metadata' must be an object, got {type(metadata).__name__}")
    reference, extra = nova_fields(raw, metadata or {})
    prompt = [{"role": "assistant" if r == "nova_assistant" else r, "content": text} for r, text in prompt_turns]
    return NovaSample(id=str(raw["id"]), prompt=prompt, answer=transcript, reference=reference, extra=extra)


def _transcript_turn(message: Any, where: str, names: dict[str, str]) -> dict[str, Any]:
    if not isinstance(message, Mapping) or message.get("role") not in (*ANSWER_ROLES, "tool"):
        role = message.get("role") if isinstance(message, Mapping) else None
        raise SampleError(f"{where}: after the last user turn only assistant and tool messages, got role {role!r}")
    if message["role"] == "tool":
        _, text = _turn({**message, "role": "user"}, where)
        call_id = str(message.get("tool_call_id") or "")
        return {"role": "tool", "name": str(message.get("name") or names.get(call_id) or "tool"), "content": text}
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise SampleError(f"{where}: 'tool_calls' must be a list")
    for n, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise SampleError(f"{where}: tool_calls[{n}] must be {{'type': 'function', 'function': {{'name', ...}}}}")
        if call.get("id") is not None:
            names[str(call["id"])] = function["name"]
    content = message.get("content")
    _, text = _turn({"role": "assistant", "content": content}, where) if content is not None else ("", "")
    turn: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        turn["tool_calls"] = [dict(c) for c in calls]
    return turn


def _turn(message: Any, where: str) -> tuple[str, str]:
    if not isinstance(message, Mapping):
        raise SampleError(f"{where}: expected an object with 'role' and 'content'")
    role = message.get("role")
    if role not in PROMPT_ROLES:
        raise SampleError(f"{where}: role must be one of {', '.join(PROMPT_ROLES)}, got {role!r}")
    content = message.get("content")
    if isinstance(content, str):
        return str(role), content
    if isinstance(content, list) and all(isinstance(b, Mapping) and isinstance(b.get("text"), str) for b in content):
        return str(role), "".join(b["text"] for b in content)  # [{"type": "text", "text": ...}, ...]
    raise SampleError(f"{where}: 'content' must be a string or a list of text blocks, got {type(content).__name__}")


def metric(name: str, value: float, kind: MetricType = "Metric") -> dict[str, Any]:
    return {"name": name, "value": float(value), "type": kind}


def result(sample_id: str, score: float, metrics: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One sample's result; the score is clamped to [0, 1] (NaN is not a score: callers decide first)."""
    if not math.isfinite(score):
        raise ValueError(f"{sample_id}: the score must be a finite number, got {score!r}")
    return {"id": sample_id, "aggregate_reward_score": clamp(score), "metrics_list": list(metrics)}


def clamp(score: float) -> float:
    """A score in [0, 1], as Nova's training expects."""
    return min(1.0, max(0.0, float(score)))


def check_results(results: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
    """A Nova reward function's reply, checked against the contract and the ids it was sent."""
    if not isinstance(results, list) or len(results) != len(ids):
        got = f"{len(results)} results" if isinstance(results, list) else type(results).__name__
        raise SampleError(f"reward function reply: expected a list of {len(ids)} results, got {got}")
    for k, (item, expected) in enumerate(zip(results, ids, strict=True)):
        if not isinstance(item, Mapping) or str(item.get("id")) != expected:
            raise SampleError(f"reward function reply: result {k} should have id {expected!r}")
        score = item.get("aggregate_reward_score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise SampleError(f"reward function reply: result {k} (id {expected!r}) has no numeric score")
        for m in item.get("metrics_list") or []:
            if not (
                isinstance(m, Mapping) and isinstance(m.get("name"), str) and m.get("type") in ("Reward", "Metric")
            ):
                raise SampleError(f"reward function reply: result {k} (id {expected!r}) has a malformed metric {m!r}")
    return [dict(item) for item in results]
