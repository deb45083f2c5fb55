"""The first answer token's top alternatives, as every transport with log-probabilities reports them.

One size and one merge rule for all of them, so the verdict rule (:mod:`rlaif.rewards.verdicts.choices`) sees
the same view of the model whichever backend answered.
"""

from __future__ import annotations

import math

# A choices request reads the first token's top list; 20 is both OpenAI's maximum and vLLM's default
# --max-logprobs, so it works against either without server flags, and the local judge matches it.
CHOICE_TOP_LOGPROBS = 20


def add_logprob(top: dict[str, float], token: str, value: float) -> None:
    """Put ``token`` in ``top``; two token ids can share a text (byte fallbacks show as the same string),
    and then P(that text) is their sum."""
    if token in top:
        peak = max(top[token], value)
        value = peak + math.log(math.exp(top[token] - peak) + math.exp(value - peak))
    top[token] = value
