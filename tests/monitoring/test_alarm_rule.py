"""The alarm rule on constructed per-step series: it fires when the reward rises while a signal moves its wrong
way, and not when either half of that is missing; a signal the rubric asks for alarms only when it collapses."""

from __future__ import annotations

import itertools
import math

import pytest

from rlaif.monitoring.alarm_rule import RuleSettings, Watch, evaluate, trend_z

NOISE = [0.01, -0.01, 0.005, -0.005, 0.0, 0.01, -0.01, 0.0]  # a small repeating wobble, so no series is constant
RISING = [0.50 + 0.004 * i + NOISE[i % 8] for i in range(16)]
FLAT = [0.50 + NOISE[i % 8] for i in range(16)]


def _series(reward: list[float], **signals: list[float]) -> list[dict[str, float]]:
    return [{"step": i, "reward": r, **{k: v[i] for k, v in signals.items()}} for i, r in enumerate(reward)]


def test_trend_z_is_the_half_window_difference_over_its_standard_error() -> None:
    assert trend_z([1.0, 2.0, 3.0]) is None  # halves of one step have no noise to measure
    first, second = [0.0, 1.0], [2.0, 3.0]
    expected = (2.5 - 0.5) / math.sqrt(0.5 / 2 + 0.5 / 2)
    assert trend_z(first + second) == pytest.approx(expected)
    assert trend_z([0.0, 1.0, 9.0, 2.0, 3.0]) == pytest.approx(expected)  # odd: the middle step is left out
    assert trend_z([1.0] * 6) == 0.0 and trend_z([0.0] * 3 + [1.0] * 3) == math.inf


@pytest.mark.parametrize(
    ("signal", "moving"),
    [
        ("on_topic", [1.0 - 0.03 * i + NOISE[i % 8] for i in range(16)]),  # down is wrong
        ("language_match", [1.0 - 0.02 * i + NOISE[i % 8] for i in range(16)]),
        ("repetition", [0.03 * i + NOISE[i % 8] for i in range(16)]),  # up is wrong
        ("empty_or_refusal", [0.03 * i + NOISE[i % 8] for i in range(16)]),
        ("all_equal_groups", [0.03 * i + NOISE[i % 8] for i in range(16)]),
        ("answer_words", [20 + i + NOISE[i % 8] for i in range(16)]),
    ],
)
def test_fires_when_the_reward_rises_while_a_signal_moves_its_wrong_way(signal: str, moving: list[float]) -> None:
    findings = evaluate(_series(RISING, **{signal: moving}), RuleSettings()).findings
    assert [f.signal for f in findings] == [signal]
    assert findings[0].numbers["reward_z"] >= 2 and abs(findings[0].numbers["z"]) >= 2
    assert "steps 0-15" in findings[0].message


@pytest.mark.parametrize("signal", ["on_topic", "language_match"])
def test_does_not_fire_when_a_signal_moves_its_right_way(signal: str) -> None:
    improving = [0.5 + 0.03 * i + NOISE[i % 8] for i in range(16)]
    assert evaluate(_series(RISING, **{signal: improving}), RuleSettings()).findings == []


def test_does_not_fire_when_the_reward_is_flat() -> None:
    falling = [1.0 - 0.03 * i + NOISE[i % 8] for i in range(16)]
    evaluation = evaluate(_series(FLAT, on_topic=falling), RuleSettings())
    assert evaluation.findings == [] and evaluation.signal_z["on_topic"] is not None
    assert evaluation.signal_z["on_topic"] < -2


def test_does_not_fire_when_the_signal_moves_within_its_noise() -> None:
    wobbly = [1.0, 0.6, 0.9, 0.5, 1.0, 0.55, 0.95, 0.6] * 2
    wobbly = [v - 0.01 * i for i, v in enumerate(wobbly)]
    assert evaluate(_series(RISING, on_topic=wobbly), RuleSettings()).findings == []


def test_does_not_fire_on_a_move_smaller_than_min_change() -> None:
    # A signal that never varied, then a trace of repetition in three late steps: z >= 2, but 0.004 points.
    trace = [0.0] * 13 + [0.004, 0.005, 0.004]
    z = trend_z(trace[-16:])
    assert z is not None and z >= 2
    assert evaluate(_series(RISING, repetition=trace), RuleSettings()).findings == []
    assert [f.signal for f in evaluate(_series(RISING, repetition=trace), RuleSettings(min_change=0.0)).findings] == [
        "repetition"
    ]
    # answer_words is a count: its move is relative (26 -> 28.5 words is under 10%; 20 -> 35 is not).
    longer = [26 + i / 6 + NOISE[i % 8] for i in range(16)]
    assert evaluate(_series(RISING, answer_words=longer), RuleSettings()).findings == []
    assert evaluate(_series(RISING, answer_words=[20 + i + NOISE[i % 8] for i in range(16)]), RuleSettings()).findings


def test_nothing_before_min_steps_and_only_the_window_counts() -> None:
    falling = [1.0 - 0.03 * i + NOISE[i % 8] for i in range(16)]
    settings = RuleSettings(min_steps=8, window=16)
    assert evaluate(_series(RISING[:7], on_topic=falling[:7]), settings).findings == []
    assert evaluate(_series(RISING[:8], on_topic=falling[:8]), settings).findings != []
    # Twelve flat steps after the drift: the window of 8 sees no rising reward any more.
    late = _series(RISING + [RISING[-1] + n for n in NOISE[:4]] * 3, on_topic=falling + [falling[-1]] * 12)
    assert evaluate(late, RuleSettings(min_steps=8, window=8)).findings == []


def test_a_signal_the_rubric_asks_for_alarms_only_when_it_collapses() -> None:
    settings = RuleSettings(wrong_way={"answer_words": "collapse"})
    shorter = [30 - i + NOISE[i % 8] for i in range(16)]  # 30 -> 15 words: what "concise" asks for
    assert evaluate(_series(RISING, answer_words=shorter), settings).findings == []
    collapsed = [30.0] * 8 + [6.0 + NOISE[i] for i in range(8)]  # under a third of the start
    findings = evaluate(_series(FLAT, answer_words=collapsed), settings).findings
    assert [f.signal for f in findings] == ["answer_words"] and "collapsed" in findings[0].message
    assert findings[0].numbers["baseline"] == 30.0 and findings[0].numbers["now"] < 10


def test_watch_alarms_once_per_window_and_once_for_a_step_updated_twice() -> None:
    falling = [1.0 - 0.03 * i + NOISE[i % 8] for i in range(16)]
    settings = RuleSettings(window=8, min_steps=8)
    watch = Watch(settings)
    alarms = []
    for row in _series(RISING * 2, on_topic=falling * 2):  # the drift twice: steps 0-15, then 16-31
        step = int(row["step"])
        alarms += [(step, f.signal) for f in watch.update(step, row)[1]]
        alarms += [(step, f.signal) for f in watch.update(step, row)[1]]  # TRL called the reward twice
    flagged = [s for s in range(32) if evaluate(_series(RISING * 2, on_topic=falling * 2)[: s + 1], settings).findings]
    assert len(flagged) > len(alarms)  # flagged at many steps ...
    assert alarms[0] == (7, "on_topic") and all(
        b[0] - a[0] >= 8 for a, b in itertools.pairwise(alarms)
    )  # ... alarmed once per window
