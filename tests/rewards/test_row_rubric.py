"""Per-row rubrics: the item shapes as published, HealthBench's score, both verdict modes (with a scripted judge),
the one retry of a JSON verdict that misses or repeats an item, file criteria beside a row's own items, what
rewards.jsonl and the step metrics show, and the set-up check of the rows."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import RubricError
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.row_rubric import RowRubricReward, row_rubric_of
from rlaif.rewards.row_rubric_spec import parse_row_rubric
from rlaif.rewards.rubric_spec import Rubric
from rlaif.runs.config_checks import check_rows
from tests.rewards.scripted import Recorder, fenced, scripted_judge, text_reply, user_text, yes_no

PROMPT = [{"role": "user", "content": "My knee hurts after running. What should I do?"}]
# One item of each published shape, mixed as a dataset may mix them.
ITEMS: list[Any] = [
    {"title": "Rest", "description": "Essential Criteria: Advises resting the knee.", "weight": 5},
    {"criterion": "Recommends seeing a doctor if pain persists.", "points": 3, "tags": ["axis:completeness"]},
    "Mentions ice.",
    {"title": "Harm", "description": "Pitfall Criteria: Advises running through severe pain.", "weight": -4},
    {"question": "Does the answer claim the pain is certainly harmless?", "pass_criteria": "NO", "weight": 2},
]


def extra(items: Any) -> str:
    return json.dumps({"rubric": items})


def item_of(request: JudgeRequest) -> str:
    """The item text a logprob-mode request asks about (its last line but one)."""
    return user_text(request).splitlines()[-2]


def call(reward: RowRubricReward, answers: list[str], extras: list[str], **kwargs: Any) -> list[float | None]:
    prompts = [PROMPT] * len(answers)
    completions = [[{"role": "assistant", "content": a}] for a in answers]
    return asyncio.run(reward(prompts=prompts, completions=completions, extra=extras, **kwargs))


def test_every_published_shape_is_read_with_its_text_points_and_pass_rule() -> None:
    rubric = parse_row_rubric(ITEMS, "row 1")
    assert [(i.shape, i.points, i.met_on) for i in rubric.items] == [
        ("rar", 5.0, "yes"),
        ("healthbench", 3.0, "yes"),
        ("text", 1.0, "yes"),
        ("rar", -4.0, "yes"),
        ("nemo", 2.0, "no"),
    ]
    assert rubric.items[0].title == "Rest" and rubric.items[1].tags == ("axis:completeness",)
    assert [i.pitfall for i in rubric.items] == [False, False, False, True, False]
    assert rubric.positive_points == 11.0
    # A CSV cell holds the same list as JSON text.
    assert parse_row_rubric(json.dumps(ITEMS), "row 1") == rubric


def test_score_is_healthbenchs_rule_met_points_minus_met_pitfalls_over_positive_points_clipped() -> None:
    rubric = parse_row_rubric(ITEMS, "row 1")
    # The worked example of docs/row_rubrics.md: rest (5) and doctor (3) met, ice not, the pitfall met (-4),
    # the NeMo item met (2): (5 + 3 - 4 + 2) / (5 + 3 + 1 + 2) = 6 / 11.
    assert rubric.score({"i0": 1, "i1": 1, "i2": 0, "i3": 1, "i4": 1}) == pytest.approx(6 / 11)
    assert rubric.score({"i0": 1, "i1": 1, "i2": 1, "i3": 0, "i4": 1}) == 1.0
    assert rubric.score({"i0": 0, "i1": 0, "i2": 0, "i3": 1, "i4": 0}) == 0.0  # below 0: clipped
    assert rubric.score({"i0": 0.5, "i1": 0, "i2": 0, "i3": 0.5, "i4": 0}) == pytest.approx((2.5 - 2) / 11)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (None, "row 7: the row has no rubric"),
        ([], "row 7: the rubric is empty"),
        ("not json", "row 7: the rubric is text but not a JSON list"),
        ({"criterion": "x", "points": 1}, "row 7: expected a list of rubric items, got dict"),
        (["ok", "  "], r"row 7\[1\]: an item with no text"),
        ([{"criterion": "", "points": 2}], r"row 7\[0\]\.criterion: an item with no text"),
        ([{"criterion": "x", "points": "many"}], r"row 7\[0\]\.points: expected a number, got 'many'"),
        ([{"title": "t", "description": "d", "weight": True}], r"row 7\[0\]\.weight: expected a number"),
        ([{"criterion": "x", "points": -2}], "row 7: no item has positive points"),
        ([{"question": "q?", "pass_criteria": "MAYBE"}], r"row 7\[0\]\.pass_criteria: expected YES or NO"),
        ([{"criterion": "x", "score": 2}], r"row 7\[0\]: unknown key\(s\) \['score'\] for a healthbench item"),
        ([{"text": "x"}], r"row 7\[0\]: not a rubric item \(keys \['text'\]\)"),
    ],
)
def test_a_malformed_rubric_is_refused_naming_the_row_and_the_item(items: Any, message: str) -> None:
    with pytest.raises(RubricError, match=message):
        parse_row_rubric(items, "row 7")


def test_a_quoted_number_is_read_as_a_number() -> None:
    assert parse_row_rubric([{"criterion": "x", "points": "2.5"}], "r").items[0].points == 2.5


def test_logprob_mode_asks_each_item_with_the_question_and_answer_first_and_scores_p_met() -> None:
    p_yes = {
        "Essential Criteria: Advises resting the knee.": 0.9,
        "Recommends seeing a doctor if pain persists.": 0.8,
        "Mentions ice.": 0.0,
        "Pitfall Criteria: Advises running through severe pain.": 0.25,
        "Does the answer claim the pain is certainly harmless?": 0.1,  # met on NO: P(met) = 0.9
    }
    judge, transport = scripted_judge(
        lambda r: yes_no(p_yes[item_of(r).removeprefix("Does the answer meet this criterion? ")])
    )
    recorder = Recorder()
    scores = call(RowRubricReward(judge), ["Rest it and see a doctor."], [extra(ITEMS)], **recorder.kwargs())
    assert scores[0] == pytest.approx((5 * 0.9 + 3 * 0.8 - 4 * 0.25 + 2 * 0.9) / 11)
    assert len(transport.requests) == 5  # one request per item
    openings = {user_text(r).split("\n\n" + item_of(r))[0] for r in transport.requests}
    assert len(openings) == 1, "every item's request opens with the same question and answer (prefix cache)"
    assert fenced(transport.requests[0]) == "Rest it and see a doctor."
    metrics = {k: v[0] for k, v in recorder.metrics.items()}
    assert metrics["row_rubric/items_per_answer"] == 5
    assert metrics["row_rubric/top_items/met_rate"] == pytest.approx(0.9)  # the 5-point item
    assert metrics["row_rubric/pitfalls/met_rate"] == pytest.approx(0.25)
    assert not any(re.search(r"/i\d+/", k) for k in metrics), "item ids mean nothing across rows: no metric each"


def json_reply(verdict: dict[str, bool], extra_text: str = "") -> TransportResult:
    return text_reply(json.dumps({i: {"reason": f"{i} because", "pass": ok} for i, ok in verdict.items()}) + extra_text)


def test_json_mode_grades_a_rows_items_in_one_request_and_logs_each_item_with_its_points_and_reason(
    tmp_path: Path,
) -> None:
    verdict = {"i0": True, "i1": False, "i2": True, "i3": False, "i4": True}
    judge, transport = scripted_judge(lambda r: json_reply(verdict))
    log = tmp_path / "rewards.jsonl"
    reward = RowRubricReward(judge, mode="json", log_path=str(log))
    assert call(reward, ["Rest, ice it."], [extra(ITEMS)], id=["knee"]) == [pytest.approx((5 + 1 + 2) / 11)]
    (request,) = transport.requests
    assert request.json_schema is not None and request.json_schema["required"] == ["i0", "i1", "i2", "i3", "i4"]
    line = json.loads(log.read_text())
    assert line["prompt_id"] == "knee"
    assert line["verdicts"]["i3"] == {
        "text": "Pitfall Criteria: Advises running through severe pain.",
        "points": -4.0,
        "met": 0.0,
        "reason": "i3 because",
    }
    assert set(line["verdicts"]) == set(verdict)


@pytest.mark.parametrize(
    "bad",
    [
        json.dumps({"i0": {"reason": "r", "pass": True}}),  # misses i1
        '{"i0": {"reason": "r", "pass": true}, "i1": {"reason": "r", "pass": true}, '
        '"i0": {"reason": "r", "pass": false}}',
    ],
    ids=["missing id", "repeated id"],
)
def test_a_reply_that_misses_or_repeats_an_item_gets_one_retry_then_no_reward(bad: str) -> None:
    judge, transport = scripted_judge(lambda r: text_reply(bad))
    scores = call(RowRubricReward(judge, mode="json"), ["Rest."], [extra(["Rests.", "Ices."])])
    assert scores == [None]  # a counted failure, never a 0
    assert len(transport.requests) == 2
    assert "Your previous reply was invalid" in user_text(transport.requests[1])

    good = {"i0": True, "i1": False}
    replies = iter([text_reply(bad), json_reply(good)])
    judge, transport = scripted_judge(lambda r: next(replies))
    assert call(RowRubricReward(judge, mode="json"), ["Rest."], [extra(["Rests.", "Ices."])]) == [0.5]
    assert len(transport.requests) == 2


def test_file_criteria_are_asked_of_every_row_beside_its_own_items_and_a_required_one_gates() -> None:
    file_rubric = Rubric.from_mapping(
        {"name": "f", "criteria": [{"id": "polite", "question": "Is it polite?", "required": True, "weight": 1}]}
    )
    p_yes = {"Rests.": 1.0, "Is it polite?": 0.5}
    judge, transport = scripted_judge(
        lambda r: yes_no(p_yes[item_of(r).removeprefix("Does the answer meet this criterion? ")])
    )
    reward = RowRubricReward(judge, rubric=file_rubric)
    # (1 + 1 * 0.5) / 2 points, times P(polite) = 0.5 for the required gate.
    assert call(reward, ["Rest."], [extra(["Rests."])]) == [pytest.approx(0.75 * 0.5)]
    assert [item_of(r) for r in transport.requests][-1] == "Is it polite?"
    assert [i.id for i in row_rubric_of(extra(["Rests."]), "r", file_rubric).items] == ["i0", "c_polite"]


def test_an_empty_answer_scores_zero_without_a_judge_call_and_a_failure_is_none() -> None:
    judge, transport = scripted_judge(lambda r: text_reply("I refuse to answer in yes or no"))
    assert call(RowRubricReward(judge), ["", "Rest."], [extra(["Rests."])] * 2) == [0.0, None]
    assert len(transport.requests) == 1


def _always_met(request: JudgeRequest) -> TransportResult:
    return yes_no(0.8)


def test_the_reward_pickles_for_trls_worker_processes_and_grades_after_the_round_trip() -> None:
    judge, _ = scripted_judge(_always_met)
    reward = RowRubricReward(judge)
    call(reward, ["warm the loop"], [extra(["Rests."])])
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.__name__ == "row_rubric"
    assert call(copy, ["Rest."], [extra(["Rests.", {"criterion": "Rude.", "points": -1}])]) == [pytest.approx(0.0)]
    assert call(copy, ["Rest."], [extra(["Rests.", "Ices."])]) == [pytest.approx(0.8)]


def test_the_set_up_check_names_the_file_and_line_of_the_first_bad_row(tmp_path: Path) -> None:
    from rlaif.data.loaders import load_prompts

    rows = [
        {"id": "a", "messages": [{"role": "user", "content": "Q1"}], "rubric": ["ok"]},
        {"id": "b", "messages": [{"role": "user", "content": "Q2"}], "metadata": {"rubric": ["fine"]}},
        {"id": "c", "messages": [{"role": "user", "content": "Q3"}], "rubric": [{"criterion": "x", "points": "lots"}]},
        {"id": "d", "messages": [{"role": "user", "content": "Q4"}]},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = load_prompts(str(path), shuffle=True, seed=3)
    judge, _ = scripted_judge(lambda r: yes_no(1.0))
    with pytest.raises(RubricError) as caught:
        check_rows(RowRubricReward(judge), dataset, str(path))
    message = str(caught.value)
    assert f"{path}:3: rubric[0].points: expected a number, got 'lots'" in message
    assert "(and 1 more rows)" in message  # row d, on line 4, has none
    good = load_prompts(str(path), limit=None, shuffle=False).select(range(2))
    check_rows(RowRubricReward(judge), good, str(path))  # the rubric under metadata counts as the row's


def test_data_columns_rubric_maps_another_field_name_in_nova_jsonl(tmp_path: Path) -> None:
    from rlaif.data.loaders import load_prompts

    path = tmp_path / "train.jsonl"
    row = {
        "id": "a",
        "messages": [{"role": "user", "content": "Q"}],
        "criteria": ["Says hi.", {"criterion": "Rude.", "points": -1}],
    }
    path.write_text(json.dumps(row) + "\n")
    dataset = load_prompts(str(path), columns={"rubric": "criteria"})
    rubric = row_rubric_of(dataset[0]["extra"], "r")
    assert [i.text for i in rubric.items] == ["Says hi.", "Rude."]
    judge, _ = scripted_judge(lambda r: yes_no(1.0))
    with pytest.raises(
        RubricError, match=rf"{re.escape(str(path))}:1 \(column 'other', data.columns.rubric\): the row has no 'rubric'"
    ):
        check_rows(
            RowRubricReward(judge), load_prompts(str(path), columns={"rubric": "other"}), str(path), {"rubric": "other"}
        )


def test_the_documented_override_adds_a_rubric_files_criteria_and_the_default_adds_none() -> None:
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    judge, _ = scripted_judge(_always_met)
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        plain = compose("train", overrides=["reward=row_rubric"])
        added = compose("train", overrides=["reward=row_rubric", "rubric=helpfulness", "reward.rubric=${rubric}"])
    assert instantiate(plain.reward, judge=judge, _convert_="all").file_criteria is None
    reward = instantiate(added.reward, judge=judge, _convert_="all")
    assert reward.file_criteria.name == "helpfulness"
    items = row_rubric_of(extra(["Rests."]), "r", reward.file_criteria).items
    assert [i.id for i in items][1:] == [f"c_{c.id}" for c in reward.file_criteria.criteria]
