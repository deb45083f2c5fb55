"""A pool of judge endpoints (rlaif/judges/pool.py) against real HTTP endpoints on 127.0.0.1: routing with
affinity, failover, probing back in, pre-flight, metrics and bad configs."""

from __future__ import annotations

import logging
import pickle
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

try:  # tests/ as a package or as rootdir-relative modules: either pytest import mode works
    from tests._entry_point import run_train
    from tests.judges._flaky_server import FlakyServer
except ImportError:
    from _entry_point import run_train  # type: ignore[no-redef]
    from _flaky_server import FlakyServer  # type: ignore[no-redef]

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
    ],
)
def test_bad_pool_settings_name_the_key(options: dict[str, Any], key: str) -> None:
    settings: dict[str, Any] = {"endpoints": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], "endpoint": ENDPOINT}
    with pytest.raises(ConfigError, match=key):
        pool_judge(**{**settings, **options})


def test_an_empty_pool_exits_2_naming_the_key_through_the_entry_point(tmp_path: Any) -> None:
    result = run_train("judge=pool", "judge.endpoints=[]", f"hydra.run.dir={tmp_path / 'run'}", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "judge.endpoints: expected a non-empty list" in output and not (tmp_path / "run").exists()


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
