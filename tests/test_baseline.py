"""The baseline: its seeded generation leaves the caller's random state as it found it; its warnings."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from rlaif.evaluation.baseline import generate

PROMPTS = [[{"role": "user", "content": "What is 2 + 2?"}], [{"role": "user", "content": "Hi?"}]]


class _Batch(dict[str, Any]):
    def to(self, device: Any) -> _Batch:
        return self


class _Tokenizer:
    padding_side = "right"
    pad_token_id = 0

    def apply_chat_template(self, prompt: Any, tokenize: bool, add_generation_prompt: bool) -> str:
        return str(prompt[-1]["content"])

    def __call__(self, texts: list[str], **kwargs: Any) -> _Batch:
        return _Batch(input_ids=torch.ones(len(texts), 3, dtype=torch.long))

    def decode(self, ids: Any, skip_special_tokens: bool) -> str:
        return " ".join(str(int(t)) for t in ids)


class _FakeCuda:
    """Two CUDA devices' generators as numbers: enough for fork_rng and manual_seed on a CPU-only machine."""

    def __init__(self) -> None:
        self.states = {0: torch.tensor([11]), 1: torch.tensor([22])}

    def get_rng_state(self, device: int = 0) -> torch.Tensor:
        return self.states[device].clone()

    def set_rng_state(self, state: torch.Tensor, device: int = 0) -> None:
        self.states[device] = state.clone()

    def manual_seed_all(self, seed: int) -> None:  # what torch.manual_seed calls for CUDA
        self.states = {d: torch.tensor([seed]) for d in self.states}


class _SamplingModel:
    """Samples as a model on a GPU would: from the CPU generator here, and by advancing device 1's."""

    device = torch.device("cpu")

    def __init__(self, cuda: _FakeCuda) -> None:
        self.cuda = cuda
        self.seen: list[int] = []

    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, **kwargs: Any) -> torch.Tensor:
        self.seen.append(int(self.cuda.states[1]))
        self.cuda.states[1] = self.cuda.states[1] + 1
        new = torch.randint(1, 1000, (input_ids.shape[0], max_new_tokens))
        return torch.cat([input_ids, new], dim=1)


def test_a_seeded_generation_gives_the_caller_back_its_cpu_and_cuda_states(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = _FakeCuda()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for name in ("get_rng_state", "set_rng_state", "manual_seed_all"):
        monkeypatch.setattr(torch.cuda, name, getattr(cuda, name))
    model = _SamplingModel(cuda)
    torch.manual_seed(123)
    cuda.states = {0: torch.tensor([11]), 1: torch.tensor([22])}  # the caller's own CUDA states
    cpu_before = torch.get_rng_state()

    first = generate(model, _Tokenizer(), PROMPTS, max_new_tokens=6, temperature=1.0, seed=7)
    second = generate(model, _Tokenizer(), PROMPTS, max_new_tokens=6, temperature=1.0, seed=7)

    assert first == second and len(first) == 2  # the seed decided the sample ...
    assert model.seen == [7, 7]  # ... on the GPU too: every device was seeded before sampling
    assert torch.equal(torch.get_rng_state(), cpu_before)  # and the caller's generators are as they were
    assert {d: int(s) for d, s in cuda.states.items()} == {0: 11, 1: 22}


@pytest.mark.parametrize(
    ("pass_rate", "warned"),
    [(1.0, "already pass (> 95%)"), (0.95, None), (0.5, None), (0.05, None), (0.0, "(< 5%)"), (None, "no baseline")],
)
def test_the_baseline_warns_above_95_and_below_5_percent_passing(pass_rate: float | None, warned: str | None) -> None:
    from rlaif.evaluation.baseline import _warning  # docs/run_folder.md's table promises these two limits

    warning = _warning(pass_rate)
    assert warning is None if warned is None else warned in (warning or "")
