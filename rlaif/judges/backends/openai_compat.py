"""Judge transport for vLLM and any OpenAI-compatible ``/v1/chat/completions`` endpoint.

The transport maps one :class:`JudgeRequest` to one chat completion and classifies what went wrong;
retries, timeouts, the breaker and the cache live once in :class:`rlaif.judges.base.Judge`. A
choices request comes back as the reply text plus the first token's top-logprobs; which choice that
means is :mod:`rlaif.rewards.verdicts.choices`' call. With ``launch`` set it starts its own vLLM server
(:class:`rlaif.judges.serving.vllm_server.VLLMServer`) on the first request and stops it on close or at
interpreter exit.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import inspect
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, TypeAlias

import openai

from rlaif.errors import ConfigError
from rlaif.judges._members import check_url
from rlaif.judges._top_logprobs import CHOICE_TOP_LOGPROBS
from rlaif.judges.backends.openai_reply import parse_completion
from rlaif.judges.base import Judge
from rlaif.judges.extra_fields import check_extra_fields, identity_suffix
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.protocol import (
    AttemptTimeoutError,
    JudgeRequest,
    PermanentJudgeError,
    TransientJudgeError,
    TransportResult,
)
from rlaif.judges.serving.vllm_server import VLLMServer

# What ``judge.launch`` instantiates to (``_target_: rlaif.judges.serving.vllm_server.VLLMServer`` with
# ``_partial_: true``): a server factory, called with the served model name when a server is needed.
ServerFactory: TypeAlias = "functools.partial[VLLMServer]"

# Request fields rlaif sets itself (``request_kwargs``): ``judge.extra_body`` may not replace them.
RESERVED_FIELDS = frozenset(
    {"model", "messages", "max_completion_tokens", "max_tokens", "temperature", "response_format", "logprobs",
     "top_logprobs", "structured_outputs", "guided_choice", "guided_json", "n", "stream"}
)  # fmt: skip


class OpenAICompatTransport:
    """Sends judge requests to an OpenAI-compatible server (vLLM, OpenAI, ...).

    ``structured_outputs`` turns ``request.choices`` into vLLM's ``structured_outputs.choice``
    constraint (OpenAI has no such thing: keep it False there and prompt for the choice instead).
    The API key is read from the environment variable ``api_key_env`` when the client is built and
    is never stored here; without one the key ``"EMPTY"`` is sent, which vLLM accepts. ``launch``, a
    :func:`functools.partial` of :class:`VLLMServer` with at least its ``model`` (what Hydra makes of
    ``judge.launch``; a plain mapping of its options also works), starts a vLLM server on first use,
    serving ``model`` under this transport's name, and ignores ``base_url``; if that server dies,
    requests fail with its log (no restart). ``extra_body`` (``judge.extra_body``) is merged into every request
    body, e.g. ``{"chat_template_kwargs": {"enable_thinking": False}}``; it is part of the identity.
    """

    def __init__(
        self,
        base_url: str | None,
        model: str,
        *,
        api_key_env: str | None = None,
        structured_outputs: bool = True,
        max_connections: int = 64,
        timeout_s: float | None = None,
        launch: ServerFactory | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if base_url is None and launch is None:
            raise ConfigError("OpenAICompatTransport needs a base_url or a launch config")
        self.launch = _server_factory(launch, model) if launch is not None else None
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self.api_key_env = api_key_env
        self.structured_outputs = structured_outputs
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.extra_body = check_extra_fields(extra_body, "judge.extra_body", RESERVED_FIELDS)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._client: openai.AsyncOpenAI | None = None
        self._client_key: tuple[asyncio.AbstractEventLoop, str] | None = None
        self._server: VLLMServer | None = None
        self._server_lock = threading.Lock()
        self._start_future: asyncio.Future[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        runtime = {"_client", "_client_key", "_server", "_server_lock", "_start_future"}
        # A copy never owns this process's server: with launch set it starts its own when used.
        return {k: v for k, v in self.__dict__.items() if k not in runtime}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def identity(self) -> str:
        if self.launch is not None:
            # A launched server gets a fresh port each run: key the cache on what it serves instead.
            served = f"openai:launch:{_launched_model(self.launch)}:{self.model}"
        else:
            served = f"openai:{self.base_url}:{self.model}"
        return served + identity_suffix(self.extra_body, "extra_body")

    @property
    def unavailable_hint(self) -> str:
        """What to check when this judge does not answer (the pre-flight check prints it)."""
        if self.launch is not None:
            return "the server rlaif launched did not come up; its log is quoted above (settings: judge.launch.*)."
        return (
            "is a server listening there? Start a vLLM judge with `scripts/serve_judge_vllm.sh start MODEL`, "
            "point judge.base_url at yours, or let the run start one with "
            "`+judge/launch=vllm judge.launch.python=/path/to/vllm-venv/bin/python`; for a hosted API, "
            "check that judge.api_key_env names a variable that is set."
        )

    @property
    def server(self) -> VLLMServer | None:
        """The launched server, once started (``None`` without ``launch``)."""
        return self._server

    # -- the Transport protocol ---------------------------------------------------------------

    async def send(self, request: JudgeRequest) -> TransportResult:
        kwargs = request_kwargs(request, self.model, self.structured_outputs, self.extra_body)
        client = await self._get_client(await self._ensure_server())
        try:
            completion = await client.chat.completions.create(**kwargs)
        except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that is not JSON
            if self._server is not None and not self._server.running:
                raise PermanentJudgeError(f"the launched judge server exited:\n{self._server.log_tail()}") from exc
            raise classify_error(exc) from exc
        return parse_completion(completion, request)

    async def aclose(self) -> None:
        client, self._client, self._client_key = self._client, None, None
        self._start_future = None
        if client is not None:
            await client.close()
        if self._server is not None:
            await asyncio.to_thread(self.stop_server)

    # -- launched server ----------------------------------------------------------------------

    def start_server(self) -> str:
        """Start the ``launch`` server now if it is not running (blocking, idempotent); its base URL.

        Call it before training to keep the start-up (a minute or more) out of the first batch: the
        engine times each attempt, start-up included, so a first batch that waits for the server
        needs ``policy.timeout_s`` above the start-up time.
        """
        assert self.launch is not None, "start_server() needs a launch config"
        with self._server_lock:  # one start at a time
            server = self._server
            if server is None or not server.running:
                server = self._server = self.launch(served_model_name=self.model)
                server.start()
            return server.base_url

    def stop_server(self) -> None:
        """Stop the launched server by its PID (no-op without one), even while it is starting."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    async def astart(self) -> None:
        """Start the ``launch`` server without blocking the loop (no-op without ``launch``)."""
        await self._ensure_server()

    async def _ensure_server(self) -> str:
        if self.launch is None:
            assert self.base_url is not None
            return self.base_url
        if self._start_future is None:
            # One start in a worker thread, however many sends wait: the loop keeps running, and
            # shield() lets a send that times out leave without cancelling the start.
            self._start_future = asyncio.get_running_loop().run_in_executor(None, self.start_server)
        try:
            return await asyncio.shield(self._start_future)
        except Exception as exc:  # VLLMServerError, a missing model, ...: the same for every send
            raise PermanentJudgeError(f"the judge server did not start: {exc}") from exc

    # -- client -------------------------------------------------------------------------------

    async def _get_client(self, base_url: str) -> openai.AsyncOpenAI:
        # A client belongs to one loop and one server; a new one of either needs a new client.
        loop = asyncio.get_running_loop()
        key = (loop, base_url)
        if self._client is not None and self._client_key == key:
            return self._client
        if self._client is not None and self._client_key is not None and self._client_key[0] is loop:
            await self._client.close()  # same loop, new server: a client on another loop cannot be closed here
        api_key = os.environ.get(self.api_key_env) if self.api_key_env else "EMPTY"
        if not api_key:
            raise PermanentJudgeError(f"environment variable {self.api_key_env} (the judge API key) is not set")
        # The SDK's own Limits class (httpx2 in openai 3.x, httpx before): one pool sized to the
        # judge's concurrency cap, so retries can never open more connections than that.
        limits = type(openai.DEFAULT_CONNECTION_LIMITS)(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        http_client = openai.DefaultAsyncHttpxClient(limits=limits)
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            # The Judge engine retries, once and counted, with backoff and a breaker; SDK retries
            # on top would multiply the load on a struggling judge and hide attempts from metrics.
            max_retries=0,
            timeout=self.timeout_s if self.timeout_s is not None else openai.DEFAULT_TIMEOUT,
            http_client=http_client,
        )
        self._client_key = key
        return self._client


def _server_factory(launch: ServerFactory | Mapping[str, Any], served: str) -> ServerFactory:
    """``launch`` as a picklable server factory, its options checked now (offline) against its target."""
    if isinstance(launch, Mapping):
        launch = functools.partial(VLLMServer, **launch)
    if not isinstance(launch, functools.partial):
        raise ConfigError(
            f"judge.launch must be a server factory (_target_: rlaif.judges.serving.vllm_server.VLLMServer with "
            f"_partial_: true) or a mapping of its options, not {type(launch).__name__}"
        )
    _launched_model(launch)
    try:  # an unknown or misspelt option fails here, at config time, not minutes into the run
        inspect.signature(launch.func).bind(*launch.args, **launch.keywords, served_model_name=served)
    except TypeError as exc:
        raise ConfigError(f"judge.launch: {exc} (the options of {launch.func.__qualname__})") from exc
    return launch


def _launched_model(launch: ServerFactory) -> str:
    """The model the factory serves: the cache identity, stable across runs (unlike the port)."""
    model = launch.keywords.get("model", launch.args[0] if launch.args else None)
    if not model:
        raise ConfigError("judge.launch needs a 'model' (a local folder, hub id or packaged alias)")
    return str(model)


# -- request / reply mapping (pure functions, unit-tested without a server) --------------------


def request_kwargs(
    request: JudgeRequest, model: str, structured_outputs: bool, extra_body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``chat.completions.create`` arguments for one request; ``extra_body`` (checked against
    :data:`RESERVED_FIELDS` at set-up) goes into the body beside rlaif's own extra fields."""
    if request.json_schema is not None and request.choices:
        raise PermanentJudgeError("a request can constrain to a JSON schema or to choices, not both")
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [dict(m) for m in request.messages],
        # The current OpenAI name (reasoning models reject max_tokens); vLLM reads it too.
        "max_completion_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.json_schema is not None:
        schema = {"name": "verdict", "schema": dict(request.json_schema), "strict": True}
        kwargs["response_format"] = {"type": "json_schema", "json_schema": schema}
    if request.choices and structured_outputs:
        # vLLM's own field; the older guided_choice/guided_json are silently ignored by vLLM 0.32.
        kwargs["extra_body"] = {"structured_outputs": {"choice": list(request.choices)}}
    if extra_body:
        kwargs["extra_body"] = {**extra_body, **kwargs.get("extra_body", {})}
    top = request.top_logprobs
    if request.choices and request.logprobs:
        top = max(top, CHOICE_TOP_LOGPROBS)
    if request.logprobs or top:
        kwargs["logprobs"] = True
        if top:
            kwargs["top_logprobs"] = top
    return kwargs


# -- error classification ----------------------------------------------------------------------


def classify_error(exc: Exception) -> TransientJudgeError | PermanentJudgeError:
    """Transient: connection errors, timeouts, 429, 5xx. Permanent: other 4xx and malformed replies."""
    if isinstance(exc, openai.APITimeoutError):  # the client's own timeout: as the judge's own would be
        return AttemptTimeoutError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return TransientJudgeError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.RateLimitError | openai.InternalServerError):
        return TransientJudgeError(
            f"HTTP {exc.status_code}: {_short(exc)}", retry_after_s=retry_after_s(exc.response.headers)
        )
    if isinstance(exc, openai.APIStatusError):
        return PermanentJudgeError(f"HTTP {exc.status_code}: {_short(exc)}")
    return PermanentJudgeError(f"malformed reply ({type(exc).__name__}): {_short(exc)}")


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        if "retry-after" not in lowered:
            return None
        value = lowered["retry-after"].strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _short(exc: Exception) -> str:
    return str(exc)[:300]


# -- Hydra factory ---------------------------------------------------------------------------


def openai_judge(
    base_url: str | None = None,
    model: str = "judge",
    api_key_env: str | None = None,
    structured_outputs: bool = True,
    launch: ServerFactory | Mapping[str, Any] | None = None,
    policy: JudgePolicy | Mapping[str, Any] | None = None,
    max_connections: int | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> Judge:
    """A :class:`Judge` over an OpenAI-compatible server: the ``_target_`` of ``conf/judge/{vllm,openai}``.

    Offline and cheap: the client is built, and a ``launch`` server started, on the first request.
    The connection pool defaults to the policy's ``max_concurrency``. An ``api_key_env`` that names a variable
    not set, or a ``base_url`` that is no URL, is bad input (:class:`ConfigError`), found here, before the
    pre-flight request would find it as an unreachable judge.
    """
    if api_key_env is not None and not os.environ.get(api_key_env):
        raise ConfigError(
            f"judge.api_key_env: the environment variable {api_key_env} (the judge's API key) is not set; "
            "export it, or set judge.api_key_env=null for a server that takes no key (vLLM without --api-key)"
        )
    if base_url is not None and launch is None:
        check_url(base_url, "judge.base_url")
    judge_policy = JudgePolicy.parse(policy)
    transport = OpenAICompatTransport(
        base_url,
        model,
        api_key_env=api_key_env,
        structured_outputs=structured_outputs,
        max_connections=max_connections or judge_policy.max_concurrency,
        timeout_s=judge_policy.timeout_s,
        launch=launch,
        extra_body=extra_body,
    )
    return Judge(transport, judge_policy)
