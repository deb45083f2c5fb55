"""The step timer on CUDA: a step's end waits for the GPU work queued in it (synchronised timings)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rlaif.runs.step_timing import StepTimer
from tests.gpu.conftest import requires_cuda

pytestmark = [pytest.mark.gpu, requires_cuda]


class _Judge:
    class metrics:  # the attribute the timer reads
        @staticmethod
        def totals() -> dict[str, float]:
            return {"requests": 0.0, "cache_hits": 0.0}


def test_step_end_waits_for_the_queued_gpu_work() -> None:
    import torch

    timer = StepTimer(_Judge(), None)
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    x = torch.randn(2048, 2048, device="cuda")
    torch.cuda.synchronize()
    timer.on_step_begin(None, state, None)
    for _ in range(50):  # queued asynchronously: the host returns long before the GPU is done
        x = x @ x
        x = x / x.norm()
    timer.on_step_end(None, state, None)
    assert torch.cuda.current_stream().query()  # nothing left running: the step's time includes the work
    [row] = timer.rows
    assert row["step_s"] > 0 and row["optimisation_s"] == pytest.approx(row["step_s"])


def test_a_reward_ending_in_trls_loop_thread_waits_for_this_processs_gpu() -> None:
    """The reward's end is read in TRL's event-loop thread: the timer synchronises the device it was told
    (TrainingArguments.device), named, from that thread, and the work queued by the training thread is done."""
    import threading

    import torch

    timer = StepTimer(_Judge(), None)
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    timer.on_train_begin(SimpleNamespace(device=torch.device("cuda", torch.cuda.current_device())), state, None)
    x = torch.randn(2048, 2048, device="cuda")
    torch.cuda.synchronize()
    timer.on_step_begin(None, state, None)
    start = timer.reward_started(0)
    for _ in range(50):
        x = x @ x
        x = x / x.norm()
    loop_thread = threading.Thread(target=timer.reward_finished, args=(start,))
    loop_thread.start()
    loop_thread.join()
    assert torch.cuda.current_stream().query()  # the reward's end waited for it: the judge time includes the work
    timer.on_step_end(None, state, None)
    [row] = timer.rows
    assert row["judge_s"] > 0 and row["step_s"] >= row["judge_s"]
