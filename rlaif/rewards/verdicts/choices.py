"""The one rule that turns a judge's reply into P(choice), the same for every backend.

Transports return what the model said: its text and, where the backend has them, the first token's
top log-probabilities (vLLM/OpenAI top-logprobs, the local judge's top of one forward pass). This
module decides. An answer the judge did not give, a reply off the menu or broken numbers are a
:class:`~rlaif.rewards.verdicts.parsing.VerdictError`: a failure, never a silent 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from rlaif.judges.protocol import TokenLogprob
from rlaif.judges.thinking import THINKING_FIX, thinking_marker
from rlaif.rewards.verdicts.parsing import VerdictError

# Below this much probability on the allowed choices (first token, all choices together) the judge did
# not answer the question: a failure. The packaged SmolLM2-135M judge (local transport, top-20) spreads
# its first token widely ("No" 0.29, "The" 0.23, "Yes" 0.07 is typical), so real masses are low.
# Measured on the everyday rubric's yes/no requests: 576 requests (72 shipped prompts x reference,
# off-topic, rude and garbage answers x 2 criteria, no reference shown) min 0.064, median 0.18, max
# 0.43; 288 requests on answers sampled from the 135M policy (reference shown, as in the default run)
# min 0.039, 1st percentile 0.062, median 0.31. Preference A/B requests (144): min 0.105, median 0.15.
# Non-judging prompts ("Write a poem about the sea.") given yes/no choices: 0 to 0.025 (8 of 10 under
# 0.015). 0.02 keeps every measured judge request scorable (a 0.05 or 0.1 cut would have failed 0.7% or
# 3% of the policy's answers) while an answer with no yes/no in sight fails.
MIN_CHOICE_MASS = 0.02
# A choice missing from the top list has log P <= the smallest listed value (the list holds the most
# likely tokens). It gets that value minus ln 2 (at most half its probability): finite, so the
# renormalisation stays defined, and always ranked below every listed choice.
CHOICE_FLOOR_MARGIN = math.log(2.0)
# Float rounding in a log-softmax can give +1e-7 for a certain token; anything above is broken.
_LOGPROB_TOLERANCE = 1e-6
# What a text reply may wrap its choice in: quotes, backticks and markdown emphasis.
_WRAPPERS = "\"'`*_"


class Reply(Protocol):
    """What a verdict is read from: a :class:`~rlaif.judges.base.JudgeResponse` or a ``TransportResult``."""

    @property
    def text(self) -> str | None: ...

    @property
    def token_logprobs(self) -> list[TokenLogprob] | None: ...


def choice_distribution(choices: Sequence[str], reply: Reply) -> dict[str, float]:
    """P(each choice), renormalised over ``choices``; raises :class:`VerdictError` when there is none.

    With log-probabilities (the first token's top list, plus the token itself), a listed token counts
    for a choice when, stripped of whitespace, it equals that choice or is a non-empty prefix of it and
    of no other one: ``"yes"``, ``" yes"``, ``"ye"`` and ``"y"`` all count for ``"yes"``, ``"p"`` counts
    for neither ``"pass"`` nor ``"pause"``. The comparison ignores case only for choices longer than one
    character (``"Yes"`` counts for ``"yes"``, but ``"a"`` does not count for ``"A"``: it is an article).
    Spellings of one choice add up. When the listed tokens put less than :data:`MIN_CHOICE_MASS` on all
    the choices together, the reply is off the menu; when a reasoning marker took the first token
    (:func:`rlaif.judges.thinking.thinking_marker`), the error says the judge thinks first and how to fix it.
    A choice with no listed token, while another has
    mass, gets ``min(listed) - CHOICE_FLOOR_MARGIN``. Non-finite or positive log-probabilities fail.

    Without log-probabilities (Bedrock, or a judge asked to write its verdict) the reply must *be* one
    choice, up to surrounding whitespace, quotes, backticks, markdown emphasis, one final period and
    (for multi-letter choices) case: a hard 1 / 0. ``"[[A]]"`` or ``"A, because ..."`` fail. So does
    a response with ``error`` set.
    """
    if len(set(choices)) < 2:
        raise ValueError(f"a verdict needs at least two distinct choices, got {list(choices)}")
    error = getattr(reply, "error", None)
    if error is not None:
        raise VerdictError(f"judge error: {error}")
    tokens = reply.token_logprobs
    if tokens:
        first = tokens[0]
        listed = dict(first.top)
        listed.setdefault(first.token, first.logprob)
        return _from_logprobs(choices, listed)
    return _from_text(choices, reply.text)


def _from_logprobs(choices: Sequence[str], listed: Mapping[str, float]) -> dict[str, float]:
    for token, value in listed.items():
        if not math.isfinite(value) or value > _LOGPROB_TOLERANCE:
            raise VerdictError(f"invalid log-probability {value!r} for token {token!r}")
    matched: dict[str, list[float]] = {choice: [] for choice in choices}
    for token, value in listed.items():
        owners = _owners(token.strip(), choices)
        if len(owners) == 1:  # a prefix shared by several choices says nothing about which one
            matched[owners[0]].append(min(value, 0.0))
    scores = {c: _logsumexp(values) for c, values in matched.items() if values}
    mass = sum(math.exp(v) for v in scores.values())
    if mass < MIN_CHOICE_MASS:
        top = sorted(listed.items(), key=lambda kv: -kv[1])[:3]
        if (marker := thinking_marker(listed)) is not None:  # not unsure: it started to reason
            raise VerdictError(
                f"off-menu reply: P({'|'.join(choices)}) = {mass:.3f}, the first token is {marker!r} "
                f"(P = {math.exp(listed[marker]):.2f}): {THINKING_FIX}"
            )
        raise VerdictError(f"off-menu reply: P({'|'.join(choices)}) = {mass:.3f}; most likely {top}")
    floor = min(listed.values()) - CHOICE_FLOOR_MARGIN
    logits = {c: scores.get(c, floor) for c in choices}
    norm = _logsumexp(list(logits.values()))
    return {c: math.exp(v - norm) for c, v in logits.items()}


def _owners(token: str, choices: Sequence[str]) -> list[str]:
    """The choices ``token`` spells exactly, else those it is a prefix of (empty when it is blank)."""
    if not token:
        return []
    wanted = {c: c.strip() for c in choices}
    exact = [c for c, w in wanted.items() if _same(token, w)]
    return exact or [c for c, w in wanted.items() if len(token) < len(w) and _same(token, w[: len(token)], w)]


def _same(text: str, target: str, choice: str | None = None) -> bool:
    # Case matters for one-letter choices only: "a" is an article, "A" a verdict.
    if len(choice if choice is not None else target) > 1:
        return text.casefold() == target.casefold()
    return text == target


def _from_text(choices: Sequence[str], text: str | None) -> dict[str, float]:
    if text is None or not text.strip():
        raise VerdictError("empty judge reply and no log-probabilities")
    reply = text.strip().strip(_WRAPPERS).strip()
    if reply.endswith("."):
        reply = reply[:-1].strip().strip(_WRAPPERS).strip()
    picked = [c for c in choices if _same(reply, c.strip())]
    if len(picked) != 1:
        raise VerdictError(f"off-menu reply {text[:200]!r}: expected exactly one of {list(choices)}")
    return {c: 1.0 if c == picked[0] else 0.0 for c in choices}


def _logsumexp(values: Sequence[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))
