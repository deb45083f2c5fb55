"""Any Nova-contract reward function as a TRL reward (``reward=nova_lambda``): a team's existing Nova reward
Lambda trains an open model unchanged.

The function is either deployed (``function_arn``: boto3 ``lambda.invoke``, retried by botocore's standard
retry mode on throttling) or a local Python callable ``handler(event, context)`` given by its dotted path
as a Hydra ``_target_`` (``_partial_: true``). Each TRL batch becomes Nova payloads: one sample per
completion with a unique ``id``, the prompt's messages with the answer appended as the ``assistant`` turn,
``reference_answer`` and every extra dataset column at the root (Nova passes them through). Payloads of
``batch_size`` samples are sent concurrently (``max_concurrency``). ``aggregate_reward_score`` is the
reward; every ``metrics_list`` entry is logged as ``<name>/<metric>`` (its batch mean). A failed
invocation or a reply that breaks the contract leaves its samples unscored (``None``, counted, as any
judge failure: ``failures.on_judge_error``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlaif.errors import ConfigError
from rlaif.nova.contract import SampleError, check_results
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade, resolve
from rlaif.rewards.run_log import RewardLog
from rlaif.rewards.step_log import RewardStep, log_step
from rlaif.rewards.transcript import Transcript, judged_answer

log = logging.getLogger("rlaif.nova")

NovaFunction = Callable[[Any, Any], Any]


class NovaLambdaReward:
    """A TRL reward (async) scoring completions with a Nova-contract reward function."""

    def __init__(
        self,
        function: NovaFunction | None = None,
        function_arn: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        name: str = "nova_lambda",
        batch_size: int = 64,
        max_concurrency: int = 8,
        max_attempts: int = 8,
        timeout_s: float = 900.0,
        failures: FailurePolicy | Mapping[str, Any] | None = None,
        log_path: str | None = None,
        judge: Any = None,
    ) -> None:
        if (function is None) == (function_arn is None):
            raise ConfigError("reward: set exactly one of reward.function (a local handler) and reward.function_arn")
        if batch_size < 1 or max_concurrency < 1:
            raise ConfigError("reward.batch_size and reward.max_concurrency must be >= 1")
        self.function = function
        self.function_arn = function_arn
        self.region, self.profile, self.endpoint_url = region, profile, endpoint_url
        self.__name__ = name
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.judge = judge  # rlaif.train passes its judge to every reward; the Nova function has its own
        self._client: Any = None
        self._client_lock = threading.Lock()

    # -- TRL reward -------------------------------------------------------------------------------
    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        answers = [judged_answer(c) for c in completions]
        grades = await self._grades(build_samples(prompts, answers, kwargs))
        scores, stop = resolve(grades, self.failures)
        log_step(
            RewardStep(self.__name__, prompts, answers, grades, scores, _metric_means(grades)), kwargs, None, self.log
        )
        if stop is not None:
            raise stop
        return scores

    async def grade(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        references: Sequence[Any],
        extras: Sequence[Any] | None = None,
    ) -> list[Grade]:
        """Grade (prompt, completion) pairs outside TRL (the baseline check); never raises for a failure. The
        rows' other fields (``extras``) reach the function as they do in training."""
        answers = [judged_answer(c) for c in completions]
        columns = {"reference_answer": list(references), "extra": list(extras) if extras is not None else None}
        return await self._grades(build_samples(prompts, answers, columns))

    async def _grades(self, samples: list[dict[str, Any]]) -> list[Grade]:
        """Every sample's grade: ``batch_size`` samples per invocation, ``max_concurrency`` invocations at once."""
        chunks = [samples[i : i + self.batch_size] for i in range(0, len(samples), self.batch_size)]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(chunks) or 1)) as pool:
            loop = asyncio.get_running_loop()
            replies = await asyncio.gather(*(loop.run_in_executor(pool, self._score_chunk, c) for c in chunks))
        return [g for chunk in replies for g in chunk]

    def _score_chunk(self, samples: list[dict[str, Any]]) -> list[Grade]:
        ids = [s["id"] for s in samples]
        try:
            results = check_results(self._invoke(samples), ids)
        except Exception as exc:  # a failed invocation: every sample of it unscored, counted
            log.warning("rlaif.nova: reward function failed for %d samples: %s", len(samples), exc)
            return [Grade(None, error=f"reward function: {exc}") for _ in samples]
        grades = []
        for item in results:
            values = {str(m["name"]): float(m["value"]) for m in item.get("metrics_list") or []}
            grades.append(Grade(float(item["aggregate_reward_score"]), details={"nova_metrics": values}))
        return grades

    def _invoke(self, samples: list[dict[str, Any]]) -> Any:
        if self.function is not None:
            return self.function(json.loads(json.dumps(samples)), None)  # the handler sees plain JSON, as in AWS
        reply = self._lambda().invoke(
            FunctionName=self.function_arn, InvocationType="RequestResponse", Payload=json.dumps(samples).encode()
        )
        body = reply["Payload"].read()
        if reply.get("FunctionError"):
            raise SampleError(f"{self.function_arn} raised ({reply['FunctionError']}): {body[:500]!r}")
        return json.loads(body)

    def _lambda(self) -> Any:
        with self._client_lock:  # one client for every worker thread (boto3 clients are thread-safe)
            return self._client or self._new_client()

    def _new_client(self) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        config = Config(
            retries={"mode": "standard", "max_attempts": self.max_attempts},  # retries TooManyRequests
            read_timeout=self.timeout_s,
            connect_timeout=10,
            max_pool_connections=self.max_concurrency,
        )
        self._client = session.client("lambda", endpoint_url=self.endpoint_url, config=config)
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_client", "_client_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client, self._client_lock = None, threading.Lock()


def build_samples(prompts: Sequence[Any], answers: Sequence[str], columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Nova samples for a TRL batch: unique ids, the messages with the answer appended, the row's reference and
    its other fields (the ``extra`` column of :data:`~rlaif.data.records.ROW_COLUMNS`)."""
    # An allow-list: only columns of rlaif's rows are read (id, reference_answer, extra; rlaif.data.records.
    # ROW_COLUMNS), so no keyword TRL adds to the reward call (trainer_state, a future one) reaches a Nova payload.
    ids = columns.get("id") or [None] * len(prompts)
    passed_through = columns.get("extra") or [None] * len(prompts)  # rlaif.data.loaders keeps a row's extra fields here
    references = columns.get("reference_answer") or [None] * len(prompts)
    samples = []
    for i, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        messages = [dict(m) for m in prompt] if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
        sample: dict[str, Any] = {
            "id": f"{ids[i] if ids[i] is not None else 'row'}#{i}",  # one prompt has several completions
            "messages": [*messages, *answer_messages(answer)],
        }
        if references[i] not in (None, ""):  # rlaif.data.loaders writes "" for no reference
            sample["reference_answer"] = _as_json(references[i])
        if isinstance(passed_through[i], str) and passed_through[i]:
            fields = json.loads(passed_through[i])
            sample.update({k: v for k, v in fields.items() if k not in sample})
        samples.append(sample)
    return samples


def answer_messages(answer: str) -> list[dict[str, Any]]:
    """The answer as Nova messages: one assistant turn, or a transcript's turns in Nova 2.0's OpenAI format (tool
    call arguments as JSON text)."""
    if not isinstance(answer, Transcript):
        return [{"role": "assistant", "content": str(answer)}]
    messages = []
    for message in answer.messages:
        turn = {k: v for k, v in message.items() if k in ("role", "content", "name", "tool_call_id", "tool_calls")}
        if turn.get("tool_calls"):
            turn["tool_calls"] = [_openai_call(c) for c in turn["tool_calls"]]
        messages.append(json.loads(json.dumps(turn, default=str)))
    return messages


def _openai_call(call: Any) -> Any:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or isinstance(function.get("arguments"), str):
        return call
    return {**call, "function": {**function, "arguments": json.dumps(function.get("arguments"), default=str)}}


def _as_json(reference: Any) -> Any:
    """A structured reference as the JSON it was (rlaif.data.loaders stores it as JSON text), other text as is."""
    if isinstance(reference, str) and reference[:1] in ("{", "["):
        try:
            return json.loads(reference)
        except json.JSONDecodeError:
            return reference
    return reference


def _metric_means(grades: Sequence[Grade]) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for g in grades:
        for key, value in (g.details.get("nova_metrics") or {}).items():
            sums[key].append(value)
    return {f"metric/{k}": sum(v) / len(v) for k, v in sums.items()}
