"""OpenAI-compatible judge transport, without vLLM: request mapping, error classification, pickling,
the engine's resilience against a misbehaving local server, and the launch path (a fake vLLM).

Tests count what the server saw and what the judge reports; they never assert on wall-clock time.
"""

from __future__ import annotations

import asyncio
import functools
import math
import pickle
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hydra.utils
import openai
import pytest
from omegaconf import OmegaConf

import rlaif
import rlaif.judges.backends.openai_compat as oc
from rlaif.judges.backends.openai_compat import (
    CHOICE_TOP_LOGPROBS,
    OpenAICompatTransport,
    openai_judge,
    request_kwargs,
    retry_after_s,
)
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransientJudgeError
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.verdicts.choices import choice_distribution
from tests.judges._flaky_server import SERVE, FlakyServer, completion, fake_vllm, pid_alive

CONF = Path(rlaif.__file__).resolve().parent / "conf" / "judge"
FAST = {
    "timeout_s": 5.0,
    "max_retries": 3,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.02,
    "backoff_jitter_s": 0.0,
    "breaker_threshold": 1000,
}


def req(text: str = "Is the sky blue?", **options: Any) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], **options)


@pytest.fixture
def make_judge() -> Iterator[Callable[..., Judge]]:
    judges: list[Judge] = []

    def make(base_url: str | None, **policy: Any) -> Judge:
        launch = policy.pop("launch", None)
        judges.append(openai_judge(base_url=base_url, model="judge", launch=launch, policy={**FAST, **policy}))
        return judges[-1]

    yield make
    for judge in judges:
        judge.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens: connection refused


def send_once(transport: OpenAICompatTransport, request: JudgeRequest) -> Any:
    async def go() -> Any:
        try:
            return await transport.send(request)
        finally:
            await transport.aclose()

    return asyncio.run(go())


# -- request mapping --------------------------------------------------------------------------


def test_plain_request_mapping() -> None:
    kwargs = request_kwargs(req(max_tokens=12, temperature=0.5), "judge", structured_outputs=True)
    assert kwargs == {
        "model": "judge",
        "messages": [{"role": "user", "content": "Is the sky blue?"}],
        "max_completion_tokens": 12,
        "temperature": 0.5,
    }


def test_json_schema_becomes_strict_response_format() -> None:
    schema = {"type": "object", "properties": {"pass": {"type": "boolean"}}, "required": ["pass"]}
    kwargs = request_kwargs(req(json_schema=schema), "judge", structured_outputs=True)
    assert kwargs["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": schema, "strict": True},
    }
    assert "extra_body" not in kwargs


def test_choices_use_vllm_structured_outputs_only_when_enabled() -> None:
    on = request_kwargs(req(choices=("yes", "no")), "judge", structured_outputs=True)
    assert on["extra_body"] == {"structured_outputs": {"choice": ["yes", "no"]}}
    assert "guided_choice" not in str(on) and "logprobs" not in on
    off = request_kwargs(req(choices=("yes", "no")), "judge", structured_outputs=False)
    assert "extra_body" not in off


def test_logprob_options() -> None:
    assert request_kwargs(req(logprobs=True), "m", True)["logprobs"] is True
    assert "top_logprobs" not in request_kwargs(req(logprobs=True), "m", True)
    assert request_kwargs(req(logprobs=True, top_logprobs=3), "m", True)["top_logprobs"] == 3
    # Choice scoring needs the first token's top list, whatever the caller asked for.
    assert request_kwargs(req(choices=("A", "B"), logprobs=True), "m", True)["top_logprobs"] == CHOICE_TOP_LOGPROBS


def test_schema_and_choices_together_are_refused() -> None:
    with pytest.raises(PermanentJudgeError):
        request_kwargs(req(json_schema={"type": "object"}, choices=("a",)), "m", True)


def completion_with_top(top: list[tuple[str, float]]) -> Any:
    """A vLLM-shaped completion whose one token has the top list ``top``."""
    body = {"model": "judge", "messages": [{"role": "user", "content": "q"}], "logprobs": True}
    reply = completion(body)
    alternatives = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]
    reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"] = alternatives
    return openai.types.chat.ChatCompletion.model_validate(reply)


def test_the_top_list_comes_back_as_the_server_sent_it() -> None:
    # No verdict here: the transport returns the tokens, rlaif.rewards.verdicts.choices decides (test_verdicts.py).
    choices_request = req(choices=("yes", "no"), logprobs=True)
    result = oc.parse_completion(completion_with_top([("yes", -0.5), (" yes", -1.5), ("No", -2.0)]), choices_request)
    assert result.token_logprobs[0].top == {"yes": -0.5, " yes": -1.5, "No": -2.0}
    assert not hasattr(result, "choice_logprobs")
    # Two token ids that print the same (byte fallbacks) are one text: their probabilities add up.
    doubled = oc.parse_completion(completion_with_top([("\ufffd", -1.0), ("\ufffd", -1.0)]), choices_request)
    assert doubled.token_logprobs[0].top["\ufffd"] == pytest.approx(-1.0 + math.log(2.0))


def test_a_choices_reply_without_a_top_list_is_permanent() -> None:
    with pytest.raises(PermanentJudgeError, match="top_logprobs"):
        oc.parse_completion(completion_with_top([]), req(choices=("yes",), logprobs=True))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None), ({"Retry-After": "soon"}, None)],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_request_on_the_wire(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky()
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]}
    send_once(OpenAICompatTransport(server.url, "judge"), req(json_schema=schema, max_tokens=9))
    send_once(OpenAICompatTransport(server.url, "judge"), req(choices=("yes", "no"), logprobs=True))
    schema_body, choice_body = server.bodies
    assert schema_body["response_format"]["json_schema"]["schema"] == schema
    assert schema_body["max_completion_tokens"] == 9 and schema_body["model"] == "judge"
    assert choice_body["structured_outputs"] == {"choice": ["yes", "no"]}
    assert choice_body["logprobs"] is True and choice_body["top_logprobs"] == CHOICE_TOP_LOGPROBS
    assert server.headers[0]["authorization"] == "Bearer EMPTY"


def test_reply_parsing(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky()
    result = send_once(OpenAICompatTransport(server.url, "judge"), req(choices=("yes", "no"), logprobs=True))
    assert result.text == "yes" and (result.tokens_in, result.tokens_out) == (7, 1)
    assert result.token_logprobs[0].token == "yes" and result.token_logprobs[0].top["no"] == -1.9
    p_yes = sum(math.exp(lp) for lp in (-0.2, -2.0, -3.0))  # "yes" + " yes" + "Yes"
    assert choice_distribution(("yes", "no"), result)["yes"] == pytest.approx(p_yes / (p_yes + math.exp(-1.9)))


# -- error classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ("500", TransientJudgeError),
        ("503", TransientJudgeError),
        ("429", TransientJudgeError),
        ("close", TransientJudgeError),
        ("400", PermanentJudgeError),
        ("garbage", PermanentJudgeError),
        ("no_choices", PermanentJudgeError),
        ("empty", PermanentJudgeError),
    ],
)
def test_error_classification(flaky: Callable[..., FlakyServer], action: str, error: type[Exception]) -> None:
    server = flaky((action,))
    with pytest.raises(error):
        send_once(OpenAICompatTransport(server.url, "judge"), req())
    assert server.hits == 1  # the SDK itself never retries


def test_refused_connection_and_client_timeout_are_transient(flaky: Callable[..., FlakyServer]) -> None:
    with pytest.raises(TransientJudgeError):
        send_once(OpenAICompatTransport(closed_port_url(), "judge"), req())
    server = flaky(("hang",))
    with pytest.raises(TransientJudgeError):
        send_once(OpenAICompatTransport(server.url, "judge", timeout_s=0.2), req())


def test_rate_limit_carries_retry_after(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky(("429",), retry_after="7")
    with pytest.raises(TransientJudgeError) as info:
        send_once(OpenAICompatTransport(server.url, "judge"), req())
    assert info.value.retry_after_s == 7.0


def test_logprobs_missing_from_reply_is_permanent(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky()
    transport = OpenAICompatTransport(server.url, "judge")

    async def go() -> None:
        client = await transport._get_client(server.url)
        completion = await client.chat.completions.create(**request_kwargs(req(), "judge", True))
        with pytest.raises(PermanentJudgeError):
            oc.parse_completion(completion, req(logprobs=True))
        await transport.aclose()

    asyncio.run(go())


# -- API key, identity, pickling --------------------------------------------------------------


def test_api_key_from_the_named_env_var_only(flaky: Callable[..., FlakyServer], monkeypatch: Any) -> None:
    server = flaky()
    monkeypatch.setenv("RLAIF_TEST_JUDGE_KEY", "sk-secret-123")
    transport = OpenAICompatTransport(server.url, "judge", api_key_env="RLAIF_TEST_JUDGE_KEY")
    send_once(transport, req())
    assert server.headers[0]["authorization"] == "Bearer sk-secret-123"
    assert b"sk-secret-123" not in pickle.dumps(transport) and "sk-secret-123" not in str(vars(transport))
    monkeypatch.delenv("RLAIF_TEST_JUDGE_KEY")
    with pytest.raises(PermanentJudgeError, match="RLAIF_TEST_JUDGE_KEY"):
        send_once(transport, req())
    assert server.hits == 1


def test_identity_and_offline_construction() -> None:
    assert OpenAICompatTransport("http://h:1/v1/", "m").identity == "openai:http://h:1/v1:m"
    factory = functools.partial(VLLMServer, model="packaged:smollm2-135m-instruct", port=0)
    launched = OpenAICompatTransport(None, "judge", launch=factory)
    # The cache identity is what is served, never the port a run happens to get.
    assert launched.identity == "openai:launch:packaged:smollm2-135m-instruct:judge"
    assert OpenAICompatTransport(None, "judge", launch=functools.partial(factory, port=9)).identity == launched.identity
    assert launched.server is None  # nothing started by the constructor
    copy = pickle.loads(pickle.dumps(launched))
    assert copy.identity == launched.identity and copy.launch.keywords == factory.keywords
    with pytest.raises(ValueError):
        OpenAICompatTransport(None, "m")


def test_judge_pickles_before_and_after_use(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky()
    judge = make_judge(server.url)
    copy = pickle.loads(pickle.dumps(judge))
    assert judge.generate([req("a")])[0].ok
    assert judge.transport._client is not None
    after = pickle.loads(pickle.dumps(judge))  # the live client is dropped, not pickled
    assert after.transport._client is None and after.identity == judge.identity
    try:
        assert [r.text for r in copy.generate([req("b")]) + after.generate([req("c")])] == ["ok: b", "ok: c"]
    finally:
        copy.close()
        after.close()


@pytest.mark.parametrize("name", ["vllm", "openai"])
def test_configs_instantiate_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # judge=openai names it; vLLM's default names none
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert (CONF / f"{name}.yaml").read_text().startswith("# ")
    judge = hydra.utils.instantiate(cfg, _convert_="all")
    try:
        assert isinstance(judge, Judge) and isinstance(judge.transport, OpenAICompatTransport)
        assert judge.policy.max_concurrency == cfg.policy.max_concurrency
        assert judge.transport.max_connections == cfg.policy.max_concurrency
    finally:
        judge.close()


# -- the engine against a misbehaving server ---------------------------------------------------


def test_transient_errors_are_retried_until_success(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky(("500", "429", "close", "503", "ok"))
    judge = make_judge(server.url, max_retries=4)
    [response] = judge.generate([req()])
    assert response.ok and response.attempts == 5 and server.hits == 5
    totals = judge.metrics.totals()
    assert (totals["requests"], totals["retries"], totals["failures"]) == (1, 4, 0)


def test_retries_are_bounded_and_failures_returned(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky(default="500")
    judge = make_judge(server.url, max_retries=2)
    [response] = judge.generate([req()])  # nothing raised
    assert not response.ok and "HTTP 500" in response.error
    assert response.attempts == 3 and server.hits == 3


def test_refused_connection_is_retried_then_reported(make_judge: Any) -> None:
    judge = make_judge(closed_port_url(), max_retries=2)
    [response] = judge.generate([req()])
    assert not response.ok and "APIConnectionError" in response.error and response.attempts == 3
    totals = judge.metrics.totals()
    assert (totals["failures"], totals["retries"]) == (1, 2)


def test_hang_is_cut_by_timeout(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky(("hang", "ok"))
    judge = make_judge(server.url, timeout_s=2.0)  # long enough for the healthy retry on a loaded machine
    [response] = judge.generate([req()])
    assert response.ok and response.attempts == 2 and server.hits == 2


@pytest.mark.parametrize("action", ["400", "garbage", "no_choices", "empty"])
def test_permanent_errors_are_not_retried(flaky: Callable[..., FlakyServer], make_judge: Any, action: str) -> None:
    server = flaky((action,))
    judge = make_judge(server.url)
    [response] = judge.generate([req()])
    assert not response.ok and "PermanentJudgeError" in response.error
    assert response.attempts == 1 and server.hits == 1


def test_errors_come_back_per_request(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky(("ok", "400", "ok"))
    judge = make_judge(server.url, max_concurrency=1)
    responses = judge.generate([req("a"), req("b"), req("c")])
    assert [r.ok for r in responses] == [True, False, True]
    assert responses[1].error is not None and responses[2].text == "ok: c"


def test_breaker_fails_fast_after_k_failures(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky(default="500")
    judge = make_judge(server.url, max_retries=0, breaker_threshold=3, breaker_cooldown_s=600.0, max_concurrency=1)
    responses = judge.generate([req(str(i)) for i in range(6)])
    assert server.hits == 3  # after 3 consecutive failures nothing more reaches the server
    assert all("HTTP 500" in r.error for r in responses[:3])
    assert all("CircuitOpenError" in r.error for r in responses[3:])
    assert judge.metrics.totals()["failures"] == 6


def test_cache_hits_skip_the_server_and_failures_are_not_cached(
    flaky: Callable[..., FlakyServer], make_judge: Any
) -> None:
    server = flaky(("400",))
    judge = make_judge(server.url, max_concurrency=1)
    first = judge.generate([req("a"), req("b")])
    assert [r.ok for r in first] == [False, True] and server.hits == 2
    second = judge.generate([req("a"), req("b")])  # "a" failed: sent again; "b" answered: cached
    assert [(r.ok, r.cached) for r in second] == [(True, False), (True, True)] and server.hits == 3
    third = judge.generate([req("a"), req("b")])
    assert all(r.cached for r in third) and server.hits == 3
    totals = judge.metrics.totals()
    assert (totals["requests"], totals["cache_hits"], totals["failures"]) == (6, 3, 1)
    assert (totals["tokens_in"], totals["tokens_out"]) == (14, 2)  # cache hits cost no tokens


def test_concurrency_cap_bounds_requests_in_flight(flaky: Callable[..., FlakyServer], make_judge: Any) -> None:
    server = flaky()
    judge = make_judge(server.url, max_concurrency=4)
    responses = judge.generate([req(f"q{i}") for i in range(40)])
    assert all(r.ok for r in responses) and server.hits == 40
    assert server.max_in_flight <= 4


# -- launch: the transport starts and stops its own server (a fake vLLM entry point) ----------


def test_launch_starts_once_and_close_stops_by_pid(tmp_path: Path, make_judge: Any) -> None:
    starts = []

    class CountingServer(VLLMServer):
        def start(self) -> VLLMServer:
            starts.append(self)
            return super().start()

    env = fake_vllm(tmp_path, SERVE)
    launch = functools.partial(CountingServer, model=str(tmp_path), python=sys.executable, device="cpu", env=env)
    judge = make_judge(None, launch=launch, max_concurrency=16)
    responses = judge.generate([req(f"q{i}") for i in range(16)])  # 16 concurrent first sends
    assert all(r.ok for r in responses) and len(starts) == 1
    server = judge.transport.server
    pid, child = server.pid, int((tmp_path / "vllm/entrypoints/openai/child.pid").read_text())
    assert pid_alive(pid) and pid_alive(child)
    judge.close()
    assert not pid_alive(pid) and not pid_alive(child)  # the whole process group is gone


def test_launch_failure_is_a_permanent_error_with_the_log(tmp_path: Path, make_judge: Any) -> None:
    env = fake_vllm(tmp_path, "import sys; print('boom: no such model'); sys.exit(3)")
    # A plain mapping of VLLMServer's options works too (a Python caller need not build a partial).
    launch = {"model": str(tmp_path), "python": sys.executable, "device": "cpu", "env": env}
    judge = make_judge(None, launch={**launch, "log_path": str(tmp_path / "server.log")})
    [response] = judge.generate([req()])
    assert (
        "did not start" in response.error and "boom" in response.error and response.attempts == 0
    )  # the start runs before any attempt


def test_launch_options_are_checked_offline() -> None:
    with pytest.raises(ValueError, match="gpu_memory"):
        OpenAICompatTransport(None, "judge", launch={"model": "m", "gpu_memory": 0.5})
    with pytest.raises(ValueError, match="gpu_memory"):
        OpenAICompatTransport(None, "judge", launch=functools.partial(VLLMServer, model="m", gpu_memory=0.5))
    with pytest.raises(ValueError, match="model"):
        OpenAICompatTransport(None, "judge", launch=functools.partial(VLLMServer, python="p"))
    with pytest.raises(ValueError, match="served_model_name"):  # the served name is always the transport's
        OpenAICompatTransport(None, "judge", launch=functools.partial(VLLMServer, model="m", served_model_name="x"))
    with pytest.raises(ValueError, match="_partial_"):  # an instance instead of a factory: forgot _partial_
        OpenAICompatTransport(None, "judge", launch=VLLMServer("m"))  # type: ignore[arg-type]


def test_launch_config_is_a_hydra_factory() -> None:
    cfg = OmegaConf.load(CONF / "vllm.yaml")
    cfg.launch = OmegaConf.load(CONF / "launch" / "vllm.yaml")
    cfg.launch.python = sys.executable
    judge = hydra.utils.instantiate(cfg, _convert_="all")
    try:
        transport = judge.transport
        assert isinstance(transport.launch, functools.partial) and transport.server is None
        assert transport.identity == f"openai:launch:{cfg.launch.model}:{cfg.model}"
        server = transport.launch(served_model_name=transport.model)  # built, not started
        assert isinstance(server, VLLMServer) and server.pid is None
        assert (server.model, server.python, server.served_model_name) == (cfg.launch.model, sys.executable, "judge")
        assert pickle.loads(pickle.dumps(judge)).identity == judge.identity
    finally:
        judge.close()
