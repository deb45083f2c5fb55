"""rlaif's reward as a verl custom reward function (checked against verl 0.9.1; docs/verl.md is the user's page).

verl 0.9.1's reward loop (``RewardLoopWorker`` Ray actors with the ``naive`` manager) awaits
``compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs)`` once per answer
(``verl/experimental/reward_loop/reward_manager/naive.py`` lines 148-155): :func:`compute_score`. The calls one
process receives within ``batch_window_s`` are scored as one batch through that process's one
:class:`~rlaif.integrations.in_process.RewardFunction`, opened on the first call and closed at interpreter exit.
:func:`compute_score_batch` is the form ``BatchRewardManager`` calls (``verl/workers/reward_manager/batch.py``).
Settings come from verl's ``reward.custom_reward_function.reward_kwargs`` and the environment (:func:`settings_from`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shlex
import socket
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlaif.errors import ConfigError, DataError
from rlaif.rewards.failures import NEUTRAL_SCORE

OVERRIDES_ENV = "RLAIF_VERL_OVERRIDES"
RUN_DIR_ENV = "RLAIF_VERL_RUN_DIR"
SETTINGS = ("overrides", "run_dir", "failed_score", "batch_window_s")


@dataclass(frozen=True)
class Settings:
    overrides: tuple[str, ...]
    run_dir: str | None
    failed_score: float
    batch_window_s: float


def settings_from(reward_kwargs: Mapping[str, Any]) -> Settings:
    """``overrides`` (a list, or one shlex-split string) after ``$RLAIF_VERL_OVERRIDES`` (so they win on a clash);
    ``run_dir`` (else ``$RLAIF_VERL_RUN_DIR``; each process writes in ``<run_dir>/<host>-<pid>/``); ``failed_score``
    (the number verl gets where the judge failed, counted in ``judge_failed``) and ``batch_window_s``. A key this
    function does not take, or a value of the wrong type, raises :class:`ConfigError` naming it."""
    where = "reward.custom_reward_function.reward_kwargs"
    unknown = sorted(set(reward_kwargs) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (rlaif takes {', '.join(SETTINGS)})")
    given = reward_kwargs.get("overrides", ())
    if isinstance(given, str):
        given = shlex.split(given)
    if not isinstance(given, Sequence):  # a list, or Hydra's ListConfig
        raise ConfigError(f"{where}.overrides: expected a list of overrides, got {given!r}")
    overrides = (*shlex.split(os.environ.get(OVERRIDES_ENV, "")), *(str(o) for o in given))
    run_dir = reward_kwargs.get("run_dir") or os.environ.get(RUN_DIR_ENV) or None
    numbers = {}
    for key, default in (("failed_score", NEUTRAL_SCORE), ("batch_window_s", 0.1)):
        value = reward_kwargs.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        numbers[key] = float(value)
    return Settings(overrides, None if run_dir is None else str(run_dir), **numbers)


_lock = threading.Lock()
_opened: tuple[Settings, Any, ExitStack] | None = None  # this process's settings, RewardFunction, and its closing


def reward_function(settings: Settings) -> Any:
    """This process's :class:`RewardFunction`: opened on first use, reused after, closed at interpreter exit."""
    global _opened
    with _lock:
        if _opened is None:
            from rlaif.integrations.in_process import open_reward

            run_dir = Path(settings.run_dir) / f"{socket.gethostname()}-{os.getpid()}" if settings.run_dir else None
            with ExitStack() as stack:  # closed here only if opening fails
                function = stack.enter_context(open_reward(*settings.overrides, run_dir=run_dir))
                _opened = (settings, function, stack.pop_all())
            atexit.register(close)
        elif (settings.overrides, settings.run_dir) != (_opened[0].overrides, _opened[0].run_dir):
            raise ConfigError(
                f"reward.custom_reward_function.reward_kwargs: this process's rlaif reward was opened with "
                f"overrides={list(_opened[0].overrides)} run_dir={_opened[0].run_dir}, not {settings}"
            )
        return _opened[1]


def close() -> None:
    """Close this process's reward (the judge, a server it launched; ``judge_metrics.json`` in its run folder).
    Registered with :mod:`atexit`; the next call opens a new one."""
    global _opened
    with _lock:
        opened, _opened = _opened, None
    if opened is not None:
        atexit.unregister(close)
        opened[2].close()


@dataclass(frozen=True)
class Item:
    """One answer as verl passes it."""

    data_source: Any
    solution_str: str
    ground_truth: Any
    extra_info: Mapping[str, Any] | None


def _question(item: Item, index: int) -> str:
    question = (item.extra_info or {}).get("question")
    if not isinstance(question, str) or not question:
        raise DataError(
            f"verl row {index} (data_source {item.data_source!r}): extra_info['question'] is missing; rlaif's judge "
            "needs the question the answer responds to (put it in extra_info when preparing the parquet)"
        )
    return question


async def score_items(function: Any, items: Sequence[Item], failed_score: float) -> list[dict[str, Any]]:
    """One ``score_batch`` for ``items``: per answer ``{"score": float, **extras}`` (``judge_failed`` 1.0 where the
    judge failed and the score is ``failed_score``). A reason to stop (too many failures, an alarm) raises."""
    questions = [_question(item, i) for i, item in enumerate(items)]
    ids = [str((item.extra_info or {}).get("index", "")) or None for item in items]
    references = [item.ground_truth for item in items]
    prompts = [[{"role": "user", "content": q}] for q in questions]
    answers = [item.solution_str for item in items]
    # judge_metrics.json is brought up to date after every batch (Ray ends its actors without running atexit).
    scored = await function.score_batch(prompts, answers, reference_answer=references, id=ids)
    if scored.stop is not None:
        raise RuntimeError(f"rlaif reward: {scored.stop}")
    return [
        {"score": failed_score if score is None else float(score), **extras}
        for score, extras in zip(scored.scores, scored.extras, strict=True)
    ]


class _Batcher:
    """Gathers the per-answer calls of one event loop that arrive within ``window_s`` into one batch."""

    def __init__(self) -> None:
        self.pending: list[tuple[Item, asyncio.Future[dict[str, Any]]]] = []
        self.flushing: set[asyncio.Task[None]] = set()

    async def submit(self, function: Any, item: Item, settings: Settings) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.pending.append((item, future))
        if len(self.pending) == 1:  # the first of a batch: score the batch after the window
            task = loop.create_task(self.flush(function, settings))
            self.flushing.add(task)
            task.add_done_callback(self.flushing.discard)
        return await future

    async def flush(self, function: Any, settings: Settings) -> None:
        await asyncio.sleep(settings.batch_window_s)
        batch, self.pending = self.pending, []
        try:
            results = await score_items(function, [item for item, _ in batch], settings.failed_score)
        except BaseException as exc:  # every caller of the batch sees why it was not scored
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


_batchers: dict[asyncio.AbstractEventLoop, _Batcher] = {}


async def compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl 0.9.1's custom reward function (``reward.custom_reward_function.path=pkg://rlaif.integrations.verl``):
    one answer's ``{"score": float, "<reward>_rationale": str, "judge_failed": 0.0 | 1.0}``."""
    kwargs.pop("reward_router_address", None)  # verl adds these when it runs a reward model of its own
    kwargs.pop("reward_model_tokenizer", None)
    settings = settings_from(kwargs)
    function = await asyncio.to_thread(reward_function, settings)  # the first call loads the judge: not on verl's loop
    loop = asyncio.get_running_loop()
    for old in [old for old in _batchers if old.is_closed()]:
        del _batchers[old]
    batcher = _batchers.setdefault(loop, _Batcher())
    return await batcher.submit(function, Item(data_source, solution_str, ground_truth, extra_info), settings)


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None],
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The batch form, for verl's ``BatchRewardManager`` (``verl/workers/reward_manager/batch.py``, lines 70-76):
    the whole batch in one ``score_batch``, one result dict per answer."""
    settings = settings_from(kwargs)
    function = reward_function(settings)
    items = [Item(*fields) for fields in zip(data_sources, solution_strs, ground_truths, extra_infos, strict=True)]
    return asyncio.run(score_items(function, items, settings.failed_score))
