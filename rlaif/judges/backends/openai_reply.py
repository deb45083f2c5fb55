"""Reading one OpenAI-compatible chat completion: the text, the first tokens' log-probabilities, the usage,
and a thinking model's reasoning kept apart from its answer (:mod:`rlaif.judges.thinking`). Pure functions,
unit-tested without a server."""

from __future__ import annotations

from typing import Any

from rlaif.judges import thinking
from rlaif.judges._top_logprobs import add_logprob
from rlaif.judges.protocol import (
    JudgeRequest,
    PermanentJudgeError,
    TokenLogprob,
    TransportResult,
)

# Where servers put the reasoning beside the content: vLLM's reasoning parsers (``reasoning_content``, and
# ``reasoning`` in newer releases), and hosted APIs that follow either. The SDK keeps such unknown fields.
REASONING_FIELDS = ("reasoning_content", "reasoning")


def parse_completion(completion: Any, request: JudgeRequest) -> TransportResult:
    """Text, logprobs and usage of a reply; a reply without them is a :class:`PermanentJudgeError`.

    The text is only what follows the reasoning. A request graded from text (no choice log-probabilities to
    read) whose reply ends inside the reasoning, or has nothing after it, is a :class:`ReasoningCutOffError`.
    """
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise PermanentJudgeError(f"malformed reply, no choices: {str(completion)[:200]!r}")
    first = choices[0]
    message = getattr(first, "message", None)
    content = getattr(message, "content", None)
    reason = getattr(first, "finish_reason", None)
    beside = _reasoning_field(message)
    in_text, text, cut_off = thinking.split_reasoning(content) if isinstance(content, str) else (None, "", False)
    reasoning = thinking.join_reasoning(beside, in_text)
    graded_by_logprobs = bool(request.choices and request.logprobs)
    # A choices request is graded from its first token's top-logprobs: a thinking judge's (reasoning, or a
    # reasoning marker first, which a reasoning parser leaves out of both texts) show it thinking, and
    # rlaif.rewards.verdicts.choices says so. Any other reply needs an answer after the reasoning.
    thought = bool(reasoning) or thinking.is_marker(_first_token(first))
    if not text.strip() and not (graded_by_logprobs and thought):
        if reasoning and not graded_by_logprobs:
            where = "an unclosed <think> block" if cut_off else f"finish_reason={reason}"
            raise thinking.cut_off_error(where, reasoning)
        raise PermanentJudgeError(f"empty reply content (finish_reason={reason})")
    token_logprobs = None
    if request.logprobs or request.top_logprobs:
        token_logprobs = _token_logprobs(first)
        if graded_by_logprobs and not token_logprobs[0].top:
            raise PermanentJudgeError("a choices request needs top_logprobs, and the reply has none")
    usage = getattr(completion, "usage", None)
    counted = getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", None)
    # The server's own count when it gives one (OpenAI, and vLLM when it counts them); else an estimate
    # from the reasoning text's length, so the metric never reads 0 for a judge that reasoned.
    reasoning_tokens = int(counted) if counted else thinking.estimate_tokens(reasoning)
    tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
    return TransportResult(
        text=text,
        token_logprobs=token_logprobs,
        tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
        # completion_tokens already counts the reasoning (it is billed as output); never report less than it.
        tokens_out=max(tokens_out, reasoning_tokens),
        reasoning=reasoning,
        reasoning_tokens=reasoning_tokens,
    )


def _reasoning_field(message: Any) -> str | None:
    extra = getattr(message, "model_extra", None) or {}
    for name in REASONING_FIELDS:
        value = getattr(message, name, None) or extra.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _first_token(choice: Any) -> str:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    return str(getattr(content[0], "token", "") or "") if content else ""


def _token_logprobs(choice: Any) -> list[TokenLogprob]:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        raise PermanentJudgeError("logprobs were requested but the reply has none")
    tokens = []
    for item in content:
        top: dict[str, float] = {}
        for alt in getattr(item, "top_logprobs", None) or []:
            add_logprob(top, alt.token, float(alt.logprob))
        tokens.append(TokenLogprob(token=item.token, logprob=float(item.logprob), top=top))
    return tokens
