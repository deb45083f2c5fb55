"""Before the policy is loaded, the judge must answer one real request; if it cannot, the run stops in
seconds with the endpoint, the error and what to do, instead of training on ``None`` rewards.
"""

from __future__ import annotations

import logging

from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest

log = logging.getLogger(__name__)

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


def check_judge(judge: Judge, timeout_s: float | None = None) -> float:
    """Send :data:`PROBE` (one attempt plus one retry on a transient error); its latency in seconds.

    Raises :class:`JudgeUnavailableError` when there is no answer. ``timeout_s`` defaults to the
    judge's own per-attempt timeout.
    """
    timeout = timeout_s if timeout_s is not None else judge.policy.timeout_s
    response = judge.probe(PROBE, timeout_s=timeout)
    if not response.ok:
        raise JudgeUnavailableError(
            f"the judge {judge.identity} did not answer a test request: {response.error}\n{_hint(judge)}"
        )
    log.info("judge %s answered the pre-flight request in %.2f s", judge.identity, response.latency_s)
    return response.latency_s


def _hint(judge: Judge) -> str:
    """What to check: the transport's own ``unavailable_hint`` (it knows its setting names), else a generic one."""
    # A jury has no single transport: it carries its own hint.
    hint = getattr(getattr(judge, "transport", judge), "unavailable_hint", None)
    return f"hint: {hint or 'check the judge.* settings of this backend.'}"
