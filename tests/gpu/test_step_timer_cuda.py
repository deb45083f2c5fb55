"""The step timer on CUDA: a step's end waits for the GPU work queued in it (synchronised timings)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rlaif.runs.step_timing import StepTimer

try:
    from tests.gpu.conftest import requires_cuda
except ImportError:
    from conftest import requires_cuda  # type: ignore[no-redef]

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
