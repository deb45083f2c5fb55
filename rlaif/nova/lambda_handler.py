"""A deployable Amazon Nova RFT reward Lambda built from rlaif's own config tree.

``handler(event, context)`` is the Lambda entry point (``rlaif.nova.lambda_handler.handler``). It grades
every sample of the invocation with the same rubric reward training uses, composed by Hydra from
``rlaif/conf`` with the overrides in the environment variable ``RLAIF_NOVA_OVERRIDES``, e.g.
``judge.model_id=us.amazon.nova-pro-v1:0 rubric=contract_review reward=rubric``. Before them come
:data:`LAMBDA_DEFAULTS`: the Bedrock judge, no response cache, and a judge failure scored as the neutral
0.5 (Nova needs a number for every sample). Any ``judge=`` works (``judge=vllm`` for a local test).

One invocation's judge calls run concurrently (``judge.policy.max_concurrency``); a throttled call is
retried with backoff (``judge.policy.max_retries``). Per sample the result's ``metrics_list`` holds the
score (type ``Reward``), each criterion's pass (``criterion/<id>``), each check (``check/<name>``), and
``judge_error`` (1 when the judge failed and the score is the neutral value). A malformed sample is logged
with its index, id and field, scores 0 with an ``error`` Metric (and no ``Reward`` metric), and never affects
the other samples.

With ``reward=row_rubric`` each sample is graded against the rubric it carries (a ``rubric`` field at the root
or under ``metadata``), by the code training uses for a row's rubric (``RowRubricReward.grade`` with the
sample's fields as the row's ``extra``), so the same rubric, answer and judge give the same score. Per
sample, ``item/<id>`` is each item's P(met) (``i0``, ``i1``, ... in the rubric's order), with
``top_items/met_rate``, ``pitfalls/met_rate`` and ``items_per_answer`` as in training. A sample without a
rubric, or with a malformed one, is a malformed sample (its log line names the field and the item).

The import path is light on purpose: no torch, transformers or TRL (the Lambda runtime has boto3; the
zip from ``scripts/package_nova_lambda.sh`` adds Hydra and rlaif's pure-Python dependencies).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shlex
import threading
from collections.abc import Sequence
from typing import Any

from rlaif.nova.contract import (
    NovaSample,
    SampleError,
    clamp,
    metric,
    parse_sample,
    result,
    sample_id,
    samples_of,
)

log = logging.getLogger("rlaif.nova")

OVERRIDES_ENV = "RLAIF_NOVA_OVERRIDES"
# What a reward Lambda needs beside training's defaults; the user's overrides come after and win.
LAMBDA_DEFAULTS = ("judge=bedrock", "++judge.policy.cache=false", "reward.failures.on_judge_error=neutral")
ERROR_SCORE = 0.0  # a sample that breaks the contract (AWS's samples score it 0 with an "error" Metric)


class NovaConfigError(ValueError):
    """The Lambda's configuration cannot serve the Nova contract; the message names the key."""


class NovaGrader:
    """Grades Nova samples with a rubric reward (``RubricReward.grade``) and shapes the results. ``failures``: the
    rule for a sample the judge failed on (default the reward's own; ``python -m rlaif.serve`` passes a neutral one
    when its reward's is ``none``)."""

    def __init__(self, reward: Any, failures: Any = None) -> None:
        from rlaif.rewards.capabilities import GradesAnswers, GradesCriteria, GradesRowRubrics  # loaded already

        self.row_rubric = isinstance(reward, GradesRowRubrics)  # each sample carries its own rubric (reward=row_rubric)
        graded = self.row_rubric or (isinstance(reward, GradesAnswers) and isinstance(reward, GradesCriteria))
        if not graded:
            raise NovaConfigError(
                f"reward: {type(reward).__name__} does not grade one answer at a time; the Nova contract scores "
                "each sample on its own: use a rubric reward (reward=rubric, rubric_with_checks, rubric_on_topic, "
                "row_rubric)"
            )
        self.failures = failures if failures is not None else reward.failures
        if self.failures.on_judge_error == "none":
            raise NovaConfigError(
                "reward.failures.on_judge_error=none: Nova needs a number for every sample. Use neutral (0.5, "
                "counted as the judge_error Metric) or raise (the invocation fails and Nova sees the error)"
            )
        self.reward = reward
        self.name = str(reward.__name__)

    def score(self, event: Any) -> list[dict[str, Any]]:
        """The Nova reply to one invocation: one result per sample, in order, ids echoed."""
        raw = samples_of(event)
        parsed: list[NovaSample | SampleError] = []
        for index, item in enumerate(raw):
            try:
                parsed.append(self._checked(parse_sample(item, index), index))
            except SampleError as exc:
                log.error("rlaif.nova: %s", exc)
                parsed.append(exc)
        valid = [p for p in parsed if isinstance(p, NovaSample)]
        grades = iter(self._grade(valid)) if valid else iter(())
        results = []
        for index, item in enumerate(parsed):
            if isinstance(item, SampleError):
                results.append(result(sample_id(raw[index], index), ERROR_SCORE, [metric("error", 1.0)]))
            else:
                results.append(self._result(item, next(grades)))
        return results

    def _checked(self, sample: NovaSample, index: int) -> NovaSample:
        """``sample``, or :class:`SampleError` when the reward needs the sample's own rubric and it is missing or
        malformed: never graded, so never a 0 that looks like a grade."""
        if not self.row_rubric:
            return sample
        from rlaif.rewards.row_rubric import RUBRIC_FIELD  # loaded with the reward already

        where = f"sample[{index}] (id {sample.id!r})"
        if RUBRIC_FIELD not in sample.extra:
            raise SampleError(
                f"{where}: missing field {RUBRIC_FIELD!r} (at the root or under 'metadata'); reward={self.name} "
                "grades each sample against its own rubric"
            )
        problems = self.reward.row_problems([sample.extra], [where])  # training's set-up check of a row
        if problems:
            raise SampleError(problems[0])
        return sample

    def _grade(self, samples: Sequence[NovaSample]) -> list[Any]:
        from rlaif.rewards.capabilities import grade_rows  # loaded with the reward already

        prompts = [s.prompt for s in samples]
        answers = [s.answer for s in samples]
        references = [s.reference for s in samples]
        extras = [s.extra for s in samples]  # a row's extra fields, as training's rows carry them
        return asyncio.run(grade_rows(self.reward, prompts, answers, references, extras))

    def _result(self, sample: NovaSample, grade: Any) -> dict[str, Any]:
        failed = grade.error is not None or grade.score is None or not math.isfinite(grade.score)
        if failed:
            # raise: the whole invocation fails; neutral: 0.5, counted. (none was refused at build time.)
            score = self.failures.resolve(None, grade.error or "no score")
            log.warning("rlaif.nova: sample %r: judge failed (%s); score %s", sample.id, grade.error, score)
        else:
            score = float(grade.score)
        metrics = [metric(self.name, clamp(score), "Reward")]
        metrics += [metric(f"criterion/{cid}", value) for cid, value in sorted(grade.passes.items())]
        if grade.verdicts and not failed:  # a row rubric's items (i0, i1, ...), in the rubric's order
            from rlaif.rewards.row_rubric import item_metrics  # loaded with the reward already

            metrics += [metric(f"item/{iid}", float(item["met"])) for iid, item in grade.verdicts.items()]
            metrics += [metric(name, value) for name, value in sorted(item_metrics([grade]).items())]
        checks = grade.details.get("checks") or {}
        metrics += [metric(f"check/{name}", value) for name, value in sorted(checks.items())]
        if isinstance(sample.answer, list):  # a tool-using transcript: what it did with its tools
            from rlaif.rewards.transcript import tool_counts  # loaded with the reward already

            calls, _, errors = tool_counts(sample.answer)
            metrics += [metric("tools/calls", float(calls)), metric("tools/errors", float(errors))]
        metrics.append(metric("judge_error", 1.0 if failed else 0.0))
        return result(sample.id, float(score), metrics)


def build_grader(overrides: Sequence[str] = ()) -> NovaGrader:
    """The grader for ``overrides`` (after :data:`LAMBDA_DEFAULTS`), composed from rlaif's config tree."""
    from rlaif.runs.composed import compose_config
    from rlaif.runs.judge_and_reward import build_judge_and_reward

    cfg = compose_config([*LAMBDA_DEFAULTS, *overrides], where=OVERRIDES_ENV)
    _, reward = build_judge_and_reward(cfg.judge, cfg.reward, log_path=None)  # lives as long as the container
    return NovaGrader(reward)


_grader: NovaGrader | None = None
_grader_lock = threading.Lock()


def grader() -> NovaGrader:
    """This container's grader, built on first use from ``$RLAIF_NOVA_OVERRIDES`` (a warm Lambda reuses it)."""
    global _grader
    with _grader_lock:
        if _grader is None:
            _grader = build_grader(shlex.split(os.environ.get(OVERRIDES_ENV, "")))
        return _grader


def handler(event: Any, context: Any = None) -> list[dict[str, Any]]:
    """The Lambda entry point: a list of Nova samples in, a list of results out (same order, ids echoed)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO)
    return grader().score(event)
