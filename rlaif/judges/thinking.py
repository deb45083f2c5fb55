"""Thinking judges: models that reason before they answer (Qwen3, DeepSeek-R1 distills, gpt-oss).

Their reasoning comes back in one of three shapes: a ``<think>...</think>`` block at the start of the reply
text (DeepSeek-R1 distills, whose chat template opens the block in the prompt, send only its end); a
``reasoning_content`` / ``reasoning`` field beside the text (vLLM's reasoning parsers, some hosted APIs); or a
``reasoningContent`` block in a Bedrock Converse reply. Transports split it off here, at the boundary, so that
a verdict is only ever read from what follows the reasoning (never from a JSON object inside it).

Asked for one first token (``reward.mode=logprob``), a thinking judge spends it on a reasoning marker
(``<think>``, ``<|channel|>``) or a filler word (``So``, ``Okay``): :func:`thinking_marker` tells that apart
from a judge that is merely unsure, and :data:`THINKING_FIX` says what to do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rlaif.judges.protocol import ReasoningCutOffError
from rlaif.judges.rate_limits import CHARS_PER_TOKEN

OPEN_TAG, CLOSE_TAG = "<think>", "</think>"

# Reasoning markers a first token may start with (special tokens of the reasoning templates), and filler
# words a thinking model opens its reasoning with when the template already opened the block (R1 distills).
MARKER_PREFIXES = ("<think", "<reason", "<|channel|>", "<|thinking", "<|begin_of_thought", "<|start_thinking")
FILLER_WORDS = frozenset({"so", "okay", "ok", "alright", "hmm", "let", "well", "first"})
# A first token is taken by thinking when a marker is the most likely token and the markers listed hold at
# least this much probability together (and the caller saw almost none on the verdict words). A small
# judge that is merely unsure spreads its first token ("No" 0.29, "The" 0.23, ...): no marker gets half.
THINKING_MIN_MASS = 0.5

THINKING_FIX = (
    "the judge reasons before it answers, so its first token is no verdict: switch its thinking off with "
    "judge.extra_body (vLLM with Qwen3: +judge.extra_body.chat_template_kwargs.enable_thinking=false; "
    "an API with reasoning effort: +judge.extra_body.reasoning_effort=low; Bedrock: judge.additional_fields), "
    "or let it think and grade its written verdict with reward.mode=json and a larger reward.json_max_tokens"
)
CUT_OFF_FIX = (
    "raise reward.json_max_tokens (the judge's token budget, reasoning included), "
    "or switch its thinking off with judge.extra_body (Bedrock: judge.additional_fields)"
)


def split_reasoning(text: str) -> tuple[str | None, str, bool]:
    """``(reasoning, answer, cut_off)`` of a reply text: a leading ``<think>`` block (or, without its opening
    tag, everything up to ``</think>``) is the reasoning, the rest the answer. ``cut_off``: an opened block
    that never closed, so there is no answer (the answer is then empty)."""
    stripped = text.lstrip()
    if stripped.startswith(OPEN_TAG):
        body = stripped[len(OPEN_TAG) :]
        if CLOSE_TAG not in body:
            return body.strip() or None, "", True
        reasoning, _, answer = body.partition(CLOSE_TAG)
        return reasoning.strip() or None, answer.strip(), False
    if CLOSE_TAG in text and OPEN_TAG not in text:  # the template opened the block in the prompt
        reasoning, _, answer = text.partition(CLOSE_TAG)
        return reasoning.strip() or None, answer.strip(), False
    return None, text, False


def join_reasoning(*parts: str | None) -> str | None:
    """The non-empty parts, one paragraph each (a reasoning field and a block in the text), or None."""
    kept = [p.strip() for p in parts if p and p.strip()]
    return "\n\n".join(kept) or None


def estimate_tokens(text: str | None) -> int:
    """Tokens of a reasoning text the server did not count, at the rate limits' characters per token."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def is_marker(token: str) -> bool:
    """A reasoning marker or an opening filler word (whitespace and case aside)."""
    word = token.strip()
    return bool(word) and (word.startswith(MARKER_PREFIXES) or word.casefold() in FILLER_WORDS)


def thinking_marker(listed: Mapping[str, float]) -> str | None:
    """The marker that took the first token, from its top log-probabilities; None when no marker is the most
    likely token or the markers hold less than :data:`THINKING_MIN_MASS` together. The caller adds its own
    condition that the verdict words got almost nothing."""
    if not listed:
        return None
    top = max(listed, key=lambda token: listed[token])
    mass = sum(math.exp(v) for token, v in listed.items() if is_marker(token))
    return top if is_marker(top) and mass >= THINKING_MIN_MASS else None


def cut_off_error(where: str, reasoning: str) -> ReasoningCutOffError:
    """The failure of a reply that ended inside its reasoning (``where``: how it ended), naming the fix."""
    return ReasoningCutOffError(
        f"the judge's reply was cut off inside its reasoning ({where}, {len(reasoning)} characters of "
        f"reasoning, no answer after it): {CUT_OFF_FIX}",
        reasoning,
    )
