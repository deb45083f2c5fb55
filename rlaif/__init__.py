"""rlaif: reinforcement fine-tuning of open LLMs with an LLM-as-a-judge reward.

``rlaif.open_reward(*overrides)`` is the reward of ``python -m rlaif.train`` for a script of one's own
(:mod:`rlaif.integrations.in_process`); ``import rlaif`` alone loads nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlaif.integrations.in_process import open_reward

__version__ = "0.1.0"
__all__ = ["__version__", "open_reward"]


def __getattr__(name: str) -> Any:
    if name == "open_reward":  # on first use: Hydra, the judges and the rewards load only when asked for
        from rlaif.integrations.in_process import open_reward

        return open_reward
    raise AttributeError(f"module 'rlaif' has no attribute {name!r}")
