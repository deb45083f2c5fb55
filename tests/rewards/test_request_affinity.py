"""The rewards' judge requests carry the question as their routing affinity (a pool keeps one question's
requests on one endpoint's prefix cache), and the affinity never changes a cache key: it changes no reply."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rlaif.judges._cache import request_key
from rlaif.rewards.prompts.preference import PreferenceSpec, pair_request
from rlaif.rewards.prompts.rubric import criterion_request, json_request
from rlaif.rewards.rubric_spec import Rubric

RUBRIC = Rubric.from_mapping({"criteria": [{"id": "c", "question": "Is it polite?"}]})


@pytest.mark.parametrize("prompt", ["compact", "full"])
def test_rubric_requests_route_by_question(prompt: str) -> None:
    rubric = replace(RUBRIC, prompt=prompt)
    first = criterion_request(rubric, rubric.criteria[0], "What is tea?", "A drink.", None)
    second = criterion_request(rubric, rubric.criteria[0], "What is tea?", "A leaf.", None)
    assert first.affinity == second.affinity == "What is tea?"
    assert json_request(rubric, "What is tea?", "A drink.", None).affinity == "What is tea?"


def test_preference_requests_route_by_question() -> None:
    spec = PreferenceSpec.from_mapping({"instruction": "Prefer the shorter answer."})
    assert pair_request(spec, "What is tea?", "A drink.", "A leaf.").affinity == "What is tea?"


def test_the_affinity_is_not_part_of_the_cache_key() -> None:
    request = criterion_request(RUBRIC, RUBRIC.criteria[0], "What is tea?", "A drink.", None)
    assert request_key("judge", request) == request_key("judge", replace(request, affinity="elsewhere"))
    assert request_key("judge", request) != request_key("judge", replace(request, max_tokens=2))
