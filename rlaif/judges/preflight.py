"""Before the policy is loaded, the judge must answer one real request; if it cannot, the run stops in
seconds with the endpoint, the error and what to do, instead of training on ``None`` rewards.
"""

from __future__ import annotations

import logging
import math

from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, JudgeResponse, ReasoningCutOffError
from rlaif.judges.thinking import THINKING_FIX, thinking_marker

log = logging.getLogger(__name__)

# Below this probability on the probe's yes/no, a first token taken by a reasoning marker is a thinking judge
# (the rewards' own floor for a scorable choice reply, rlaif.rewards.verdicts.choices.MIN_CHOICE_MASS).
PROBE_MIN_CHOICE_MASS = 0.02

# Tiny and answerable by any chat model; asked the way the rubric asks (choices, log-probs), so a
# backend that cannot serve that shape fails here rather than at the first step.
PROBE = JudgeRequest.chat(
    [{"role": "user", "content": "Is 2 + 2 equal to 4? Answer yes or no."}],
    max_tokens=1,
    choices=("yes", "no"),
    logprobs=True,
)


class JudgeUnavailableError(RuntimeError):
    """The judge did not answer the pre-flight request; the message says where, why and what to try."""


def check_judge(judge: Judge, timeout_s: float | None = None, *, first_token_verdicts: bool = True) -> float:
    """Send :data:`PROBE` (one attempt plus one retry on a transient error); its latency in seconds.

    Raises :class:`JudgeUnavailableError` when there is no answer. ``timeout_s`` defaults to the
    judge's own per-attempt timeout. ``first_token_verdicts``: the reward reads its verdicts from the first
    token (``reward.mode=logprob``, a preference): a judge that reasons before it answers cannot give them,
    which is also an error, naming the fix. Otherwise (``reward.mode=json``) a reply cut off inside its
    reasoning still proves the judge answers.
    """
    timeout = timeout_s if timeout_s is not None else judge.policy.timeout_s
    response = judge.probe(PROBE, timeout_s=timeout)
    cut_off = (response.error or "").startswith(ReasoningCutOffError.__name__)
    if not response.ok and not (cut_off and not first_token_verdicts):
        raise JudgeUnavailableError(
            f"the judge {judge.identity} did not answer a test request: {response.error}\n{_hint(judge)}"
        )
    if first_token_verdicts and (marker := _thinks_first(response)) is not None:
        raise JudgeUnavailableError(
            f"the judge {judge.identity} answered a yes/no test request with {marker!r} first: {THINKING_FIX}"
        )
    log.info("judge %s answered the pre-flight request in %.2f s", judge.identity, response.latency_s)
    return response.latency_s


def _thinks_first(response: JudgeResponse) -> str | None:
    """The reasoning marker that took the probe's first token while yes/no got almost nothing, or None."""
    tokens = response.token_logprobs
    if not tokens:
        return None
    listed = {**tokens[0].top}
    listed.setdefault(tokens[0].token, tokens[0].logprob)
    choices = {c.casefold() for c in PROBE.choices or ()}
    mass = sum(math.exp(v) for token, v in listed.items() if token.strip().casefold() in choices)
    return thinking_marker(listed) if mass < PROBE_MIN_CHOICE_MASS else None


def _hint(judge: Judge) -> str:
    """What to check: the transport's own ``unavailable_hint`` (it knows its setting names), else a generic one."""
    # A jury has no single transport: it carries its own hint.
    hint = getattr(getattr(judge, "transport", judge), "unavailable_hint", None)
    return f"hint: {hint or 'check the judge.* settings of this backend.'}"
