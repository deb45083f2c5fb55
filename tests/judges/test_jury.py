"""``judge=jury``: members asked together, verdicts read one by one and combined, the quorum, bad input.

Unit rules use scripted members (real :class:`Judge` engines around scripted transports); the shipped
offline jury (the packaged model twice) grades real answers in ``test_shipped_jury_grades_offline``;
failover with a real vLLM server is in tests/integration/test_jury_vllm.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from rlaif.judges.jury import Jury, jury_judge, with_system
from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.verdicts.jury_votes import combine, jury_metrics
from rlaif.rewards.verdicts.parsing import VerdictError
from tests import _forkserver as forked
from tests.rewards.scripted import Recorder, a_or_b, fail, scripted_judge, yes_no

RUBRIC = {
    "name": "t",
    "prompt": "compact",
    "criteria": [
        {"id": "polite", "question": "Is the answer polite?"},
        {"id": "concise", "question": "Is the answer long?", "pass_on": "no"},
    ],
}


def _answer(p_yes: float | None, request: Any) -> Any:
    return fail() if p_yes is None else dataclasses.replace(yes_no(p_yes), tokens_in=10, tokens_out=1)


def _jury(p_yes: dict[str, Any], **kwargs: Any) -> Jury:
    """Members answering P(yes) = p_yes[name] (``None``: the member fails every request); picklable."""
    return Jury({name: scripted_judge(functools.partial(_answer, p))[0] for name, p in p_yes.items()}, **kwargs)


def _grade(jury: Jury, answers: list[str]) -> list[Any]:
    reward = RubricReward(jury, RUBRIC)
    return asyncio.run(reward.grade(["What is 2 + 2?"] * len(answers), answers, [None] * len(answers)))


@pytest.mark.parametrize(
    ("aggregate", "expected_polite"),
    [("mean", (0.9 + 0.6 + 0.3) / 3), ("median", 0.6), ("min", 0.3), ("majority", 1.0)],
)
def test_each_aggregation_combines_the_members_p_pass(aggregate: str, expected_polite: float) -> None:
    grade = _grade(_jury({"a": 0.9, "b": 0.6, "c": 0.3}, aggregate=aggregate), ["Four."])[0]
    assert grade.passes["polite"] == pytest.approx(expected_polite)
    # concise passes on "no": each member's P(no) = 1 - P(yes), combined the same way
    assert grade.details["jury"] == {
        "a": {"polite": pytest.approx(0.9), "concise": pytest.approx(0.1)},
        "b": {"polite": pytest.approx(0.6), "concise": pytest.approx(0.4)},
        "c": {"polite": pytest.approx(0.3), "concise": pytest.approx(0.7)},
    }


def test_a_failed_member_is_left_out_and_the_jury_still_decides_at_quorum() -> None:
    grade = _grade(_jury({"a": 0.8, "b": 0.6, "down": None}), ["Four."])[0]  # quorum: 2 of 3
    assert grade.error is None
    assert grade.passes["polite"] == pytest.approx(0.7)  # the mean of the two that answered
    assert grade.details["jury"]["down"] == {"polite": None, "concise": None}


def test_below_quorum_the_verdict_is_a_failure_never_a_guess() -> None:
    jury = _jury({"a": 0.8, "down1": None, "down2": None})  # 1 of 3 answered, quorum 2
    reward = RubricReward(jury, RUBRIC, name="t")
    recorder = Recorder()
    scores = asyncio.run(reward(["What is 2 + 2?"], ["Four."], **recorder.kwargs()))
    assert scores == [None]
    assert recorder.metrics["t/judge_failures"] == [1.0]
    grade = _grade(jury, ["Four."])[0]
    assert grade.score is None and "below quorum: 1 of 3" in (grade.error or "")


def test_quorum_one_lets_a_single_member_decide() -> None:
    grade = _grade(_jury({"a": 0.8, "down": None}, quorum=1), ["Four."])[0]
    assert grade.passes["polite"] == pytest.approx(0.8)


def test_combine_majority_ties_and_rules() -> None:
    assert combine({"a": 0.9, "b": 0.2}, "majority", 1, {}) == 0.5
    assert combine({"a": 0.9, "b": 0.7, "c": 0.1}, "majority", 2, {}) == 1.0
    assert combine({"a": 0.4, "b": 0.7, "c": 0.1}, "majority", 2, {}) == 0.0
    with pytest.raises(VerdictError, match="quorum 2"):
        combine({"a": 0.9, "b": None}, "mean", 2, {"b": "timeout"})


def test_step_metrics_per_member_and_disagreement() -> None:
    jury = _jury({"a": 0.9, "b": 0.2})  # disagree on polite (0.9 vs 0.2) and on concise (0.1 vs 0.8)
    recorder = Recorder()
    asyncio.run(RubricReward(jury, RUBRIC, name="t")(["q?", "q?"], ["One.", "Two."], **recorder.kwargs()))
    m = {k: v[0] for k, v in recorder.metrics.items()}
    assert m["t/jury/a/pass_rate"] == pytest.approx((0.9 + 0.1) / 2)
    assert m["t/jury/b/pass_rate"] == pytest.approx((0.2 + 0.8) / 2)
    assert m["t/jury/disagreement_rate"] == 1.0
    assert m["t/jury/a/failures"] == 0.0
    # each member's own judge metrics, per step: judge/<member>/...
    assert m["judge/a/requests"] == 4.0 and m["judge/b/requests"] == 4.0 and m["judge/requests"] == 4.0
    assert m["judge/tokens_in"] == 80.0 and m["judge/a/tokens_in"] == 40.0  # the jury's cost: its members' sum


def test_members_that_agree_show_no_disagreement() -> None:
    details = [{"jury": {"a": {"x": 0.9, "y": 0.2}, "b": {"x": 0.7, "y": 0.3}}}]
    assert jury_metrics(details)["jury/disagreement_rate"] == 0.0


def test_member_verdicts_reach_rewards_jsonl(tmp_path: Path) -> None:
    log_path = tmp_path / "rewards.jsonl"
    reward = RubricReward(_jury({"a": 0.9, "b": 0.5}), RUBRIC, log_path=str(log_path))
    asyncio.run(reward(["What is 2 + 2?"], ["Four."], reference_answer=["2 + 2 = 4."]))
    line = json.loads(log_path.read_text().splitlines()[0])
    assert line["reference"] == "2 + 2 = 4."  # the row's reference, for a replay of the monitor
    assert line["jury"]["a"]["polite"] == pytest.approx(0.9)
    assert line["jury"]["b"]["concise"] == pytest.approx(0.5)


def test_json_mode_combines_member_verdicts() -> None:
    from rlaif.judges.protocol import TransportResult

    def member(polite: bool) -> Any:
        text = json.dumps({"polite": {"reason": "r", "pass": polite}, "concise": {"reason": "s", "pass": True}})
        return scripted_judge(lambda r: TransportResult(text=text))[0]

    jury = Jury({"a": member(True), "b": member(False), "c": member(True)}, aggregate="majority")
    grade = asyncio.run(RubricReward(jury, RUBRIC, mode="json").grade(["q?"], ["Four."], [None]))[0]
    assert grade.passes == {"polite": 1.0, "concise": 1.0}
    assert grade.details["jury"]["b"]["polite"] == 0.0
    assert grade.reasons["polite"].startswith("a: r | b: r")


def test_preference_with_a_jury_averages_members_and_logs_their_wins() -> None:
    def member(p_a: float) -> Any:
        return scripted_judge(lambda r: a_or_b(p_a))[0]

    jury = Jury({"a": member(0.8), "b": member(0.6)})
    reward = PreferenceReward(jury, {"instruction": "Which answer is better?"}, mode="vs_reference")
    recorder = Recorder()
    scores = asyncio.run(reward(["q?"], ["ans"], reference_answer=["ref"], **recorder.kwargs()))
    # P(A) = 0.7 in both orders (the jury's mean): r = (0.7 + 1 - 0.7) / 2 = 0.5
    assert scores == [pytest.approx(0.5)]
    grade = asyncio.run(reward._grade(["q?"], ["ans"], ["ref"]))[0][0]
    assert grade.details["jury"]["a"]["vs reference"] == pytest.approx(0.5)


def test_group_reward_refuses_a_jury_by_key() -> None:
    """docs/jury.md: the one reward a jury does not go with (it reads one judge's JSON reply for the group)."""
    from rlaif.errors import ConfigError
    from rlaif.rewards.group import GroupReward

    with pytest.raises(ConfigError, match="judge: reward=group reads one judge's JSON reply; a jury is not supported"):
        GroupReward(_jury({"a": 0.9, "b": 0.7}), rubric=RUBRIC)


def test_preference_refuses_min() -> None:
    jury = _jury({"a": 0.5, "b": 0.5}, aggregate="min")
    with pytest.raises(ValueError, match=r"judge\.aggregate"):
        PreferenceReward(jury, {"instruction": "Which answer is better?"})


def test_a_member_system_turn_is_added_only_for_that_member() -> None:
    seen: dict[str, list[Any]] = {"plain": [], "persona": []}

    def member(name: str) -> Any:
        return scripted_judge(lambda r: seen[name].append(r.messages) or yes_no(0.7))[0]

    jury = Jury({"plain": member("plain"), "persona": with_system(member("persona"), "Be strict.")})
    _grade(jury, ["Four."])
    assert all(m[0]["role"] == "user" for m in seen["plain"])
    assert all(m[0] == {"role": "system", "content": "Be strict."} for m in seen["persona"])
    assert jury.members["persona"].identity.startswith("scripted:test+system:")  # its own cache keys


def test_a_jury_pickles_and_works_after() -> None:
    jury = pickle.loads(pickle.dumps(_jury({"a": 0.9, "b": 0.7})))
    assert _grade(jury, ["Four."])[0].passes["polite"] == pytest.approx(0.8)


def test_probe_fails_below_quorum_and_names_members(caplog: pytest.LogCaptureFixture) -> None:
    from rlaif.judges.preflight import JudgeUnavailableError, check_judge

    check_judge(_jury({"a": 0.9, "b": 0.9, "down": None}))
    assert "jury member down" in caplog.text
    with pytest.raises(JudgeUnavailableError, match="below quorum"):
        check_judge(_jury({"a": 0.9, "down": None}))


# -- building a jury from config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "extra", "message"),
    [
        ([], {}, "judge.members: a jury needs at least one member"),
        (
            [{"_target_": "rlaif.judges.jury.jury_judge", "members": []}],
            {},
            r"judge.members\[0\]: a member cannot itself be a jury",
        ),
        ([{"model": "x"}], {}, r"judge.members\[0\]: expected a judge config with a _target_"),
        (
            [{"_target_": "rlaif.judges.backends.local.local_judge"}] * 2,
            {"quorum": 3},
            r"judge.quorum: expected 1 to 2",
        ),
        ([{"_target_": "rlaif.judges.backends.local.local_judge"}], {"aggregate": "max"}, "judge.aggregate"),
        (  # a member's own setting, named where it is
            [{"_target_": "rlaif.judges.backends.openai_compat.openai_judge", "api_key_env": "RLAIF_TEST_UNSET_KEY"}],
            {},
            r"^judge.members\[0\].api_key_env: the environment variable RLAIF_TEST_UNSET_KEY",
        ),
    ],
)
def test_bad_jury_config_is_refused_by_key(members: list[Any], extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jury_judge(members, **extra)


def test_a_jurys_tokens_count_only_requests_that_reached_a_model(flaky: Any) -> None:
    """Two members on real loopback servers, each caching: answers from a cache, or shared with the same
    request in flight, carry the tokens of the call that made them; the jury counts each call once."""
    servers = [flaky(default="usage:10:2"), flaky(default="usage:10:2")]
    members = [
        {"_target_": "rlaif.judges.backends.openai_compat.openai_judge", "base_url": s.url, "model": "judge"}
        for s in servers
    ]
    jury = jury_judge(members, policy={"cache": True})
    batch = [JudgeRequest.chat([{"role": "user", "content": f"question {k}"}]) for k in range(3)]
    try:
        jury.generate(batch + batch[:1])  # one answer shared with the same request in flight
        jury.generate(batch)  # every answer from the members' caches
        totals = jury.metrics.totals()
    finally:
        jury.close()
    assert [s.hits for s in servers] == [3, 3]
    assert totals["tokens_in"] == totals["m1/tokens_in"] + totals["m2/tokens_in"] == 10 * 6
    assert totals["tokens_out"] == 2 * 6


def test_members_caches_go_under_the_jury_cache_path(tmp_path: Path) -> None:
    members = [
        {"_target_": "rlaif.judges.backends.local.local_judge", "name": "x"},
        {"_target_": "rlaif.judges.backends.local.local_judge", "policy": {"cache": False}},
    ]
    jury = jury_judge(members, policy={"cache": True, "cache_path": str(tmp_path / "c")})
    assert jury.members["x"].policy.cache_path == str(tmp_path / "c" / "x")
    assert jury.members["m2"].policy.cache is False
    off = jury_judge(members[:1], policy={"cache": False})
    assert off.members["x"].policy.cache is False


def test_train_exits_2_naming_the_key(tmp_path: Path) -> None:
    """Through the real entry point (the other bad keys are refused by the same constructor, above)."""
    result = forked.run(
        [sys.executable, "-m", "rlaif.train", "judge=jury", "judge.quorum=3", f"hydra.run.dir={tmp_path / 'run'}"],
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "judge.quorum: expected 1 to 2" in result.stderr + result.stdout
    assert not (tmp_path / "run").exists()  # nothing of this invocation is left behind


def test_shipped_jury_grades_offline(tmp_path: Path) -> None:
    """``judge=jury`` as shipped: the packaged model in this process as two members, no server."""
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=["judge=jury"])
    jury = instantiate(cfg.judge, policy={"cache": False}, _convert_="all")
    try:
        assert isinstance(jury, Jury) and set(jury.members) == {"plain", "persona"}
        reward = RubricReward(jury, dict(cfg.rubric))
        answers = ["Paris is the capital of France.", "Whatever, figure it out yourself, idiot. " * 4]
        grades = asyncio.run(reward.grade(["What is the capital of France?"] * 2, answers, [None, None]))
        for grade in grades:
            assert grade.error is None
            plain, persona = grade.details["jury"]["plain"], grade.details["jury"]["persona"]
            for cid in ("polite", "concise"):
                assert 0.0 < plain[cid] < 1.0 and 0.0 < persona[cid] < 1.0
                assert grade.passes[cid] == pytest.approx((plain[cid] + persona[cid]) / 2)
        # The persona's system turn reaches the model: the two members do not answer alike.
        assert any(g.details["jury"]["plain"] != g.details["jury"]["persona"] for g in grades)
    finally:
        jury.close()
