"""The policy on a GPU: loaded in bf16 as grpo=gpu asks, and one GRPO step with LoRA that moves the adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rlaif.data.models import load_causal_lm, policy_dtype
from tests.gpu.conftest import requires_cuda

pytestmark = [pytest.mark.gpu, requires_cuda]


def test_grpo_gpu_loads_the_policy_in_bf16(tiny_model: str) -> None:
    import torch

    dtype = policy_dtype("auto", bf16=True)  # what grpo=gpu (bf16: true) resolves to
    model = load_causal_lm(tiny_model, dtype).to("cuda")
    assert dtype == "bfloat16" and model.dtype == torch.bfloat16 and model.device.type == "cuda"
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[1, 2, 3]], device="cuda")).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_one_grpo_step_with_lora_in_bf16_trains_the_adapter_only(tiny_model: str, tmp_path: Path) -> None:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from rlaif.data.models import load_tokenizer

    def longer_is_better(completions: list[Any], **_: Any) -> list[float]:  # varies, so advantages are not 0
        return [float(len(c[0]["content"] if isinstance(c, list) else c)) for c in completions]

    prompts = [[{"role": "user", "content": f"Say something about the number {n}."}] for n in range(8)]
    config = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=16,
        learning_rate=1e-2,
        bf16=True,
        use_vllm=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
    )
    trainer = GRPOTrainer(
        model=load_causal_lm(tiny_model, "bfloat16"),
        processing_class=load_tokenizer(tiny_model),
        reward_funcs=longer_is_better,
        args=config,
        train_dataset=Dataset.from_dict({"prompt": prompts}),
        peft_config=LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules="all-linear"),
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    changed = {n for n, p in after.items() if not torch.equal(p.detach(), before[n])}
    assert changed and all("lora_" in n for n in changed)  # the adapter moved, the base did not
    base = next(p for n, p in after.items() if "lora_" not in n)
    assert base.device.type == "cuda" and base.dtype == torch.bfloat16
    assert trainer.state.global_step == 1
