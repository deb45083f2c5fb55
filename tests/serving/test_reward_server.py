"""``python -m rlaif.serve judge=local`` (the packaged judge model) through a real socket: OpenRLHF's request, many
clients at once, bad input, the API key, /health, /metrics and /nova. One server serves the whole module.

OpenRLHF's client does not install on CPU (``openrlhf.utils`` imports DeepSpeed; the package pins flash-attn, ray
and vLLM), so :func:`openrlhf_post` replays OpenRLHF 0.11.2's request exactly, and reads the reply as it does:

- ``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor.execute``: the prompt's tokens (lines 216-218) and the
  response's (248-255) decoded together with ``skip_special_tokens=False`` are the query (288); the rollout's
  ``[query], [prompt], [label]`` go to ``_fetch_rewards_via_http`` (292), which posts
  ``{"query": [...], "prompts": [...], "labels": [...]}`` with aiohttp's ``json=`` (341-353: ``json.dumps``,
  ``Content-Type: application/json``) and returns ``response.json()``. Lines 293-301: ``scores`` (else
  ``rewards``) is the score, ``rewards`` the reward, ``extra_logs`` the logs;
- ``openrlhf/trainer/ppo_utils/samples_generator.py``, ``_process_response_into_experience`` (283-305):
  ``torch.tensor([reward_val])``, ``torch.tensor([score_val])`` and ``torch.tensor([value])`` per extra log.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from tests.nova.payloads import QUESTION, bedrock_sample, sagemaker_sample
from tests.serving._serve import Served

KEY_ENV = "RLAIF_TEST_SERVE_KEY"
KEY = "test-key-not-a-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
CLIENTS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    run_dir = tmp_path_factory.mktemp("serve") / "run"
    served = Served(run_dir, "judge=local", f"auth.api_key_env={KEY_ENV}", env={KEY_ENV: KEY})
    yield served.wait_ready()
    served.stop()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from rlaif.data.models import load_tokenizer

    return load_tokenizer("packaged:smollm2-135m-instruct")


def rollout(tokenizer: Any, question: str, answer: str) -> tuple[str, str]:
    """(query, prompt) as OpenRLHF's single-turn executor builds them for one vLLM rollout (agent.py 216-288)."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer(text=prompt, add_special_tokens=False, return_tensors="pt")["input_ids"][0].tolist()
    action_ids = tokenizer(text=answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]  # vLLM keeps EOS
    return tokenizer.decode(prompt_ids + action_ids, skip_special_tokens=False), prompt


def openrlhf_post(url: str, query: str, prompt: str, label: Any, headers: dict[str, str] | None = None) -> Any:
    """OpenRLHF 0.11.2's request (agent.py 341-353) for one rollout; the reply as it reads it (293-301)."""
    payload = {"query": [query], "prompts": [prompt], "labels": [label]}
    response = httpx.post(
        url, content=json.dumps(payload), headers={"Content-Type": "application/json", **(headers or {})}, timeout=180
    )
    response.raise_for_status()
    rewards_info = response.json()
    score_value = rewards_info.get("scores")
    if score_value is None:
        score_value = rewards_info.get("rewards")
    return rewards_info.get("rewards"), score_value, rewards_info.get("extra_logs") or {}


def lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]


def test_openrlhf_request_gets_a_reward_openrlhf_can_use(server: Served, tokenizer: Any) -> None:
    answer = "The capital of France is Paris."
    query, prompt = rollout(tokenizer, "What is the capital of France?", answer)
    reward, score, extra_logs = openrlhf_post(f"{server.url}/get_reward", query, prompt, "Paris", AUTH)

    # samples_generator.py 283-305: each becomes a tensor of one row per rollout
    rewards, scores = torch.tensor([reward]), torch.tensor([score])
    logs = {key: torch.tensor([value]) for key, value in extra_logs.items()}
    assert rewards.shape == scores.shape == (1, 1) and 0.0 <= float(rewards[0, 0]) <= 1.0
    assert logs["judge_failed"].tolist() == [[0.0]]
    (line,) = [line for line in lines(server.run_dir) if line["completion"].startswith(answer)]
    assert line["completion"] == answer + tokenizer.eos_token  # the query minus its prompt, as the policy wrote it
    assert line["prompt"] == prompt and line["reference"] == "Paris" and line["judged"]
    assert line["score"] == pytest.approx(reward[0])


def test_a_null_reward_would_break_openrlhf() -> None:
    # Why a judge failure gets failure_score, not null: samples_generator.py 304 makes a tensor of it.
    with pytest.raises((TypeError, RuntimeError)):
        torch.tensor([[None]])


def test_concurrent_clients_share_judge_batches_and_get_their_own_scores(server: Served, tokenizer: Any) -> None:
    answers = [f"Paris is the capital of France, answer {i}{'!' * i}" for i in range(CLIENTS)]
    before = {line["step"] for line in lines(server.run_dir)}
    start, replies, errors = threading.Barrier(CLIENTS), {}, []

    def client(answer: str) -> None:
        query, prompt = rollout(tokenizer, "What is the capital of France?", answer)
        start.wait()
        try:
            replies[answer] = openrlhf_post(f"{server.url}/get_reward", query, prompt, None, AUTH)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(answer,)) for answer in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert errors == [] and len(replies) == CLIENTS
    logged = [line for line in lines(server.run_dir) if line["step"] not in before]
    by_answer = {line["completion"].removesuffix(tokenizer.eos_token): line for line in logged}
    for answer, (reward, _, _) in replies.items():  # each client got the score of its own answer
        assert reward == [pytest.approx(by_answer[answer]["score"])]
    steps = {line["step"] for line in logged}
    assert len(steps) < CLIENTS  # several clients' answers went to the judge in one batch
    assert all(by_answer[a]["reference"] is None for a in answers)  # a null label: no reference answer
    # the rest of a run folder's reward files, as open_reward leaves them
    assert (server.run_dir / "monitor.jsonl").is_file() and (server.run_dir / "judge_cache").is_dir()
    assert "answered the pre-flight request" in server.log.read_text()  # check_judge=true: one real question first


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"query": ["x"', 400, "body"),
        (b'["x"]', 422, "body"),
        (b'{"prompts": ["a"]}', 422, "query"),
        (b'{"query": "a b", "prompts": ["a"]}', 422, "query"),
        (b'{"query": ["a b"], "prompts": ["a", "c"]}', 422, "prompts"),
        (b'{"query": ["a b"], "prompts": ["a"], "labels": "a"}', 422, "labels"),
        (b'{"query": ["a b"], "prompts": [3]}', 422, "prompts[0]"),
        (b'{"query": ["a b", "c d"], "prompts": ["a", "x"]}', 422, "query[1]"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_the_server_goes_on(
    server: Served, body: bytes, status: int, field: str
) -> None:
    response = httpx.post(f"{server.url}/get_reward", content=body, headers=AUTH, timeout=60)
    assert response.status_code == status
    assert response.json()["detail"].startswith(f"{field}:")
    good = {"query": [f"{QUESTION} No."], "prompts": [QUESTION], "labels": ["No"]}
    after = httpx.post(f"{server.url}/get_reward", json=good, headers=AUTH, timeout=180)
    assert after.status_code == 200 and len(after.json()["rewards"]) == 1


def test_api_key(server: Served) -> None:
    good = {"query": [f"{QUESTION} No."], "prompts": [QUESTION]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        for path in ("/get_reward", "/nova", "/metrics"):
            response = httpx.request(
                "GET" if path == "/metrics" else "POST", server.url + path, json=good, headers=headers
            )
            assert response.status_code == 401, (path, headers)
    health = httpx.get(f"{server.url}/health").json()  # probes need no key
    assert health["status"] == "ok" and health["nova"] is True and health["last_stop"] is None
    assert isinstance(health["batches"], int)


def test_nova_gives_the_lambdas_results(server: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlaif.nova.lambda_handler import build_grader

    answer = "Thanks for asking: no, there is no dedicated security team."
    event = [bedrock_sample("b-1", answer), sagemaker_sample("s-1", answer), {"id": "bad-1"}]
    response = httpx.post(f"{server.url}/nova", json=event, headers=AUTH, timeout=180)
    assert response.status_code == 200
    served = response.json()
    lambda_results = build_grader(["judge=local"]).score(event)  # the Lambda's own grader, in this process
    assert [r["id"] for r in served] == ["b-1", "s-1", "bad-1"]
    for mine, theirs in zip(served, lambda_results, strict=True):
        assert mine["aggregate_reward_score"] == pytest.approx(theirs["aggregate_reward_score"], abs=1e-4)
        assert [m["name"] for m in mine["metrics_list"]] == [m["name"] for m in theirs["metrics_list"]]
    assert served[2]["aggregate_reward_score"] == 0.0  # malformed: 0 and an error metric
    assert {"name": "error", "value": 1.0, "type": "Metric"} in served[2]["metrics_list"]
    not_a_list = httpx.post(f"{server.url}/nova", content=b'"x"', headers=AUTH)
    assert not_a_list.status_code == 422 and not_a_list.json()["detail"].startswith("event:")


def test_metrics_in_prometheus_text(server: Served) -> None:
    response = httpx.get(f"{server.url}/metrics", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("rlaif_judge_requests_total", ())] > 0
    assert samples[("rlaif_judge_failures_total", ())] == 0
    assert samples[("rlaif_judge_latency_seconds", (("quantile", "0.5"),))] > 0
    assert samples[("rlaif_serve_reward_calls_total", ())] >= 1
    assert samples[("rlaif_serve_answers_total", (("endpoint", "get_reward"),))] >= 1
    assert samples[("rlaif_serve_failed_answers_total", (("endpoint", "get_reward"),))] == 0
    assert samples[("rlaif_serve_batch_answers_count", ())] == samples[("rlaif_serve_reward_calls_total", ())]
    assert ("rlaif_serve_reward_seconds_count", (("endpoint", "get_reward"),)) in samples
    assert samples[("rlaif_serve_http_requests_total", (("path", "/health"), ("status", "200")))] >= 1
    assert samples[("rlaif_serve_stops_total", ())] == 0
    names = {name for name, _ in samples}
    for key in ("retries", "cache_hits", "tokens_in", "tokens_out"):  # every name docs/serving.md lists
        assert f"rlaif_judge_{key}_total" in names


def test_the_api_key_variable_must_be_set(tmp_path: Path) -> None:
    assert "RLAIF_UNSET_KEY_VAR" not in os.environ
    served = Served(tmp_path / "run", "auth.api_key_env=RLAIF_UNSET_KEY_VAR", "judge=local")
    assert served.process.wait(120) == 2
    output = served.log.read_text().strip().splitlines()
    assert len(output) == 1 and "auth.api_key_env" in output[0] and "RLAIF_UNSET_KEY_VAR" in output[0]
    assert not (tmp_path / "run").exists()  # nothing of this invocation is left behind


def test_ctrl_c_stops_the_server_cleanly(server: Served) -> None:  # last: it stops the module's server
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(60) == 0
    assert (server.run_dir / "judge_metrics.json").is_file() and not (server.run_dir / "FAILED").exists()
    assert any((server.run_dir / "judge_totals").iterdir())
