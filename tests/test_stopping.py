"""An early stop through TRL's public control flags, on a real ``GRPOTrainer`` (tests/_tiny_trl.py): the judge
fails in step 2 of 4, the reward wrapper requests a stop, ``StopOnRequest`` has the Trainer save checkpoint-2
itself (with ``save_strategy=no``: no schedule would have) and end there, and a resume from it goes on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rlaif.monitoring.alarms import AlarmStopError
from rlaif.monitoring.guard import GuardedReward
from rlaif.rewards.failures import JudgeFailureError
from rlaif.runs.stopping import StopOnRequest, saved_checkpoint, stop_reason
from tests._tiny_trl import tiny_trainer


class _JudgeDownAtStep:
    """Scores 0, 1, 0, 1 while the judge is up; down at the call whose ``global_step`` is ``down`` (1: step 2)."""

    def __init__(self, down: int | None) -> None:
        self.down = down
        self.__name__ = "judge"
        self.steps: list[int] = []  # the global_step of each call

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        self.steps.append(kwargs["trainer_state"].global_step)
        if self.steps[-1] == self.down:
            raise JudgeFailureError("judge failure rate 100% over the last 4 answers exceeds max_failure_rate=50%")
        return [float(i % 2) for i in range(len(completions))]


@pytest.mark.timeout(300)
def test_a_judge_failure_saves_the_stopping_steps_checkpoint_and_ends_training(tmp_path: Path) -> None:
    guarded = GuardedReward(_JudgeDownAtStep(down=1), [])
    trainer, out = tiny_trainer(tmp_path, [guarded], [StopOnRequest(guarded.stop)], max_steps=4)
    trainer.train()  # returns: the failure never leaves the reward

    assert trainer.state.global_step == 2  # the stopping step completed, and nothing after it
    assert isinstance(stop_reason(trainer), JudgeFailureError)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    assert saved_checkpoint(out, trainer.state.global_step) == out / "checkpoint-2"
    steps = {h["step"]: h for h in trainer.state.log_history if "reward" in h}
    assert steps[1]["reward"] == pytest.approx(0.5)
    # Every answer of the stopping step unscored: no reward to log (TRL logs its NaN mean as None), advantage 0,
    # so that step's update has no gradient.
    assert steps[2]["reward"] is None and steps[2]["grad_norm"] == pytest.approx(0.0)

    # The judge is back: a resume from the checkpoint the Trainer saved runs the remaining steps.
    judge = _JudgeDownAtStep(down=None)
    resumed = GuardedReward(judge, [])
    trainer, _ = tiny_trainer(tmp_path, [resumed], [StopOnRequest(resumed.stop)], max_steps=4)
    trainer.train(resume_from_checkpoint=str(out / "checkpoint-2"))
    assert judge.steps == [2, 3] and trainer.state.global_step == 4 and stop_reason(trainer) is None


class _AlarmAtStep:
    """A guard whose alarm fires, under on_alarm=stop, after the reward of step ``step`` (TRL's number, that of the
    step's log and its checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    async def before_reward(self, step: int, kwargs: Any) -> None:
        return None

    async def after_reward(self, step: int, prompts: Any, completions: Any, scores: Any, kwargs: Any) -> None:
        if step == self.step:
            raise AlarmStopError(f"monitor alarm at step {step}: on_topic: the reward rose ...")


@pytest.mark.timeout(300)
def test_an_alarm_under_stop_ends_training_like_a_judge_failure_but_the_step_keeps_its_scores(tmp_path: Path) -> None:
    guarded = GuardedReward(_JudgeDownAtStep(down=None), [_AlarmAtStep(2)])
    trainer, out = tiny_trainer(tmp_path, [guarded], [StopOnRequest(guarded.stop)], max_steps=4)
    trainer.train()

    assert trainer.state.global_step == 2 and isinstance(stop_reason(trainer), AlarmStopError)
    assert str(stop_reason(trainer)).startswith("monitor alarm at step 2:")  # the step of checkpoint-2 and its log
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]
    steps = {h["step"]: h for h in trainer.state.log_history if "reward" in h}
    assert steps[2]["reward"] == pytest.approx(0.5)  # the alarm's step trained on its real scores


def test_a_trainer_without_the_callback_has_no_stop_reason() -> None:
    from types import SimpleNamespace

    assert stop_reason(SimpleNamespace(callback_handler=SimpleNamespace(callbacks=[object()]))) is None


# One training process of two (gloo, CPU): two steps of StopOnRequest; rank 1's reward requests a stop in the second.
_RANK = textwrap.dedent("""
    import json
    from accelerate import PartialState
    from transformers import TrainerControl, TrainerState
    from rlaif.runs.stopping import StopOnRequest, StopRequest

    state = PartialState(cpu=True)
    stop = StopRequest()
    callback = StopOnRequest(stop)
    flags = []
    for step in range(2):
        if step == 1 and state.process_index == 1:
            stop.request(RuntimeError("judge failure rate 75% over the last 4 answers"))
        control = callback.on_step_end(None, TrainerState(), TrainerControl())
        flags.append([control.should_save, control.should_training_stop])
    print(json.dumps({"processes": state.num_processes, "flags": flags, "reason": repr(stop.reason)}), flush=True)
    # Leave the process group before exiting: a gloo group torn down by interpreter exit can abort the process
    # ("terminate called without an active exception", exit -6; seen once in CI) after its work is done.
    state.destroy_process_group()
""")


@pytest.mark.timeout(120)
def test_every_process_stops_at_the_same_step_and_reports_the_reason_of_the_one_that_asked() -> None:
    """A judge failure seen by one rank's reward stops both ranks at that step, and the other rank reports it
    too (it must not save the adapter and a summary as if the run had finished)."""
    env = {**os.environ, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # a free port for the ranks' rendezvous
        env.update(MASTER_PORT=str(sock.getsockname()[1]), OMP_NUM_THREADS="1")
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", _RANK],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [process.communicate(timeout=100) for process in ranks]
    finally:
        for process in ranks:  # a rank left waiting for the other one
            if process.poll() is None:
                process.kill()
    assert [process.returncode for process in ranks] == [0, 0], [err[-2000:] for _, err in outputs]
    first, second = (json.loads(out.splitlines()[-1]) for out, _ in outputs)
    assert first["processes"] == second["processes"] == 2
    assert first["flags"] == second["flags"] == [[False, False], [True, True]]  # both go on, then both stop
    assert (
        "StoppedElsewhereError" in first["reason"] and "training process 1: judge failure rate 75%" in first["reason"]
    )
    assert second["reason"] == repr(RuntimeError("judge failure rate 75% over the last 4 answers"))
