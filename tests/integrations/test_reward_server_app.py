"""The reward server's pieces that need no socket: what /nova serves for which reward, and its own settings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rlaif.errors import ConfigError, parse_settings
from rlaif.integrations.reward_server import ServeSettings, nova_grader, read_openrlhf
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


def test_the_answer_is_the_query_minus_its_prompt() -> None:
    prompts, answers, references = read_openrlhf(b'{"query": ["Q? A."], "prompts": ["Q?"], "labels": [null]}')
    assert (prompts, answers, references) == (["Q?"], [" A."], [""])
