"""Building the judge and the reward that grades with it: the one way every entry point and the Nova Lambda
do it, so each closes its judge (and the vLLM server a judge may have launched) the same way.

The judge's cache goes to ``cache_home/judge_cache`` unless ``judge.policy`` says otherwise (a resumed run
must not pay again for the answers already judged); without ``cache_home`` the policy is used as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rlaif.judges.preflight import check_judge
from rlaif.rewards.capabilities import reads_first_token


def judge_policy(judge_cfg: DictConfig, cache_home: Path | None) -> dict[str, Any]:
    """The judge's limits, with its cache on disk in ``cache_home`` unless set (or switched off)."""
    container = OmegaConf.to_container(judge_cfg.get("policy") or OmegaConf.create({}), resolve=True)
    assert isinstance(container, dict)
    policy = {str(k): v for k, v in container.items()}
    if cache_home is not None and policy.get("cache", True) and not policy.get("cache_path"):
        policy["cache_path"] = str(cache_home / "judge_cache")
    return policy


def build_judge(judge_cfg: DictConfig, cache_home: Path | None = None) -> Any:
    """The judge of ``judge_cfg`` (any ``judge=`` config: a backend, a jury)."""
    return instantiate(judge_cfg, policy=judge_policy(judge_cfg, cache_home), _convert_="all")


def build_judge_and_reward(
    judge_cfg: DictConfig, reward_cfg: DictConfig, cache_home: Path | None = None, **reward_kwargs: Any
) -> tuple[Any, Any]:
    """The judge and the reward around it; the judge is closed again if the reward cannot be built.

    For an owner that keeps both for its whole life (the Nova Lambda's container); everyone else uses
    :func:`open_judge_and_reward`.
    """
    judge = build_judge(judge_cfg, cache_home)
    try:
        return judge, instantiate(reward_cfg, judge=judge, _convert_="all", **reward_kwargs)
    except BaseException:
        judge.close()  # a server the judge launched must not outlive a reward that never existed
        raise


@contextmanager
def open_judge_and_reward(
    judge_cfg: DictConfig, reward_cfg: DictConfig, cache_home: Path | None = None, **reward_kwargs: Any
) -> Iterator[tuple[Any, Any]]:
    """:func:`build_judge_and_reward` as a context: the judge is closed on the way out, whatever happens."""
    judge, reward = build_judge_and_reward(judge_cfg, reward_cfg, cache_home, **reward_kwargs)
    try:
        yield judge, reward
    finally:
        judge.close()


def check_judge_for(judge: Any, reward: Any) -> float:
    """The pre-flight request (:func:`rlaif.judges.preflight.check_judge`) for the judge of ``reward``: a reward
    that reads its verdict from the judge's first token cannot use a judge that reasons first."""
    return check_judge(judge, first_token_verdicts=reads_first_token(reward))
