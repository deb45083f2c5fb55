"""The HTTP app of ``python -m rlaif.serve`` (FastAPI, served by uvicorn): rlaif's reward for OpenRLHF and Nova.

- ``POST /get_reward``: OpenRLHF's remote reward model as its client sends it (0.11.2,
  ``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor._fetch_rewards_via_http``): ``{"query": [prompt +
  response], "prompts": [prompt], "labels": [label]}`` in; ``{"rewards": [...], "scores": [...], "extra_logs":
  {"judge_failed": [...]}}`` out, one value per query. The answer judged is the query minus its prompt; a label
  (any JSON; null for none) is the row's ``reference_answer``. OpenRLHF turns the reply into tensors, so every
  value is a number: an answer the judge failed on gets ``failure_score`` (counted).
- ``POST /nova``: a list of Nova samples in, the reward Lambda's results out (:class:`NovaGrader`, the Lambda's code).
- ``GET /health``; ``GET /metrics`` (Prometheus text, :mod:`rlaif.integrations.server_metrics`).

Requests from every client are gathered into judge batches (:class:`Batcher`): one ``score_batch`` call per batch,
its ``step`` the batch's number, so ``rewards.jsonl`` has a step per batch. Bad JSON or a bad shape gets a 400 or
422 naming the field, and the server goes on serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rlaif.integrations.in_process import RewardFunction
from rlaif.integrations.server_metrics import ServerMetrics

log = logging.getLogger("rlaif.serve")


class BatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_ms: float = Field(default=50.0, ge=0)
    max_answers: int = Field(default=64, ge=1)


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key_env: str | None = None


class ServeSettings(BaseModel):
    """``python -m rlaif.serve``'s own keys (conf/serve.yaml), checked by :func:`rlaif.errors.parse_settings`."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    failure_score: float = 0.5
    batch: BatchSettings = BatchSettings()
    auth: AuthSettings = AuthSettings()

    @field_validator("failure_score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number (OpenRLHF turns it into a tensor)")
        return value


class BadRequest(ValueError):
    """A request the server cannot read; the message names the field (sent back with ``status``)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Pending:
    prompts: list[str]
    answers: list[str]
    references: list[Any]
    future: asyncio.Future[tuple[list[float | None], list[dict[str, Any]]]] = field(repr=False)


class Batcher:
    """Gathers the answers of concurrent requests into one ``score_batch`` call at a time: after the first request
    of a batch it waits ``window_s`` for others, then takes what has queued, up to ``max_answers``."""

    def __init__(self, function: RewardFunction, settings: BatchSettings, metrics: ServerMetrics) -> None:
        self.function, self.metrics = function, metrics
        self.window_s, self.max_answers = settings.window_ms / 1000.0, settings.max_answers
        self.pending: deque[_Pending] = deque()
        self.arrived = asyncio.Event()  # set while ``pending`` holds a request
        self.step = 0  # batches scored; score_batch's step (1 = the first)
        self.last_stop: str | None = None

    async def score(
        self, prompts: list[str], answers: list[str], references: list[Any]
    ) -> tuple[list[float | None], list[dict[str, Any]]]:
        future = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(prompts, answers, references, future))
        self.arrived.set()
        return await future

    async def run(self) -> None:
        while True:
            await self.arrived.wait()
            await asyncio.sleep(self.window_s)  # let concurrent requests join this batch
            batch = [self.pending.popleft()]
            size = len(batch[0].answers)
            while self.pending and size + len(self.pending[0].answers) <= self.max_answers:
                batch.append(self.pending.popleft())  # a request that would overfill it waits for the next batch
                size += len(batch[-1].answers)
            if not self.pending:
                self.arrived.clear()
            await self._score(batch)

    async def _score(self, batch: list[_Pending]) -> None:
        prompts = [p for item in batch for p in item.prompts]
        answers = [a for item in batch for a in item.answers]
        references = [r for item in batch for r in item.references]
        self.step += 1
        started = time.perf_counter()
        try:
            scored = await self.function.score_batch(prompts, answers, step=self.step, reference_answer=references)
        except Exception as exc:  # a bug, not a judge failure (score_batch reports those as None): answer 500
            log.exception("rlaif.serve: batch %d failed", self.step)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        self.metrics.reward_calls.inc()
        self.metrics.batch_answers.observe(len(answers))
        self.metrics.reward_seconds.labels("get_reward").observe(time.perf_counter() - started)
        if scored.stop is not None:  # OpenRLHF cannot be stopped from here: say so, count it, serve on
            self.last_stop = scored.stop
            self.metrics.stops.inc()
            log.error("rlaif.serve: the reward asks to stop (batch %d): %s", self.step, scored.stop)
        start = 0
        for item in batch:
            end = start + len(item.answers)
            if not item.future.done():  # the client may have gone away
                item.future.set_result((scored.scores[start:end], scored.extras[start:end]))
            start = end


def _string_list(body: dict[str, Any], key: str, length: int | None) -> list[str]:
    value = body.get(key)
    if value is None:
        raise BadRequest(f"{key}: missing (OpenRLHF sends query, prompts and labels as lists)")
    if not isinstance(value, list) or (length is None and not value):
        raise BadRequest(f"{key}: expected a non-empty list of strings, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise BadRequest(f"{key}: {len(value)} items for {length} queries")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise BadRequest(f"{key}[{index}]: expected a string, got {type(item).__name__}")
    return value


def read_openrlhf(raw: bytes) -> tuple[list[str], list[str], list[Any]]:
    """``(prompts, answers, references)`` from an OpenRLHF ``/get_reward`` body; :class:`BadRequest` names the
    field. An answer is its query with the prompt cut off the front."""
    body = read_json(raw)
    if not isinstance(body, dict):
        raise BadRequest(f"body: expected a JSON object with query, prompts and labels, got {type(body).__name__}")
    queries = _string_list(body, "query", None)
    prompts = _string_list(body, "prompts", len(queries))
    labels = body.get("labels")  # any JSON per query (the dataset's --data.label_key field): the reference answer
    if labels is None:
        labels = [None] * len(queries)
    elif not isinstance(labels, list) or len(labels) != len(queries):
        raise BadRequest(f"labels: expected a list of {len(queries)} labels (one per query, null for none)")
    answers = []
    for index, (query, prompt) in enumerate(zip(queries, prompts, strict=True)):
        if not query.startswith(prompt):
            raise BadRequest(f"query[{index}]: does not begin with prompts[{index}] (the answer is the rest)")
        answers.append(query[len(prompt) :])
    return prompts, answers, ["" if label is None else label for label in labels]  # "": no reference, as in training


def read_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body: not valid JSON ({exc})", status=400) from None


def openrlhf_reply(
    scores: list[float | None], extras: list[dict[str, Any]], failure_score: float
) -> tuple[dict[str, Any], int]:
    """The reply OpenRLHF reads (``scores``, else ``rewards``; ``extra_logs``, numbers only), and how many answers
    the judge failed on: those scored None get ``failure_score``; under ``on_judge_error=neutral`` the reward's
    own 0.5 stands, flagged the same."""
    rewards = [failure_score if s is None else float(s) for s in scores]
    failed = [float(s is None or bool(x.get("judge_failed"))) for s, x in zip(scores, extras, strict=True)]
    return {"rewards": rewards, "scores": rewards, "extra_logs": {"judge_failed": failed}}, int(sum(failed))


def nova_grader(function: RewardFunction) -> tuple[Any, str | None]:
    """The Lambda's grader around the server's reward, or why ``/nova`` cannot serve it. Nova needs a number for
    every sample: under ``on_judge_error=none`` a failure is the Lambda's neutral 0.5 (its default), counted."""
    from rlaif.nova.lambda_handler import NovaConfigError, NovaGrader
    from rlaif.rewards.capabilities import HasFailurePolicy
    from rlaif.rewards.failures import FailurePolicy

    reward = function.reward.reward  # the reward inside the monitor's guard, as the Lambda holds it
    failures = reward.failures if isinstance(reward, HasFailurePolicy) else None
    if isinstance(failures, FailurePolicy) and failures.on_judge_error == "none":
        failures = FailurePolicy("neutral", failures.max_failure_rate, failures.window, failures.min_calls)
    try:
        return NovaGrader(reward, failures=failures), None
    except NovaConfigError as exc:
        return None, str(exc)


def create_app(function: RewardFunction, settings: ServeSettings, api_key: str | None) -> FastAPI:
    """The FastAPI app serving ``function`` (from :func:`rlaif.integrations.in_process.open_configured_reward`)."""
    metrics = ServerMetrics(function.judge)
    batcher = Batcher(function, settings.batch, metrics)
    grader, no_nova = nova_grader(function)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(batcher.run())
        yield  # uvicorn's graceful stop has answered every request in flight by now
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    app = FastAPI(title="rlaif reward server", lifespan=lifespan)

    def authorised(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise HTTPException(401, "authorization: expected 'Bearer <key>'", {"WWW-Authenticate": "Bearer"})

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        metrics.count_request(request.url.path, response.status_code)
        return response

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        log.warning("rlaif.serve: %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.post("/get_reward", dependencies=[Depends(authorised)])
    async def get_reward(request: Request) -> dict[str, Any]:
        prompts, answers, references = read_openrlhf(await request.body())
        scores, extras = await batcher.score(prompts, answers, references)
        reply, failed = openrlhf_reply(scores, extras, settings.failure_score)
        metrics.answers.labels("get_reward").inc(len(answers))
        metrics.failed.labels("get_reward").inc(failed)
        return reply

    @app.post("/nova", dependencies=[Depends(authorised)])
    async def nova(request: Request) -> Any:
        from rlaif.nova.contract import SampleError, samples_of
        from rlaif.rewards.failures import JudgeFailureError

        if grader is None:
            raise HTTPException(409, f"/nova: {no_nova}")
        event = read_json(await request.body())
        try:
            samples_of(event)
        except SampleError as exc:
            raise BadRequest(str(exc)) from None
        started = time.perf_counter()
        try:  # the Lambda's code: it runs its own event loop, so in a worker thread
            results = await asyncio.to_thread(grader.score, event)
        except JudgeFailureError as exc:  # on_judge_error=raise, or too many failures: the Lambda fails too
            raise HTTPException(503, f"judge: {exc}") from None
        metrics.reward_seconds.labels("nova").observe(time.perf_counter() - started)
        metrics.answers.labels("nova").inc(len(results))
        failed = sum(m["value"] == 1.0 for r in results for m in r["metrics_list"] if m["name"] == "judge_error")
        metrics.failed.labels("nova").inc(failed)
        return results

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "batches": batcher.step, "nova": no_nova is None, "last_stop": batcher.last_stop}

    @app.get("/metrics", dependencies=[Depends(authorised)])
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(app: FastAPI, settings: ServeSettings) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C: uvicorn stops taking connections, answers the requests in flight,
    then returns (and the caller closes the judge)."""
    import uvicorn

    # uvicorn raises the signal it caught again once its graceful stop is done; under Python's default handler a
    # SIGTERM would then kill the process before the judge is closed. The stop was asked for: return normally.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: log.info("rlaif.serve: stopped"))
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, lifespan="on")
    uvicorn.Server(config).run()
