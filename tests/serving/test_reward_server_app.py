"""The reward server's pieces that need no socket: what /nova serves for which reward, and its own settings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from rlaif.errors import ConfigError, parse_settings
from rlaif.integrations.reward_server import ServeSettings, nova_grader, openrlhf_reply, read_openrlhf
from rlaif.runs.composed import compose_config
from rlaif.runs.judge_and_reward import build_judge_and_reward


def served(*overrides: str) -> SimpleNamespace:
    """What nova_grader reads of a RewardFunction: its reward inside the monitor's guard (judge and reward are
    built as the server builds them; nothing is loaded or asked)."""
    cfg = compose_config(overrides)
    _, reward = build_judge_and_reward(cfg.judge, cfg.reward, log_path=None)
    return SimpleNamespace(reward=SimpleNamespace(reward=reward))


def test_nova_under_training_s_failure_rule_none_scores_a_failure_neutral() -> None:
    function = served()  # reward=rubric_on_topic, on_judge_error=none as in training
    grader, why = nova_grader(function)
    assert why is None and grader.failures.on_judge_error == "neutral"
    assert function.reward.reward.failures.on_judge_error == "none"  # the reward's own rule is left as it is


def test_nova_answers_409_with_why_and_health_says_so() -> None:
    from fastapi.testclient import TestClient

    from rlaif.integrations.reward_server import create_app

    cfg = compose_config(["reward=preference"])
    judge, reward = build_judge_and_reward(cfg.judge, cfg.reward, log_path=None)
    function = SimpleNamespace(judge=judge, reward=SimpleNamespace(reward=reward))
    with TestClient(create_app(function, ServeSettings(), None)) as client:  # type: ignore[arg-type]
        response = client.post("/nova", json=[])
        assert response.status_code == 409 and "does not grade one answer at a time" in response.json()["detail"]
        assert client.get("/health").json()["nova"] is False


def test_nova_keeps_the_reward_s_own_rule_when_it_gives_a_number() -> None:
    grader, _ = nova_grader(served("reward.failures.on_judge_error=raise"))
    assert grader.failures.on_judge_error == "raise"


def test_nova_is_refused_with_why_for_a_reward_that_grades_no_single_answer() -> None:
    grader, why = nova_grader(served("reward=preference"))
    assert grader is None and why is not None and "does not grade one answer at a time" in why


@pytest.mark.parametrize(
    ("values", "key"),
    [({"port": 70000}, "port"), ({"failure_score": float("nan")}, "failure_score"), ({"batch": {"size": 3}}, "batch")],
)
def test_bad_settings_are_named(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}"):
        parse_settings(ServeSettings, values, "")


def test_the_answer_is_the_query_minus_its_prompt_and_a_label_any_json() -> None:
    body = b'{"query": ["Q? A.", "R? B.", "S? C."], "prompts": ["Q?", "R?", "S?"], "labels": [null, "b", {"x": 1}]}'
    prompts, answers, references = read_openrlhf(body)
    assert (prompts, answers, references) == (["Q?", "R?", "S?"], [" A.", " B.", " C."], ["", "b", {"x": 1}])
    assert read_openrlhf(b'{"query": ["Q? A."], "prompts": ["Q?"]}')[2] == [""]  # no labels: no reference


def test_batches_take_whole_requests_up_to_max_answers_and_each_gets_its_own_scores() -> None:
    import asyncio

    from rlaif.integrations.in_process import Scored
    from rlaif.integrations.reward_server import Batcher, BatchSettings

    batches: list[list[str]] = []

    class Scripted:  # a reward that scores an answer by its text, and records each batch (unit test only)
        async def score_batch(self, prompts: Any, answers: Any, step: Any = None, **columns: Any) -> Scored:
            batches.append(list(answers))
            return Scored([float(a) for a in answers], [{} for _ in answers])

    metrics = SimpleNamespace(
        reward_calls=SimpleNamespace(inc=lambda: None),
        batch_answers=SimpleNamespace(observe=lambda n: None),
        reward_seconds=SimpleNamespace(labels=lambda e: SimpleNamespace(observe=lambda s: None)),
    )
    batcher = Batcher(Scripted(), BatchSettings(window_ms=0, max_answers=4), metrics)  # type: ignore[arg-type]
    requests = [["1", "2", "3"], ["4", "5"], ["6", "7", "8", "9", "10"], ["11"]]

    async def run() -> list[Any]:
        task = asyncio.create_task(batcher.run())
        try:
            return await asyncio.gather(*(batcher.score(r, r, [""] * len(r)) for r in requests))
        finally:
            task.cancel()

    replies = asyncio.run(run())
    assert batches == [["1", "2", "3"], ["4", "5"], ["6", "7", "8", "9", "10"], ["11"]]  # 3+2 > 4: no overfill
    assert [scores for scores, _ in replies] == [[float(a) for a in r] for r in requests]
    assert batcher.step == 4


def test_a_failed_answer_is_flagged_whether_the_reward_gave_none_or_its_neutral_value() -> None:
    extras = [{"judge_failed": 0.0}, {"judge_failed": 1.0}, {"judge_failed": 1.0}]  # as score_batch reports them
    reply, failed = openrlhf_reply([0.8, None, 0.5], extras, failure_score=0.25)  # 0.5: on_judge_error=neutral
    assert reply == {"rewards": [0.8, 0.25, 0.5], "scores": [0.8, 0.25, 0.5], "extra_logs": {"judge_failed": [0, 1, 1]}}
    assert failed == 2
