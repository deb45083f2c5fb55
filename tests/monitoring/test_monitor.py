"""The monitor as ``rlaif.train`` wires it: a guard around the reward, called the way TRL calls a reward, whose
step time is counted apart from the judge's."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rlaif.monitoring.alarms import AlarmStopError
from rlaif.monitoring.guard import GuardedReward
from rlaif.monitoring.monitor import Monitor, build_monitor
from rlaif.monitoring.signals import Rollout
from rlaif.rewards.correlation import spearman
from rlaif.rewards.failures import JudgeFailureError
from rlaif.runs.stopping import StopOnRequest, StopRequest
from tests.monitoring.recorded_runs import NON_ANSWER, ON_TOPIC, QUESTIONS

RUBRIC = {"criteria": [{"id": "polite", "question": "Is the answer polite?"}]}
IDS = ["everyday-001", "everyday-002"]


class _Reward:
    """Pays a non-answer more than an answer, like the e6 judge did."""

    __name__ = "rubric"

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return [0.9 if c[-1]["content"] == NON_ANSWER else 0.5 for c in completions]


def _call(
    reward: GuardedReward,
    step: int,
    hacked: float,
    metrics: dict[str, list[float]],
    main: bool = True,
    extra: str | None = None,
) -> None:
    """One TRL reward call in step ``step`` (TRL's number: ``global_step`` + 1 at reward time): 2 prompts x 4 chat
    completions, ``hacked`` of them non-answers; ``extra``: every row's ``extra`` (a per-row rubric)."""
    prompts, completions, ids, refs = [], [], [], []
    for prompt_id in IDS:
        for k in range(4):
            prompts.append([{"role": "user", "content": QUESTIONS[prompt_id][0]}])
            answer = NON_ANSWER if k < round(4 * hacked) else ON_TOPIC[prompt_id]
            completions.append([{"role": "assistant", "content": answer}])
            ids.append(prompt_id)
            refs.append(QUESTIONS[prompt_id][1])
    state = SimpleNamespace(global_step=step - 1, is_world_process_zero=main)
    kwargs = {"id": ids, "reference_answer": refs, "trainer_state": state}
    if extra is not None:
        kwargs["extra"] = [extra] * len(prompts)
    kwargs["log_metric"] = lambda key, value: metrics.setdefault(key, []).append(value)
    asyncio.run(reward(prompts, completions, **kwargs))


def _monitor(tmp_path: Path, **settings: Any) -> Monitor:
    monitor = build_monitor({"min_steps": 4, "window": 8, **settings}, RUBRIC, tmp_path)
    assert monitor is not None
    return monitor


def test_a_hacked_run_raises_an_alarm_with_lines_metrics_and_alarms_jsonl(tmp_path: Path) -> None:
    metrics: dict[str, list[float]] = {}
    reward = GuardedReward(_Reward(), [_monitor(tmp_path)])
    for step in range(1, 9):
        _call(reward, step, hacked=(step - 1) / 8, metrics=metrics)
    lines = [json.loads(x) for x in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 9)) and lines[0]["rollouts"] == 8
    assert lines[0]["on_topic"] == 1.0 and lines[-1]["on_topic"] < 0.5
    assert {"monitor/on_topic", "monitor/language_match", "monitor/all_equal_groups", "monitor/alarm"} <= set(metrics)
    alarms = [json.loads(x) for x in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert {a["signal"] for a in alarms} == {"on_topic", "empty_or_refusal"}
    assert all(a["source"] == "monitor" and a["step"] == 4 for a in alarms)  # min_steps=4: steps 1-4
    assert reward.take_guard_seconds() > 0


def test_a_healthy_run_raises_none(tmp_path: Path) -> None:
    reward = GuardedReward(_Reward(), [_monitor(tmp_path)])
    for step in range(1, 11):
        _call(reward, step, hacked=0.0, metrics={})
    assert len((tmp_path / "monitor.jsonl").read_text().splitlines()) == 10
    assert not (tmp_path / "alarms.jsonl").exists()


def test_on_alarm_stop_requests_a_stop_from_inside_the_reward_call(tmp_path: Path) -> None:
    reward = GuardedReward(_Reward(), [_monitor(tmp_path, on_alarm="stop")])
    for step in range(1, 9):
        _call(reward, step, hacked=(step - 1) / 8, metrics={})  # never raises into TRL
        if reward.stop.reason is not None:
            break
    assert str(reward.stop.reason).startswith("monitor alarm at step 4: on_topic: the reward rose")
    assert (tmp_path / "alarms.jsonl").is_file()


def test_two_calls_for_one_step_are_one_step(tmp_path: Path) -> None:
    monitor = _monitor(tmp_path)
    reward = GuardedReward(_Reward(), [monitor])
    _call(reward, 1, hacked=0.0, metrics={})
    _call(reward, 1, hacked=1.0, metrics={})
    last = json.loads((tmp_path / "monitor.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 1 and last["rollouts"] == 16 and last["on_topic"] == 0.5
    assert list(monitor.watch.steps) == [1]


def test_only_the_main_process_measures_and_writes(tmp_path: Path) -> None:
    metrics: dict[str, list[float]] = {}
    reward = GuardedReward(_Reward(), [_monitor(tmp_path)])
    for step in range(1, 9):
        _call(reward, step, hacked=(step - 1) / 8, metrics=metrics, main=False)
    assert not (tmp_path / "monitor.jsonl").exists() and not (tmp_path / "alarms.jsonl").exists() and not metrics


def test_monitor_off_builds_nothing(tmp_path: Path) -> None:
    assert build_monitor({"enabled": False}, RUBRIC, tmp_path) is None


def test_the_rubric_asking_for_length_makes_answer_words_a_collapse_signal(tmp_path: Path) -> None:
    concise = {"criteria": [{"id": "concise", "question": "Is the answer long?"}]}
    assert _monitor(tmp_path).settings.rule.wrong_way["answer_words"] == "up"
    monitor = build_monitor({"length_in_rubric": "auto"}, concise, tmp_path)
    assert monitor is not None and monitor.settings.rule.wrong_way["answer_words"] == "collapse"
    monitor = build_monitor({"length_in_rubric": False}, concise, tmp_path)
    assert monitor is not None and monitor.settings.rule.wrong_way["answer_words"] == "up"


def test_the_step_timer_counts_the_guards_apart_from_the_judge(tmp_path: Path, monkeypatch: Any) -> None:
    """A fake clock: the reward call takes 10 s, of which the guards' 3 s; the judge gets the other 7."""
    import rlaif.runs.step_timing as step_timing

    clock = iter([100.0, 100.0, 110.0, 112.0, 118.0])  # step begin, reward start, reward end, step end (+1 spare)
    monkeypatch.setattr(step_timing.time, "perf_counter", lambda: next(clock))
    judge = SimpleNamespace(metrics=SimpleNamespace(totals=lambda: {"requests": 0.0, "cache_hits": 0.0}))
    timer = step_timing.StepTimer(judge, tmp_path / "step_timing.jsonl")
    guarded = GuardedReward(_Reward(), [])
    guarded.guard_seconds = 3.0  # what the guards took in this call (measured for real in the tests above)
    monkeypatch.setattr(guarded, "_run", _no_guards)
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    timer.on_step_begin(None, state, None)
    asyncio.run(timer.timed(guarded)([], [], trainer_state=state))
    timer.on_step_end(None, state, None)
    row = json.loads((tmp_path / "step_timing.jsonl").read_text())
    assert (row["generation_s"], row["judge_s"], row["guard_s"], row["optimisation_s"]) == (0.0, 7.0, 3.0, 2.0)
    assert timer.summary()["guard_s"] == 3.0 and timer.summary()["guard_share"] == pytest.approx(3 / 12)


async def _no_guards(step: int, call: Any) -> None:
    return None


class _Alarming:
    async def before_reward(self, step: int, kwargs: Any) -> None:
        return None

    async def after_reward(self, step: int, prompts: Any, completions: Any, scores: Any, kwargs: Any) -> None:
        raise AlarmStopError(f"monitor alarm at step {step}: on_topic: the reward rose ...")


class _FailingReward:
    __name__ = "failing"

    async def __call__(self, prompts: Any, completions: Any, **kwargs: Any) -> list[float | None]:
        raise JudgeFailureError("judge failure rate 75% over the last 4 answers exceeds max_failure_rate=50%")


def test_an_alarm_under_stop_keeps_the_scores_and_requests_a_stop() -> None:
    guarded = GuardedReward(_Reward(), [_Alarming()])
    state = SimpleNamespace(global_step=5)
    answer = [{"role": "assistant", "content": "Tokyo."}]
    scores = asyncio.run(guarded(["q"], [answer], trainer_state=state, log_metric=lambda *a: None))
    assert scores == [0.5]  # the step trains on its real scores
    assert isinstance(guarded.stop.reason, AlarmStopError) and "step 6" in str(guarded.stop.reason)  # global_step 5


def test_a_judge_failure_scores_the_call_none_and_requests_a_stop() -> None:
    guarded = GuardedReward(_FailingReward(), [])
    assert asyncio.run(guarded(["q", "q"], ["a", "b"])) == [None, None]  # unscored: advantage 0 in TRL
    assert isinstance(guarded.stop.reason, JudgeFailureError)
    first = guarded.stop.reason
    guarded.stop.request(AlarmStopError("later"))
    assert guarded.stop.reason is first  # the first reason is the one reported


def test_a_stop_request_saves_a_checkpoint_and_stops_at_the_step_end() -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    stop = StopRequest()
    callback = StopOnRequest(stop)
    args = TrainingArguments(output_dir="unused", report_to=[])
    control = callback.on_step_end(args, TrainerState(), TrainerControl())
    assert not control.should_save and not control.should_training_stop  # nothing requested: training goes on
    stop.request(AlarmStopError("monitor alarm at step 5"))
    control = callback.on_step_end(args, TrainerState(), TrainerControl())
    assert control.should_save and control.should_training_stop


def test_train_turns_a_stop_into_run_stopped_with_the_checkpoint_and_the_resume_command(tmp_path: Path) -> None:
    """rlaif.train.train after a stopped trainer.train: RunStoppedError (exit 1 in main) naming the checkpoint the
    Trainer saved at the step end and the resume command."""
    from rlaif.errors import RunStoppedError
    from rlaif.train import train

    stop = StopRequest()
    (tmp_path / "checkpoint-5").mkdir()

    class _Trainer:
        state = SimpleNamespace(global_step=5)
        callback_handler = SimpleNamespace(callbacks=[object(), StopOnRequest(stop)])

        def train(self, resume_from_checkpoint: str | None = None) -> None:
            stop.request(AlarmStopError("monitor alarm at step 5: on_topic: the reward rose ..."))

    with pytest.raises(RunStoppedError) as stopped:
        train(_Trainer(), None, None, tmp_path)  # type: ignore[arg-type]
    message = str(stopped.value)
    assert (
        "monitor alarm at step 5: on_topic" in message and f"checkpoint saved: {tmp_path / 'checkpoint-5'}" in message
    )
    assert "(the run stopped after step 5)" in message  # the alarm's step, the checkpoint's
    assert f"resume=auto hydra.run.dir={tmp_path}" in message


class _SecondJudge:
    """A second opinion that pays on-topic answers (``agrees``: pays what the training reward pays)."""

    def __init__(self, agrees: bool) -> None:
        self.agrees = agrees

    async def grade(self, prompts: Any, completions: Any, references: Any) -> list[Any]:
        hacked = [c[-1]["content"] == NON_ANSWER for c in completions]
        return [SimpleNamespace(score=0.9 if h == self.agrees else 0.1) for h in hacked]


@pytest.mark.parametrize(("agrees", "floor"), [(True, 0.0), (False, 0.0), (False, None)])
def test_the_judged_monitor_alarms_when_a_second_judge_ranks_answers_the_other_way(
    tmp_path: Path, agrees: bool, floor: float | None
) -> None:
    # Old keys (monitor.judge, judge_sample, min_agreement) with a floor; the new keys with none (no alarm).
    old = {"judge": {"_target_": "unused"}, "judge_sample": 8, "min_agreement": floor}
    new = {"second_opinion": {"judge": {"_target_": "unused"}, "sample": 8, "min_agreement": None}}
    monitor = _monitor(tmp_path, **(old if floor is not None else new))
    monitor.second = _SecondJudge(agrees)
    metrics: dict[str, list[float]] = {}
    reward = GuardedReward(_Reward(), [monitor])
    for step in range(1, 7):
        _call(reward, step, hacked=0.5, metrics=metrics)
    assert metrics["monitor/judge_agreement"] == [1.0 if agrees else -1.0] * 6
    alarms = (tmp_path / "alarms.jsonl").read_text().splitlines() if (tmp_path / "alarms.jsonl").exists() else []
    assert [json.loads(a)["signal"] for a in alarms] == ([] if agrees or floor is None else ["judge_agreement"])


def test_the_judged_monitor_grades_with_a_second_row_rubric_reward_against_each_rows_rubric(tmp_path: Path) -> None:
    """reward=row_rubric as the second opinion: it needs each row's rubric (its ``extra``), as training has it."""
    from rlaif.judges.base import Judge
    from rlaif.rewards.row_rubric import RowRubricReward
    from tests.rewards.scripted import ScriptedTransport, fenced, user_text, yes_no

    transport = ScriptedTransport(lambda r: yes_no(0.9 if fenced(r) == NON_ANSWER else 0.1))
    monitor = _monitor(tmp_path, judge={"_target_": "unused"}, judge_sample=8, min_agreement=0.0)
    monitor.second = RowRubricReward(Judge(transport, {"max_retries": 0, "cache": False}))
    metrics: dict[str, list[float]] = {}
    rubric = json.dumps({"rubric": ["The answer says it cannot help."]})
    _call(GuardedReward(_Reward(), [monitor]), 1, hacked=0.5, metrics=metrics, extra=rubric)
    assert metrics["monitor/judge_agreement"] == [1.0]  # it pays the non-answers, as the training reward does
    # 2 prompts x 2 distinct answers: identical requests in flight share one call
    assert len(transport.requests) == 4 and all("cannot help" in user_text(r) for r in transport.requests)


@pytest.mark.slow
def test_the_judged_monitor_with_the_packaged_judge_as_second_judge(tmp_path: Path) -> None:
    """The real thing, built from the config as rlaif.train builds it: the packaged local judge grades a sample."""
    from hydra import compose, initialize_config_module

    from rlaif.monitoring.monitor import build_second_reward

    # The new keys (monitor.second_opinion.*; tests/test_row_rubric_data.py runs the old ones through rlaif.train).
    overrides = [
        "+judge@monitor.second_opinion.judge=local",
        "monitor.second_opinion.sample=4",
        "monitor.second_opinion.seed=7",
        "monitor.min_steps=4",
        "monitor.window=8",
    ]
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    monitor = build_monitor(cfg.monitor, cfg.rubric, tmp_path)
    assert monitor is not None and monitor.settings.judge_sample == 4 and monitor.settings.judge_seed == 7
    with ExitStack() as stack:
        monitor.second = build_second_reward(cfg.monitor, cfg.reward, tmp_path, stack)
        assert monitor.second is not None and monitor.second.judge.identity.startswith("local:")
        metrics: dict[str, list[float]] = {}
        guarded = GuardedReward(_Reward(), [monitor])
        _call(guarded, 1, hacked=0.5, metrics=metrics)
        line = json.loads((tmp_path / "monitor.jsonl").read_text())
        assert line["judge_agreement"] is None or -1.0 <= line["judge_agreement"] <= 1.0  # None: one side constant
        totals = monitor.second.judge.metrics.totals()
        assert totals["requests"] > 0  # the second judge was asked, and its requests are the monitor's own figures
        assert line["second_judge_requests"] == totals["requests"]
        sent = totals["requests"] - totals["cache_hits"]  # the step timer's count: those that reached the judge
        assert guarded.take_guard_requests() == (0.0, sent)
    assert (tmp_path / "monitor_judge" / "judge_cache").exists()  # its own cache, apart from the training judge's


# On a real GRPOTrainer (tests/_tiny_trl.py: 2 prompts x 4 answers a step): the judged monitor where GRPO uses the
# reward, and a stop that leaves nothing of its step out.


def _rank_in_group(prompts: Any, completions: Any) -> list[tuple[int, int]]:
    """(the prompt's number, the answer's rank among its group's distinct texts) of each answer."""
    texts: dict[str, list[str]] = {}
    keys = [(str(p[-1]["content"]), str(c[-1]["content"])) for p, c in zip(prompts, completions, strict=True)]
    for prompt, text in keys:
        texts.setdefault(prompt, []).append(text)
    return [(int(prompt.split()[1].rstrip("?")), sorted(set(texts[prompt])).index(text)) for prompt, text in keys]


class _LevelledReward:
    """Scores ``level`` x the prompt's number + 0.01 x the answer's rank in its group; from step ``flat`` on, 1.0
    for every answer (the reward rises while every group's answers score alike)."""

    __name__ = "levelled"

    def __init__(self, level: float, flat: int = 99) -> None:
        self.level, self.flat = level, flat

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        if kwargs["trainer_state"].global_step >= self.flat:
            return [1.0] * len(completions)
        return [self.level * n + 0.01 * r for n, r in _rank_in_group(prompts, completions)]


class _LevelledSecond:
    """A second judge: the reversed level of each prompt (``level`` x (3 - its number)) and the answers' rank in
    their group times ``sign``."""

    def __init__(self, level: float, sign: float) -> None:
        self.level, self.sign = level, sign

    async def grade(self, prompts: Any, completions: Any, references: Any) -> list[Any]:
        ranks = _rank_in_group(prompts, completions)
        return [SimpleNamespace(score=self.level * (3 - n) + self.sign * 0.01 * r) for n, r in ranks]


def _tiny(tmp_path: Path, monitor: Monitor, reward: Any, **config: Any) -> tuple[Any, Any]:
    from tests._tiny_trl import tiny_trainer

    guarded = GuardedReward(reward, [monitor])
    trainer, _ = tiny_trainer(
        tmp_path, [guarded], [StopOnRequest(guarded.stop)], per_device_train_batch_size=8, **config
    )
    return trainer, guarded


@pytest.mark.timeout(300)
def test_second_judge_agreement_is_measured_within_each_group_on_a_real_grpo_trainer(tmp_path: Path) -> None:
    """Two prompts a step whose levels the judges see the other way round (the reward pays prompt 3 most, the
    second judge prompt 0), while within each prompt both rank the answers alike. GRPO's advantages only compare a
    group's answers, so the judges agree on everything training uses: agreement 1.0. The pooled rank correlation
    the monitor used to take says they disagree, and would have alarmed under min_agreement 0."""
    monitor = _monitor(tmp_path, judge={"_target_": "unused"}, judge_sample=8)
    monitor.second = _LevelledSecond(level=0.25, sign=1.0)
    trainer, _ = _tiny(tmp_path, monitor, _LevelledReward(level=0.25), max_steps=2)
    trainer.train()
    lines = [json.loads(x) for x in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert [line["judge_agreement"] for line in lines] == [1.0, 1.0]
    pooled = [spearman([a for a, _ in pairs], [b for _, b in pairs]) for pairs in _pooled(monitor)]
    assert pooled and all(rho is not None and rho < 0 for rho in pooled)
    assert not (tmp_path / "alarms.jsonl").exists()


def _pooled(monitor: Monitor) -> list[list[tuple[float, float]]]:
    """The last step's (reward, second judge) pairs, all groups in one list."""
    return [[(float(a or 0.0), float(b or 0.0)) for pairs in monitor._judged.values() for a, b in pairs]]


@pytest.mark.timeout(300)
def test_on_alarm_stop_writes_every_alarm_of_the_step_and_logs_its_numbers_before_stopping(tmp_path: Path) -> None:
    """From step 3 the reward is 1.0 for every answer (all_equal_groups rises with it: a trend alarm at step 4)
    while the second judge ranked every group's answers the other way round (judge_agreement under 0: a floor
    alarm). Both alarms of that step are in alarms.jsonl under TRL's number of the step, that of its log and its
    checkpoint, and the step's monitor numbers are in the Trainer's log, though the first alarm stopped the run."""
    monitor = _monitor(tmp_path, window=4, judge={"_target_": "unused"}, judge_sample=8, on_alarm="stop")
    monitor.second = _LevelledSecond(level=0.0, sign=-1.0)
    trainer, guarded = _tiny(tmp_path, monitor, _LevelledReward(level=0.0, flat=2), max_steps=6)
    trainer.train()
    assert trainer.state.global_step == 4 and isinstance(guarded.stop.reason, AlarmStopError)
    alarms = [json.loads(x) for x in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert {a["signal"] for a in alarms} >= {"all_equal_groups", "judge_agreement"} and {a["step"] for a in alarms} == {
        4
    }
    assert "more alarm(s) of this step in alarms.jsonl" in str(guarded.stop.reason)
    logged = next(h for h in trainer.state.log_history if h.get("step") == 4 and "monitor/alarm" in h)
    assert logged["monitor/alarm"] == 1.0 and logged["monitor/all_equal_groups"] == 1.0


def _words(n: int) -> list[Rollout]:
    return [
        Rollout(group="g", question="Where is Tokyo?", answer=" ".join(["Tokyo"] * n), score=0.5 + 0.01 * k)
        for k in range(4)
    ]


def test_a_resumed_monitor_measures_a_collapse_against_the_runs_real_start(tmp_path: Path) -> None:
    """Answers of 20 words for 4 steps, then 3 words from step 5; the run dies after checkpoint-6 (steps 1-6 done;
    a line of a later step is in monitor.jsonl too). The resumed monitor reads steps 1-6 back, so step 7 sees the
    collapse against the start (20 words), not against the collapsed steps as a new normal; and the rule does
    not wait min_steps again."""
    concise = {"criteria": [{"id": "concise", "question": "Is the answer long?"}]}
    settings = {"min_steps": 4, "window": 8, "collapse_ratio": 0.2}
    before = build_monitor(settings, concise, tmp_path)
    assert before is not None
    for step in range(1, 7):
        before.observe(step, _words(20 if step < 5 else 3))
    assert before.sink.raised == []  # the second half of the window is not all collapsed yet (steps 4-6)
    checkpoint = tmp_path / "checkpoint-6"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    with (tmp_path / "monitor.jsonl").open("a") as f:  # a step after the checkpoint, lost with the crash
        f.write(json.dumps({"step": 8, "reward": 9.0, "answer_words": 99.0}) + "\n")

    resumed = build_monitor(settings, concise, tmp_path, str(checkpoint))
    assert resumed is not None and sorted(resumed.watch.steps) == list(range(1, 7))
    line = resumed.observe(7, _words(3))
    assert line["reward_z"] is not None  # the window is there at the first resumed step
    assert [(a.step, a.signal) for a in resumed.sink.raised] == [(7, "answer_words")]
    restarted = build_monitor(settings, concise, tmp_path / "fresh")
    assert restarted is not None
    for step in range(7, 13):  # what a monitor that started over at the resume sees: 3 words is its "start"
        restarted.observe(step, _words(3))
    assert restarted.sink.raised == []


def test_a_resumed_monitor_does_not_alarm_again_for_a_drift_it_alarmed_on_before_the_crash(tmp_path: Path) -> None:
    first = _monitor(tmp_path)
    reward = GuardedReward(_Reward(), [first])
    for step in range(1, 6):
        _call(reward, step, hacked=(step - 1) / 4, metrics={})
    assert {a.signal for a in first.sink.raised} == {"on_topic", "empty_or_refusal"}
    checkpoint = tmp_path / "checkpoint-5"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 5}))  # resume= requires one
    resumed = build_monitor({"min_steps": 4, "window": 8}, RUBRIC, tmp_path, str(checkpoint))
    assert resumed is not None
    _call(GuardedReward(_Reward(), [resumed]), 6, hacked=1.0, metrics={})
    last = json.loads((tmp_path / "monitor.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 6 and last["alarm"] == 1.0  # the restored rule still flags the drift at step 6 ...
    assert resumed.sink.raised == []  # ... and does not alarm again: within the window of its alarm at step 4
