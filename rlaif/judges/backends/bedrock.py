"""Amazon Bedrock judge: the Converse API through boto3, as the Amazon Nova RFT reward Lambda calls it.

:class:`BedrockTransport` sends one :class:`~rlaif.judges.base.JudgeRequest` as one ``converse`` call and
sorts Bedrock's errors into transient (retried by the :class:`~rlaif.judges.base.Judge`) and permanent
ones, following the Nova RFT contract: throttling, model-not-ready, model-timeout, service-unavailable
and internal-server errors are retried; validation and access errors never are.

Converse returns no log-probabilities, so a ``choices`` request is answered in text: the model is told
to pick one option, and its reply comes back as it is (:attr:`TransportResult.token_logprobs` is always
``None``). Whether that reply *is* one option is decided by :mod:`rlaif.rewards.verdicts.choices`, the same
rule as for every backend.

Credentials come only from the standard AWS chain (environment, ``profile``, SSO, IAM role, instance or
container metadata) or ``AWS_BEARER_TOKEN_BEDROCK``; they are never parameters, stored or logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlaif.judges import thinking
from rlaif.judges.base import Judge
from rlaif.judges.extra_fields import check_extra_fields, identity_suffix
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.protocol import (
    JudgeRequest,
    PermanentJudgeError,
    TransientJudgeError,
    TransportResult,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "us.amazon.nova-lite-v1:0"

# Compared lower-cased: the Nova contract retries these, and throttling also arrives as
# "throttlingException" inside stream errors.
_TRANSIENT_CODES = frozenset(
    code.lower()
    for code in (
        "ThrottlingException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ServiceUnavailableException",
        "InternalServerException",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
    )
)
# Never retried, whatever HTTP status they come with: the same request cannot succeed later.
_PERMANENT_CODES = frozenset(
    code.lower() for code in ("ValidationException", "AccessDeniedException", "ResourceNotFoundException")
)

_CREDENTIALS_HINT = (
    "no AWS credentials found for Bedrock. They are read, never from rlaif's config, from the standard AWS "
    "chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) or AWS_BEARER_TOKEN_BEDROCK in "
    "the environment, a named profile (judge.profile=NAME or AWS_PROFILE) from ~/.aws/config, SSO, or an "
    "IAM role of the instance / container / Lambda"
)


class BedrockTransport:
    """Bedrock Runtime ``converse`` for one model in one region (a :class:`~rlaif.judges.base.Transport`).

    boto3 is synchronous, so each call runs in a thread pool owned by the transport: sized to twice the
    judge's concurrency, because a call abandoned by the judge's timeout keeps its thread until the socket
    read times out, and new attempts must not queue behind it. The client is built lazily, once.
    """

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        *,
        max_concurrency: int = 32,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 61.0,
        structured_output: bool = False,
        additional_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_id = model_id
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.max_concurrency = max_concurrency
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        # Bedrock's native JSON-schema output (outputConfig.textFormat) is in boto3 1.44's service model but
        # served only by some models (Claude 4.5+, some open-weight ones; not Nova as of 2026), which
        # reject it with a ValidationException. So it is opt-in; the schema always goes in the prompt.
        self.structured_output = structured_output
        # Model-specific fields (a thinking budget, reasoning off): Converse's additionalModelRequestFields.
        self.additional_fields = check_extra_fields(additional_fields, "judge.additional_fields")
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._client: Any = None
        self._executor: ThreadPoolExecutor | None = None  # only touched on the judge's loop thread
        # Guards the client only: building it takes a moment in a worker thread, and the event loop
        # must not wait on that just to reach the executor.
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for live in ("_client", "_executor", "_lock"):
            state.pop(live)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        return f"BedrockTransport(model_id={self.model_id!r}, region={self.region!r}, profile={self.profile!r})"

    @property
    def identity(self) -> str:
        # Resolved from the environment rather than the client so it is stable before the first call
        # (it is part of the cache key); a region set only in a profile shows as "default".
        region = self.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "default"
        return f"bedrock:{region}:{self.model_id}" + identity_suffix(self.additional_fields, "additional_fields")

    @property
    def unavailable_hint(self) -> str:
        """What to check when this judge does not answer (the pre-flight check prints it)."""
        return (
            "check the AWS region (judge.region, AWS_REGION or AWS_DEFAULT_REGION), credentials "
            "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO or a role) and that the account has "
            "access to judge.model_id in that region."
        )

    async def send(self, request: JudgeRequest) -> TransportResult:
        kwargs = self._converse_kwargs(request)
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(self._get_executor(), self._converse, kwargs)
        return _parse_reply(reply)

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        with self._lock:
            client, self._client = self._client, None
        if executor is not None:
            # Do not wait: a call abandoned by the judge's timeout may still be blocked on its socket.
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()

    # -- machinery --------------------------------------------------------------------------------

    def _get_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(2 * self.max_concurrency, thread_name_prefix="rlaif-bedrock")
        return self._executor

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise PermanentJudgeError("the Bedrock judge needs boto3: pip install 'rlaif[bedrock]'") from exc
        # boto3 reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION (which the AWS CLI v2,
        # the other SDKs and Lambda set): honour it too, as the error message promises.
        region = self.region or os.environ.get("AWS_REGION") or None
        session = boto3.session.Session(profile_name=self.profile, region_name=region)
        config = Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            max_pool_connections=2 * self.max_concurrency,
            # The Judge retries (backoff, jitter, deadline, breaker) and counts every attempt. botocore's
            # own retries would multiply attempts (its default is 3 per judge attempt) and hide throttling
            # from the breaker and metrics, so they are off: exactly one HTTP request per attempt. Note
            # that botocore's "max_attempts" here counts *retries*; "total_max_attempts" counts requests.
            retries={"mode": "standard", "total_max_attempts": 1},
            user_agent_extra="rlaif",
        )
        log.debug("creating bedrock-runtime client (region=%s, endpoint=%s)", session.region_name, self.endpoint_url)
        return session.client("bedrock-runtime", endpoint_url=self.endpoint_url, config=config)

    def _converse(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Runs in a worker thread: one ``converse`` call, its failure classified for the Judge."""
        try:
            reply: dict[str, Any] = self._get_client().converse(**kwargs)
        except (TransientJudgeError, PermanentJudgeError):
            raise
        except Exception as exc:
            classified = _classify(exc, self.model_id)
            if classified is None:
                raise
            raise classified from exc
        return reply

    def _converse_kwargs(self, request: JudgeRequest) -> dict[str, Any]:
        system, messages = _to_converse(request.messages)
        system.extend({"text": text} for text in _instructions(request))
        kwargs: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": messages,
            "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": request.temperature},
        }
        if system:
            kwargs["system"] = system
        if self.additional_fields:
            kwargs["additionalModelRequestFields"] = dict(self.additional_fields)
        if request.json_schema is not None and self.structured_output:
            schema = json.dumps(request.json_schema, sort_keys=True)
            structure = {"jsonSchema": {"schema": schema, "name": "verdict"}}
            kwargs["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": structure}}
        return kwargs


def _to_converse(messages: Sequence[Mapping[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Chat messages to Converse ``system`` blocks and strictly alternating user/assistant ``messages``."""
    system: list[dict[str, str]] = []
    turns: list[tuple[str, list[str]]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content", "")
        if not isinstance(content, str):
            raise PermanentJudgeError(f"Converse judge messages need text content, got {type(content).__name__}")
        if not content.strip():
            continue  # Converse rejects blank text blocks with a ValidationException
        if role == "system":
            system.append({"text": content})
        elif role in ("user", "assistant"):
            # Converse requires alternating roles, so consecutive turns of one role become one turn.
            if turns and turns[-1][0] == role:
                turns[-1][1].append(content)
            else:
                turns.append((role, [content]))
        else:
            raise PermanentJudgeError(f"role {role!r} has no Converse equivalent (use system, user or assistant)")
    if not turns or turns[0][0] != "user":
        raise PermanentJudgeError("a Converse conversation must start with a non-empty user turn")
    return system, [{"role": role, "content": [{"text": "\n\n".join(parts)}]} for role, parts in turns]


def _instructions(request: JudgeRequest) -> list[str]:
    """Output constraints Converse cannot enforce portably, stated in the system prompt instead."""
    out = []
    if request.json_schema is not None:
        schema = json.dumps(request.json_schema, indent=2, sort_keys=True)
        out.append(
            "Reply with a single JSON object that conforms to the JSON Schema below, and nothing else: "
            f"no prose, no code fences.\nJSON Schema:\n{schema}"
        )
    if request.choices:
        options = "\n".join(f"- {choice}" for choice in request.choices)
        out.append(f"Reply with exactly one of the following options, verbatim, and nothing else:\n{options}")
    return out


def _parse_reply(reply: Mapping[str, Any]) -> TransportResult:
    content = (reply.get("output") or {}).get("message", {}).get("content") or []
    blocks = [block for block in content if isinstance(block, Mapping)]
    texts = [block["text"] for block in blocks if isinstance(block.get("text"), str)]
    # A reasoning model's thinking arrives in its own block (reasoningContent.reasoningText.text), kept apart.
    thought = [((b.get("reasoningContent") or {}).get("reasoningText") or {}).get("text") for b in blocks]
    in_text, text, cut_off = thinking.split_reasoning("".join(texts))
    reasoning = thinking.join_reasoning(*[t for t in thought if isinstance(t, str)], in_text)
    if not text.strip():
        if reasoning:
            where = "an unclosed <think> block" if cut_off else f"stopReason={reply.get('stopReason')!r}"
            raise thinking.cut_off_error(where, reasoning)
        # Deterministic at temperature 0 (e.g. a guardrail or a tool-use only reply): not worth a retry.
        raise PermanentJudgeError(f"Converse reply has no text (stopReason={reply.get('stopReason')!r})")
    usage = reply.get("usage") or {}
    reasoning_tokens = thinking.estimate_tokens(reasoning)  # Converse's usage does not count them apart
    return TransportResult(
        text=text,
        tokens_in=int(usage.get("inputTokens", 0)),
        # outputTokens already counts the reasoning (billed as output); never report less than the estimate.
        tokens_out=max(int(usage.get("outputTokens", 0)), reasoning_tokens),
        reasoning=reasoning,
        reasoning_tokens=reasoning_tokens,
    )


def _classify(exc: BaseException, model_id: str) -> Exception | None:
    """A botocore failure as a Transient/PermanentJudgeError; ``None`` when it is not a botocore error."""
    from botocore import exceptions as bce

    if isinstance(exc, bce.ClientError):
        return _classify_client_error(exc, model_id)
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError | bce.NoAuthTokenError):
        return PermanentJudgeError(f"{_CREDENTIALS_HINT} ({type(exc).__name__}: {exc})")
    if isinstance(exc, bce.NoRegionError):
        return PermanentJudgeError(
            "no AWS region for Bedrock: set judge.region, AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile"
        )
    # Connection refused/reset, connect and read timeouts, a connection closed mid-reply: all transient.
    if isinstance(exc, bce.ConnectionError | bce.HTTPClientError | bce.IncompleteReadError):
        return TransientJudgeError(f"Bedrock connection error: {type(exc).__name__}: {exc}")
    if isinstance(exc, bce.BotoCoreError):  # bad parameters, unknown profile, token retrieval, ...
        return PermanentJudgeError(f"Bedrock client error: {type(exc).__name__}: {exc}")
    return None


def _classify_client_error(exc: Any, model_id: str) -> Exception:
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code", "") or "Unknown")
    status = int(meta.get("HTTPStatusCode", 0) or 0)
    message = f"Bedrock {code} (HTTP {status}) for {model_id}: {error.get('Message', '')}"
    normalized = code.rsplit("#", 1)[-1].split(":", 1)[0].lower()
    if normalized in _PERMANENT_CODES:
        return PermanentJudgeError(message)
    if normalized in _TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientJudgeError(message, retry_after_s=_retry_after(meta.get("HTTPHeaders") or {}))
    return PermanentJudgeError(message)  # every other 4xx: the same request would fail again


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        value = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def bedrock_judge(
    model_id: str = DEFAULT_MODEL_ID,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    policy: JudgePolicy | Mapping[str, Any] | None = None,
    *,
    connect_timeout_s: float = 10.0,
    read_timeout_s: float | None = None,
    structured_output: bool = False,
    additional_fields: Mapping[str, Any] | None = None,
) -> Judge:
    """A :class:`~rlaif.judges.base.Judge` on Bedrock Converse (the ``conf/judge/bedrock.yaml`` target).

    Offline and cheap: no client or credentials are touched until the first request. ``read_timeout_s``
    defaults to just past the policy's per-attempt timeout, so the judge's timeout fires first and an
    abandoned call frees its thread soon after.
    """
    resolved = JudgePolicy.parse(policy)
    transport = BedrockTransport(
        model_id,
        region,
        profile,
        endpoint_url,
        max_concurrency=resolved.max_concurrency,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s if read_timeout_s is not None else resolved.timeout_s + 1.0,
        structured_output=structured_output,
        additional_fields=additional_fields,
    )
    return Judge(transport, resolved)
