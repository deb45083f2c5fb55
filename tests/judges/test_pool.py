"""A pool of judge endpoints (rlaif/judges/pool.py) against real HTTP endpoints on 127.0.0.1: routing with
affinity, failover, probing back in, pre-flight, metrics and bad configs."""

from __future__ import annotations

import json
import logging
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from rlaif.errors import ConfigError
from rlaif.judges._routing import pick
from rlaif.judges.pool import JudgePool, pool_judge
from rlaif.judges.preflight import PROBE, JudgeUnavailableError, check_judge
from rlaif.judges.protocol import JudgeRequest
from tests._entry_point import run_train
from tests.judges._flaky_server import FlakyServer
from tests.judges._hung_server import HungServer

FAST = {"timeout_s": 5.0, "max_retries": 1, "backoff_initial_s": 0.05, "backoff_max_s": 0.1, "backoff_jitter_s": 0.0}
ENDPOINT = {"_target_": "rlaif.judges.backends.openai_compat.openai_judge", "model": "judge", "policy": FAST}


def _pool(*urls: str, **options: Any) -> JudgePool:
    policy = {"cache": False, **options.pop("policy", {})}
    return pool_judge(list(urls), endpoint=ENDPOINT, policy=policy, **options)


def _request(question: str, answer: str) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": f"{question} / {answer}"}], affinity=question)


def _questions(server: FlakyServer) -> Counter[str]:
    return Counter(body["messages"][-1]["content"].split(" / ")[0] for body in server.bodies)


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def test_one_questions_requests_stay_on_one_endpoint(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(default="slow"), flaky(default="slow")
    pool = _pool(a.url, b.url, load_factor=100.0)  # no load bound: affinity alone
    try:
        responses = pool.generate([_request(f"q{q}", f"answer {k}") for q in range(6) for k in range(4)])
    finally:
        pool.close()
    assert all(r.ok for r in responses)
    seen_a, seen_b = _questions(a), _questions(b)
    assert not set(seen_a) & set(seen_b), "a question's answers were split over the endpoints"
    assert sum(seen_a.values()) + sum(seen_b.values()) == 24
    assert seen_a and seen_b, "six questions all hashed to one endpoint"


def test_an_endpoint_that_leaves_moves_only_the_keys_it_was_first_for() -> None:
    keys, idle = [f"question {k}" for k in range(300)], dict.fromkeys("abc", 0)
    before = {key: pick(["a", "b", "c"], key, idle, 100.0) for key in keys}
    after = {key: pick(["a", "b"], key, idle, 100.0) for key in keys}
    assert set(before.values()) == {"a", "b", "c"}
    assert all(after[key] == first for key, first in before.items() if first != "c")


def test_the_load_bound_spreads_a_single_question(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky()
    pool = _pool(a.url, b.url, load_factor=1.0)
    try:
        assert all(r.ok for r in pool.generate([_request("q", f"answer {k}") for k in range(20)]))
    finally:
        pool.close()
    assert sorted([a.hits, b.hits]) == [10, 10]


def test_a_dead_endpoint_fails_over_without_a_failed_verdict(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky()
    b.stop()  # connection refused from the start: every request routed there must reach a instead
    pool = _pool(a.url, b.url, probe_interval_s=60.0)
    try:
        responses = pool.generate([_request(f"q{q}", "x") for q in range(16)])
        metrics = pool.metrics.drain()
        assert pool.healthy() == ["e1"]
        # Once out, the dead endpoint gets no traffic: nothing fails over any more.
        assert all(r.ok for r in pool.generate([_request(f"q{q}", "y") for q in range(16)]))
        later = pool.metrics.drain()
    finally:
        pool.close()
    assert all(r.ok for r in responses), [r.error for r in responses if not r.ok]
    assert metrics["failures"] == 0 and metrics["failovers"] > 0 and metrics["e2/failures"] > 0
    assert metrics["e1/requests"] == 16 and metrics["healthy_endpoints"] == 1.0
    assert metrics["e1/share"] == pytest.approx(16 / (16 + metrics["e2/requests"]))
    assert later["failovers"] == 0 and later["e2/requests"] == 0 and later["e1/requests"] == 16


def test_an_endpoint_that_comes_back_takes_traffic_again(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky()
    port = int(b.url.rsplit(":", 1)[1].split("/")[0])
    pool = _pool(a.url, b.url, probe_interval_s=0.2, load_factor=1.0)
    try:
        assert all(r.ok for r in pool.generate([_request("q", str(k)) for k in range(8)]))
        assert b.hits == 4
        b.stop()
        assert all(r.ok for r in pool.generate([_request("q", f"down {k}") for k in range(8)]))
        assert pool.healthy() == ["e1"]
        back = flaky(port=port)  # the same address, a new server
        # Probes go out at the start of a batch once probe_interval_s has passed; the batch does not wait.
        _wait_for(lambda: bool(pool.generate([_request("q", "poke")])) and pool.healthy() == ["e1", "e2"], "e2 back")
        assert all(r.ok for r in pool.generate([_request("q", f"back {k}") for k in range(8)]))
    finally:
        pool.close()
    assert sum(1 for body in back.bodies if "back" in body["messages"][-1]["content"]) == 4
    assert back.bodies[0]["messages"] == [dict(m) for m in PROBE.messages], "it was probed before taking traffic"


def test_a_refused_request_is_not_sent_elsewhere(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(default="400"), flaky(default="400")
    pool = _pool(a.url, b.url)
    try:
        [response] = pool.generate([_request("q", "x")])
    finally:
        pool.close()
    assert not response.ok and "HTTP 400" in str(response.error)
    assert a.hits + b.hits == 1 and pool.healthy() == ["e1", "e2"]


def test_every_endpoint_down_is_a_counted_failure(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(default="503"), flaky(default="503")
    pool = _pool(a.url, b.url)
    try:
        responses = pool.generate([_request("q", str(k)) for k in range(3)])
        metrics = pool.metrics.drain()
    finally:
        pool.close()
    assert all(not r.ok and r.retryable for r in responses)
    assert metrics["failures"] == 3 and metrics["healthy_endpoints"] == 0
    assert a.hits and b.hits, "each request tried both endpoints before failing"


def _key_first_on(endpoint: str) -> str:
    """A question whose requests the pool sends to ``endpoint`` first (of e1, e2, both idle)."""
    return next(f"q{k}" for k in range(100) if pick(["e1", "e2"], f"q{k}", {"e1": 0, "e2": 0}, 1.25) == endpoint)


def _endpoints(*servers: FlakyServer, **policies: dict[str, Any]) -> list[dict[str, Any]]:
    """Endpoint configs e1, e2, ... for ``servers``, each with FAST plus ``policies[name]``."""
    return [
        {**ENDPOINT, "name": f"e{k}", "base_url": s.url, "policy": {**FAST, **policies.get(f"e{k}", {})}}
        for k, s in enumerate(servers, 1)
    ]


def test_a_timed_out_request_is_tried_on_another_endpoint_not_again_on_the_same(
    flaky: Callable[..., FlakyServer],
) -> None:
    a, b = flaky(), flaky(default="hang")
    pool = pool_judge(_endpoints(a, b, e2={"timeout_s": 1.0}), load_factor=1.0)
    try:
        responses = pool.generate([_request("q", str(k)) for k in range(4)])  # strict balance: 2 on each
        metrics = pool.metrics.drain()
    finally:
        pool.close()
    assert all(r.ok for r in responses), [r.error for r in responses]
    # Each hung request was sent to b once (its policy allows a retry), then to a: 2 + 2 on a.
    assert b.hits == 2 and a.hits == 4 and metrics["e2/retries"] == 0 and metrics["failovers"] == 2


def test_a_failed_request_goes_elsewhere_at_once_not_after_the_others_on_its_endpoint(
    flaky: Callable[..., FlakyServer],
) -> None:
    a, b = flaky(), flaky(("hang", "503"), default="ok")
    slow = {"timeout_s": 60.0, "max_retries": 0}
    pool = pool_judge(_endpoints(a, b, e1=slow, e2=slow), load_factor=1.0)
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(pool.generate([_request("q", str(k)) for k in range(4)])))
    try:
        worker.start()
        # The 503 on b reaches a while b still holds the other request (it would answer only when released).
        _wait_for(lambda: a.hits == 3 and b.in_flight == 1, "the failed request on a, the hung one still on b")
        assert not done
        b.released.set()  # the hung request's connection is closed unanswered: it fails over too
        worker.join(timeout=60)
    finally:
        b.released.set()
        pool.close()
    assert done and all(r.ok for r in done[0]) and a.hits == 4 and b.hits == 2


def test_the_pool_deadline_bounds_the_whole_batch_failovers_included(flaky: Callable[..., FlakyServer]) -> None:
    first, second = flaky(default="503"), flaky(default="hang")
    # Each endpoint would give an attempt 30 s, and a batch 600 s: the pool's 3 s deadline bounds the failover.
    slow = {"timeout_s": 30.0, "max_retries": 0, "batch_deadline_s": 600.0}
    pool = pool_judge(_endpoints(first, second, e1=slow, e2=slow), policy={"batch_deadline_s": 3.0})
    try:
        [response] = pool.generate([_request(_key_first_on("e1"), "x")])
    finally:
        pool.close()
    assert first.hits == 1 and second.hits == 1  # failed over to the second endpoint, within the deadline
    assert not response.ok and "within 30" not in str(response.error), response.error
    assert "no answer within" in str(response.error) or "deadline" in str(response.error)


def test_an_endpoint_is_not_taken_out_for_this_clients_own_rate_limit(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky()
    # e1 takes one request a minute: the rest of the batch cannot be served by the pool's 5 s deadline there.
    pool = pool_judge(_endpoints(a, b, e1={"max_rpm": 1.0}), load_factor=100.0, policy={"batch_deadline_s": 5.0})
    try:
        responses = pool.generate([_request(_key_first_on("e1"), str(k)) for k in range(3)])
        metrics = pool.metrics.drain()
        assert pool.healthy() == ["e1", "e2"]  # its quota ran out; the endpoint did nothing wrong
    finally:
        pool.close()
    assert all(r.ok for r in responses), [r.error for r in responses]
    assert a.hits == 1 and b.hits == 2 and metrics["failovers"] == 2


def test_a_probe_does_not_bring_back_an_endpoint_whose_breaker_is_open(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky(("503",), default="ok")  # b fails once, then would answer a probe
    tripping = {"max_retries": 0, "breaker_threshold": 1, "breaker_cooldown_s": 600.0}
    pool = pool_judge(_endpoints(a, b, e2=tripping), probe_interval_s=0.05)
    try:
        assert all(r.ok for r in pool.generate([_request(_key_first_on("e2"), "x")]))
        assert pool.healthy() == ["e1"] and b.hits == 1 and pool.metrics.drain()["failovers"] == 1
        later = []
        for k in range(10):  # probes fall due between these batches
            time.sleep(0.1)
            responses = pool.generate([_request(_key_first_on("e2"), f"y{k}")])
            later.append((all(r.ok for r in responses), pool.metrics.drain()["failovers"]))
    finally:
        pool.close()
    # Its breaker is open for 600 s: a probe is not sent, and no request is routed there to fail fast.
    assert b.hits == 1 and later == [(True, 0.0)] * 10 and pool.healthy() == ["e1"]


def test_a_pools_tokens_count_only_requests_that_reached_a_model(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(default="usage:10:2"), flaky(default="usage:10:2")
    pool = pool_judge([a.url, b.url], endpoint=ENDPOINT, load_factor=1.0, policy={"cache": True})
    batch = [_request(f"q{k}", "x") for k in range(4)]
    try:
        pool.generate(batch + batch[:2])  # two answers shared with the same request in flight
        pool.generate(batch)  # every answer from the endpoints' caches
        totals = pool.metrics.totals()
    finally:
        pool.close()
    assert a.hits + b.hits == 4
    assert totals["tokens_in"] == totals["e1/tokens_in"] + totals["e2/tokens_in"] == 10 * 4
    assert totals["tokens_out"] == 2 * 4 and totals["cache_hits"] == 6


def test_preflight_warns_about_a_dead_endpoint_and_starts(
    flaky: Callable[..., FlakyServer], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = flaky(), flaky()
    b.stop()
    pool = _pool(a.url, b.url, probe_interval_s=60.0)
    try:
        with caplog.at_level(logging.WARNING, logger="rlaif.judges.pool"):
            check_judge(pool, timeout_s=5.0)
        assert pool.healthy() == ["e1"]
    finally:
        pool.close()
    assert any("e2" in r.message and b.url in r.message for r in caplog.records)


def test_preflight_fails_below_min_healthy(flaky: Callable[..., FlakyServer]) -> None:
    a, b = flaky(), flaky()
    b.stop()
    pool = _pool(a.url, b.url, min_healthy=2)
    try:
        with pytest.raises(JudgeUnavailableError, match=r"1 of 2 judge endpoints answered \(judge.min_healthy 2\)"):
            check_judge(pool, timeout_s=5.0)
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"endpoints": []}, "judge.endpoints"),
        ({"min_healthy": 3}, "judge.min_healthy"),
        ({"min_healthy": 0}, "judge.min_healthy"),
        ({"load_factor": 0.5}, "judge.load_factor"),
        ({"probe_interval_s": 0}, "judge.probe_interval_s"),
        ({"endpoints": ["http://127.0.0.1:1/v1", 7]}, r"judge.endpoints\[1\]"),
        ({"endpoint": {"model": "judge"}}, r"judge.endpoint "),
        ({"endpoints": ["http://127.0.0.1:1/v1", "127.0.0.1:8000"]}, r"judge.endpoints\[1\]: '127.0.0.1:8000' is not"),
        ({"endpoints": ["http://127.0.0.1:x/v1"]}, r"judge.endpoints\[0\]: 'http://127.0.0.1:x/v1' is not"),
        (
            {"endpoint": {**ENDPOINT, "api_key_env": "RLAIF_TEST_UNSET_KEY"}},
            r"^judge.endpoints\[0\]: judge.endpoint.api_key_env: the environment variable RLAIF_TEST_UNSET_KEY",
        ),
        (
            {"endpoints": [{**ENDPOINT, "base_url": "http://127.0.0.1:1/v1", "api_key_env": "RLAIF_TEST_UNSET_KEY"}]},
            r"^judge.endpoints\[0\].api_key_env: the environment variable RLAIF_TEST_UNSET_KEY",
        ),
    ],
)
def test_bad_pool_settings_name_the_key(options: dict[str, Any], key: str) -> None:
    settings: dict[str, Any] = {"endpoints": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], "endpoint": ENDPOINT}
    with pytest.raises(ConfigError, match=key):
        pool_judge(**{**settings, **options})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("judge=pool", "judge.endpoints=[]"), "judge.endpoints: expected a non-empty list"),
        # Bad input found at set-up, not at the pre-flight request as an unreachable judge (exit 1).
        (("judge=pool", "judge.endpoints=[notaurl]"), "judge.endpoints[0]: 'notaurl' is not a base URL"),
        (
            ("judge=vllm", "judge.api_key_env=RLAIF_TEST_UNSET_KEY"),
            "judge.api_key_env: the environment variable RLAIF_TEST_UNSET_KEY (the judge's API key) is not set",
        ),
    ],
)
def test_bad_judge_input_exits_2_naming_the_key_through_the_entry_point(
    overrides: tuple[str, ...], message: str, tmp_path: Any
) -> None:
    result = run_train(*overrides, f"hydra.run.dir={tmp_path / 'run'}", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert message in output and not (tmp_path / "run").exists()
    assert "Traceback" not in output


def test_endpoints_get_their_own_caches_and_a_pool_survives_pickling(tmp_path: Any) -> None:
    pool = pool_judge(
        ["http://127.0.0.1:1/v1", {**ENDPOINT, "name": "west", "base_url": "http://127.0.0.1:2/v1"}],
        endpoint=ENDPOINT,
        policy={"cache_path": str(tmp_path)},
    )
    assert list(pool.endpoints) == ["e1", "west"]
    assert [e.policy.cache_path for e in pool.endpoints.values()] == [f"{tmp_path}/e1", f"{tmp_path}/west"]
    copy = pickle.loads(pickle.dumps(pool))
    assert copy.identity == pool.identity and copy.healthy() == ["e1", "west"]


def test_a_hung_endpoint_loses_no_verdict_and_holds_up_nothing_through_the_entry_point(
    flaky: Callable[..., FlakyServer], tmp_path: Any
) -> None:
    """A replica that accepts connections and never answers anything (a wedged GPU server), beside a healthy
    one: every verdict arrives, no judge request waits on the hung one, and the run does not wait for its
    pre-flight probe to time out (twice, with a retry) before it starts."""
    healthy, run_dir = flaky(), tmp_path / "run"
    with HungServer() as hung:
        result = run_train(
            "reward=rubric",  # no on-topic gate: 12-token answers may all be gated, and then no judge is asked
            "judge=pool",
            f"judge.endpoints=[{healthy.url},{hung.url}]",
            # Long: a run that waited on it would show in the order of events below. Nothing here waits on it.
            "judge.endpoint.policy.timeout_s=120",
            "judge.probe_interval_s=1",
            "debug=smoke",
            f"hydra.run.dir={run_dir}",
            env={"OMP_NUM_THREADS": "1"},
            timeout=600,
        )
        judge_requests, probe_times = hung.judge_requests, hung.probe_times
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    rewards = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert rewards and all(r["score"] is not None for r in rewards), "a verdict was lost"
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert metrics["failures"] == 0 and metrics["e1/failures"] == 0 and metrics["healthy_endpoints"] == 1
    # Taken out at the pre-flight: no judge request was ever sent to it, so none failed over.
    assert judge_requests == 0 and metrics["e2/requests"] == 0 and metrics["failovers"] == 0
    # The run went on while the pre-flight probe still hung: its retry, 120 s later, had not come when the
    # healthy endpoint was sent the first judge request (the pre-flight used to wait for both attempts).
    first_judged = min(t for t, body in zip(healthy.times, healthy.bodies, strict=True) if not _is_probe(body))
    assert len([t for t in probe_times if t < first_judged]) == 1, probe_times
    assert "judge endpoint e2" in output and "no answer to the pre-flight request" in output
    # The pool's tokens are those of requests that reached a model: the endpoints' own, no more.
    assert metrics["tokens_in"] == metrics["e1/tokens_in"] + metrics["e2/tokens_in"] > 0


def _is_probe(body: dict[str, Any]) -> bool:
    return bool(body["messages"] == [dict(m) for m in PROBE.messages])
