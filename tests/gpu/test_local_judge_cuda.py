"""The in-process judge on cuda:0 gives the verdicts it gives on the CPU (both bf16, within 1e-2)."""

from __future__ import annotations

import pytest

from rlaif.judges.backends.local import local_judge
from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.verdicts.choices import choice_distribution
from tests.gpu.conftest import requires_cuda

pytestmark = [pytest.mark.gpu, requires_cuda]

QUESTIONS = [
    "Is the answer long? Answer: Paris.",
    "Is the answer polite? Answer: Thank you for asking; the capital of France is Paris.",
    "Is the answer long? Answer: Water boils at 100 degrees Celsius at sea level, and lower on mountains.",
    "Is the answer polite? Answer: Figure it out yourself.",
    "Is the answer on topic? Answer: Bananas are yellow.",
    "Is the answer correct? Answer: Two plus two is four.",
]


def _p_yes(device: str, model: str) -> tuple[list[float], str]:
    judge = local_judge(model=model, device=device, dtype="bfloat16", max_batch_size=4)
    try:
        requests = [
            JudgeRequest.chat([{"role": "user", "content": q}], choices=("yes", "no"), max_tokens=1) for q in QUESTIONS
        ]
        replies = judge.generate(requests)
        assert all(r.ok for r in replies), [r.error for r in replies]
        return [choice_distribution(("yes", "no"), r)["yes"] for r in replies], str(judge.transport._model.device)
    finally:
        judge.close()


def test_local_judge_on_cuda_matches_the_cpu(tiny_model: str) -> None:
    on_gpu, gpu_device = _p_yes("cuda:0", tiny_model)
    on_cpu, cpu_device = _p_yes("cpu", tiny_model)
    assert gpu_device == "cuda:0" and cpu_device == "cpu"
    assert on_gpu == pytest.approx(on_cpu, abs=1e-2)
    assert max(on_cpu) - min(on_cpu) > 1e-3  # the verdicts depend on the question: the match is not trivial
