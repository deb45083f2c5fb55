"""Rubric and preference specs: validation messages name the key; every shipped rubric works with every
judge reward config; configs build offline and pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

import rlaif
from rlaif.errors import RubricError
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.prompts.preference import PreferenceSpec, pair_request
from rlaif.rewards.rubric_spec import Rubric
from tests.rewards.scripted import scripted_judge, yes_no

CONF = Path(rlaif.__file__).parent / "conf"
RUBRICS = sorted(p.stem for p in (CONF / "rubric").glob("*.yaml"))
REWARDS = sorted(p.stem for p in (CONF / "reward").glob("*.yaml"))


def test_the_shipped_rubrics_are_there() -> None:
    assert {"everyday", "helpfulness", "contract_review", "reference_qa"} <= set(RUBRICS)
    assert {"rubric", "rubric_with_checks", "preference", "checks"} <= set(REWARDS)


@pytest.mark.parametrize("rubric", RUBRICS)
@pytest.mark.parametrize("reward", REWARDS)
def test_every_reward_with_every_rubric_builds_offline_and_pickles(reward: str, rubric: str, tmp_path: Path) -> None:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"reward={reward}", f"rubric={rubric}"])
    judge, _ = scripted_judge(_yes)
    built = instantiate(cfg.reward, judge=judge, log_path=str(tmp_path / "rewards.jsonl"), _convert_="all")
    assert built.__name__ and callable(built)
    assert pickle.loads(pickle.dumps(built)).__name__ == built.__name__


@pytest.mark.parametrize(("written", "read"), [(False, "no"), (True, "yes"), ("no", "no"), (None, None)])
def test_pass_on_reads_yaml_booleans_as_the_answer_that_passes(written: object, read: str | None) -> None:
    criterion = {"id": "a", "question": "Is it long?"} | ({} if written is None else {"pass_on": written})
    rubric = Rubric.from_mapping({"criteria": [criterion]})
    assert rubric.criteria[0].pass_on == (read or "yes")  # YAML 1.1 reads a bare no as false


def _yes(request: JudgeRequest) -> TransportResult:
    return yes_no(1.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"criteria": []}, "non-empty list"),
        ({"criteria": [{"id": "a b", "question": "q"}]}, r"criteria\[0\].id"),
        ({"criteria": [{"id": "a", "question": "q"}], "output": {"schema": {"type": 3}}}, "not a valid JSON schema"),
        ({"criteria": [{"id": "a", "question": "q"}], "output": {"items": ""}}, "output.items"),
        ({"criteria": [{"id": "a", "question": "q"}], "output": {"format": "json"}}, "'schema' and/or 'items'"),
        (
            {"criteria": [{"id": "a", "question": "q", "pass_on": "maybe"}]},
            r"criteria\[0\].pass_on: expected yes or no",
        ),
        ({"criteria": [{"id": "a", "question": "q"}], "prompt": "short"}, r"rubric.prompt: expected one of"),
        ({"criteria": [{"id": "a", "question": "q"}], "show_reference": "no"}, r"rubric.show_reference: expected true"),
        (
            {
                "prompt": "compact",
                "criteria": [{"id": "a", "question": "q", "examples": [{"answer": "x", "passes": 1}]}],
            },
            r"rubric.criteria\[0\].examples: prompt=compact shows no examples",
        ),
    ],
)
def test_rubric_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(RubricError, match=message):
        Rubric.from_mapping(data, "rubric")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "instruction: required"),
        ({"instruction": "x", "extra": 1}, "unknown key"),
        ({"instruction": "x", "examples": [{"question": "q", "better": "b"}]}, r"examples\[0\]"),
    ],
)
def test_preference_spec_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(RubricError, match=message):
        PreferenceSpec.from_mapping(data, "reward.preference")


def test_pair_request_alternates_example_positions_and_fences_both_answers() -> None:
    spec = PreferenceSpec.from_mapping(
        {
            "instruction": "Correct beats wrong.",
            "examples": [
                {"question": "1+1?", "better": "2", "worse": "3"},
                {"question": "2+2?", "better": "4", "worse": "5"},
            ],
        }
    )
    request = pair_request(spec, "q?", "first", "second", reference="ref")
    user = request.messages[1]["content"]
    assert "Better: A" in user and "Better: B" in user
    assert "<answer_a>\nfirst\n</answer_a>" in user and "<answer_b>\nsecond\n</answer_b>" in user
    assert "<reference>\nref\n</reference>" in user and request.choices == ("A", "B") and request.max_tokens == 1
