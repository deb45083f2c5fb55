"""The ``environment`` group: TRL's tool-using rollouts (``environment_factory``, ``tools``) wired into GRPOTrainer.

``tool_use(cfg.environment, reward, tokenizer, callbacks)`` gives ``train.py`` GRPOTrainer's reward functions,
callbacks and, with an environment, its tool arguments. TRL runs the rollouts: each tool call's result (or
``{"error": ...}`` when the tool raises) goes back to the model, up to ``grpo.max_tool_calling_iterations`` rounds.
rlaif adds three things:

- the environment's ``get_reward()`` combined with the judge's score in ONE reward, ``judge + reward_weight *
  environment`` (``reward_weight: null``: TRL's own separate reward column, weight 1, which TRL's nansum would
  score alone where the judge failed; with a weight, a judge failure stays a failure);
- ``tools/errors`` in every step's logs: tool calls that raised, beside TRL's ``tools/call_frequency`` and
  ``tools/failure_frequency``;
- ``chat_template``: a tool-calling chat template for a policy whose own has none (the packaged SmolLM2's).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict

from rlaif.errors import ConfigError, parse_settings
from rlaif.rewards.capabilities import call_reward

MIN_TRL, MIN_TRANSFORMERS = "1.16", "5.2"  # environment_factory with get_reward; transformers' tool-call parsing
TRL_TEMPLATE = "trl:"  # chat_template: trl:NAME is TRL's shipped trl/chat_templates/NAME.jinja
ENV_REWARD = "_rlaif_get_reward"  # where a wrapped environment keeps its get_reward, hidden from TRL's probe


class EnvironmentSettings(BaseModel):
    """``environment`` (conf/environment/*.yaml); ``factory`` and ``tools`` are Hydra ``_target_`` nodes."""

    model_config = ConfigDict(extra="forbid")
    factory: Any = None
    tools: list[Any] = []
    reward_weight: float | None = 1.0
    chat_template: str | None = None


def installed_versions() -> tuple[str, str]:
    """(TRL, transformers) as installed; the one read the version check makes (tests replace it)."""
    import transformers
    import trl

    return trl.__version__, transformers.__version__


def check_environment(env: DictConfig | None) -> EnvironmentSettings | None:
    """The ``environment`` block checked (keys, versions) before anything is loaded; None when there is none."""
    from packaging.version import Version

    if env is None:
        return None
    values = OmegaConf.to_container(env, resolve=False) if isinstance(env, DictConfig) else env
    settings = parse_settings(EnvironmentSettings, values if isinstance(values, dict) else {}, "environment")
    if settings.factory is None and not settings.tools:
        return None
    trl_version, transformers_version = installed_versions()
    if Version(trl_version) < Version(MIN_TRL) or Version(transformers_version) < Version(MIN_TRANSFORMERS):
        raise ConfigError(
            f"environment: tool-using rollouts need trl>={MIN_TRL} and transformers>={MIN_TRANSFORMERS} "
            f"(installed: trl {trl_version}, transformers {transformers_version}); "
            f'pip install "trl>={MIN_TRL}" "transformers>={MIN_TRANSFORMERS}", or environment=none'
        )
    return settings


class ToolErrorCounter:
    """Tool calls that raised, in this process, since the last step's log."""

    def __init__(self) -> None:
        self.errors = 0

    def counted(self, tool: Callable[..., Any]) -> Callable[..., Any]:
        """``tool`` counting its exceptions, which it still raises (TRL turns them into the tool's result)."""
        if inspect.iscoroutinefunction(tool):

            @functools.wraps(tool)
            async def counted_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await tool(*args, **kwargs)
                except Exception:
                    self.errors += 1
                    raise

            return counted_async

        @functools.wraps(tool)
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return tool(*args, **kwargs)
            except Exception:
                self.errors += 1
                raise

        return counted

    def take(self) -> int:
        errors, self.errors = self.errors, 0
        return errors


@dataclass
class CountingFactory:
    """``factory``'s environments with their tools counted and, with ``hide_reward``, their ``get_reward`` kept
    from TRL (rlaif combines it with the judge's score). Each instance's class becomes a subclass made once."""

    factory: Callable[[], Any]
    counter: ToolErrorCounter
    hide_reward: bool
    _classes: dict[type, type] = field(default_factory=dict)

    def __call__(self) -> Any:
        instance = self.factory()
        instance.__class__ = self._wrapped(type(instance))
        return instance

    def _wrapped(self, cls: type) -> type:
        if cls not in self._classes:
            members: dict[str, Any] = {
                name: self.counter.counted(fn)
                for name, fn in inspect.getmembers(cls, predicate=inspect.isfunction)
                if not name.startswith("_") and name not in ("reset", "get_reward")
            }
            get_reward = getattr(cls, "get_reward", None)
            if self.hide_reward and callable(get_reward):
                members |= {ENV_REWARD: get_reward, "get_reward": None}  # None: no function for TRL's probe to find
            self._classes[cls] = type(cls.__name__, (cls,), {**members, "__module__": cls.__module__})
        return self._classes[cls]


class ToolUseReward:
    """The judge's reward, plus ``weight`` x each rollout's ``get_reward()`` when a weight is set (a judge failure,
    None, stays None); logs ``tools/errors`` and ``environment_reward`` through TRL's ``log_metric``, so they reach
    every logger TRL feeds (TRL runs the tool loop just before it calls the rewards, once per generation batch)."""

    def __init__(self, reward: Any, weight: float | None, counter: ToolErrorCounter) -> None:
        self.reward, self.weight, self.counter = reward, weight, counter
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        scores = await call_reward(self.reward, prompts, completions, **kwargs)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric("tools/errors", self.counter.take())
        if self.weight is None:
            return scores
        extra = [await _env_reward(e) for e in kwargs.get("environments") or [None] * len(scores)]
        if callable(log_metric) and (known := [x for x in extra if x is not None]):
            log_metric("environment_reward", sum(known) / len(known))
        return [s if s is None or x is None else s + self.weight * x for s, x in zip(scores, extra, strict=True)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reward, name)


async def _env_reward(environment: Any) -> float | None:
    get_reward = getattr(environment, ENV_REWARD, None)
    if get_reward is None:
        return None
    value = get_reward()
    return float(await value if inspect.isawaitable(value) else value)


def tool_use(env: DictConfig | None, reward: Any, tokenizer: Any, callbacks: list[Any]) -> dict[str, Any]:
    """GRPOTrainer's ``reward_funcs``, ``callbacks`` and, with an environment (``environment=none``: none), its
    ``environment_factory`` and ``tools``, around ``reward``; sets ``tokenizer``'s chat template if configured."""
    settings = check_environment(env)
    if settings is None or env is None:
        return {"reward_funcs": [reward], "callbacks": callbacks}
    counter = ToolErrorCounter()
    kwargs: dict[str, Any] = {"tools": [counter.counted(t) for t in instantiate(env.tools, _convert_="all")]}
    if settings.factory is not None:
        factory = instantiate(env.factory)
        kwargs["environment_factory"] = CountingFactory(factory, counter, settings.reward_weight is not None)
    if settings.chat_template is not None:
        tokenizer.chat_template = read_chat_template(settings.chat_template)
    reward = ToolUseReward(reward, settings.reward_weight, counter)
    return {"reward_funcs": [reward], "callbacks": callbacks, **kwargs}


def read_chat_template(name: str) -> str:
    """``trl:NAME`` (TRL's shipped template) or a path to a Jinja file; a missing one is the user's error."""
    if name.startswith(TRL_TEMPLATE):
        import trl

        path = Path(trl.__file__).parent / "chat_templates" / f"{name.removeprefix(TRL_TEMPLATE)}.jinja"
    else:
        path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"environment.chat_template: no such template: {name} ({path})")
    return path.read_text(encoding="utf-8")
