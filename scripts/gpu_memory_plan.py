"""GPU memory planning for rlaif's GPU experiments: computed from model shapes, not measured.

Usage: python scripts/gpu_memory_plan.py    (prints the markdown table kept in docs/scaling.md, "GPU memory plan")

Every figure is an estimate in GB (1e9 bytes) for bf16 weights, from each model's config.json shapes:
- training (one process, LoRA r=8 on every linear layer, gradient checkpointing): the frozen weights, the LoRA
  weights with their fp32 gradients and Adam states, the checkpointed hidden states, one layer recomputed,
  the logits with their log-softmax, and 2 GB of CUDA context and allocator slack;
- rollouts (vLLM, colocated or trl vllm-serve): the weights, the KV cache of one step's completions
  (TRAIN_TOKENS tokens each) and 2 GB of activations and CUDA graphs;
- judge (vLLM server): the weights, the KV cache of JUDGE_CONCURRENCY requests of JUDGE_TOKENS tokens each
  (the judge's default max_concurrency is 32 per process) and 2 GB.
The layout column places the three jobs on one node of 8 x 80 GB GPUs, each vLLM engine at 90% of its GPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GB = 1e9
BF16 = 2
OVERHEAD_GB = 2.0
LORA_R = 8
TRAIN_BATCH = 16  # completions per training process per micro-step (grpo=gpu per_device_train_batch_size)
TRAIN_TOKENS = 512  # prompt + completion (256 + 256)
ROLLOUTS_PER_STEP = 32  # completions generated per step and process (16 x 2 accumulation steps)
JUDGE_CONCURRENCY = 64
JUDGE_TOKENS = 1024
GPU_GB = 80.0
VLLM_SHARE = 0.9


@dataclass(frozen=True)
class Shape:
    """A decoder's shape, from its config.json (Qwen2.5 Instruct family)."""

    name: str
    params_b: float
    layers: int
    hidden: int
    intermediate: int
    kv_heads: int
    head_dim: int
    vocab: int = 151936

    @property
    def weights_gb(self) -> float:
        return self.params_b * 1e9 * BF16 / GB

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * BF16

    @property
    def lora_params(self) -> int:
        kv = self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        per_layer = (h + h) * 2 + (h + kv) * 2 + (h + i) * 2 + (i + h)  # q, o, k, v, gate, up, down
        return LORA_R * per_layer * self.layers


QWEN = {
    s.name: s
    for s in (
        Shape("0.5B", 0.49, 24, 896, 4864, 2, 64),
        Shape("1.5B", 1.54, 28, 1536, 8960, 2, 128),
        Shape("3B", 3.09, 36, 2048, 11008, 2, 128),
        Shape("7B", 7.62, 28, 3584, 18944, 4, 128),
        Shape("14B", 14.7, 48, 5120, 13824, 8, 128),
        Shape("32B", 32.8, 64, 5120, 27648, 8, 128),
        Shape("72B", 72.7, 80, 8192, 29568, 8, 128),
    )
}


def training_gb(policy: Shape, shards: int = 1) -> float:
    """One training process; ``shards`` > 1 is ZeRO-3 / FSDP sharding the frozen weights over that many GPUs."""
    tokens = TRAIN_BATCH * TRAIN_TOKENS
    weights = policy.weights_gb / shards
    lora = policy.lora_params * (BF16 + 16) / GB  # bf16 copy + fp32 weight, gradient and two Adam moments
    checkpoints = policy.layers * tokens * policy.hidden * BF16 / GB
    one_layer = tokens * (4 * policy.hidden + 3 * policy.intermediate) * BF16 / GB
    logits = tokens * policy.vocab * (BF16 + 4) / GB  # bf16 logits + fp32 log-softmax
    return weights + lora + checkpoints + one_layer + logits + OVERHEAD_GB


def rollouts_gb(policy: Shape) -> float:
    kv = ROLLOUTS_PER_STEP * TRAIN_TOKENS * policy.kv_bytes_per_token / GB
    return policy.weights_gb + kv + OVERHEAD_GB


def judge_gb(judge: Shape) -> float:
    kv = JUDGE_CONCURRENCY * JUDGE_TOKENS * judge.kv_bytes_per_token / GB
    return judge.weights_gb + kv + OVERHEAD_GB


def gpus_for(engine_gb: float) -> int:
    """GPUs for one vLLM engine at VLLM_SHARE of each (tensor parallelism in powers of two)."""
    need = math.ceil(engine_gb / (GPU_GB * VLLM_SHARE))
    return 1 << (need - 1).bit_length()


def layout(policy: Shape, judge: Shape, gpus: int = 8) -> str:
    judge_gpus, rollout_gpus = gpus_for(judge_gb(judge)), gpus_for(rollouts_gb(policy))
    train_gpus = gpus - judge_gpus - rollout_gpus
    if train_gpus < 1 or training_gb(policy, shards=train_gpus) > GPU_GB:
        return "more than one node (multi_node)"
    return f"train {train_gpus} + rollouts {rollout_gpus} + judge {judge_gpus} (TP {judge_gpus})"


def single_gpu_fits(policy: Shape, judge: Shape) -> str:
    total = training_gb(policy) + rollouts_gb(policy) + judge_gb(judge)
    return next((f"{size} GB" for size in (24, 40, 48, 80, 141) if total <= 0.95 * size), "no")


PAIRS = [
    ("0.5B", "1.5B"),
    ("0.5B", "3B"),
    ("0.5B", "7B"),
    ("1.5B", "7B"),
    ("1.5B", "14B"),
    ("3B", "14B"),
    ("7B", "32B"),
    ("7B", "72B"),
]


def table() -> str:
    lines = [
        "| policy | judge | training GB (1 process) | rollouts GB | judge GB | one GPU of at least | 8 x 80 GB node |",
        "|---|---|---|---|---|---|---|",
    ]
    for p, j in PAIRS:
        policy, judge = QWEN[p], QWEN[j]
        lines.append(
            f"| Qwen2.5-{p} | Qwen2.5-{j} | {training_gb(policy):.1f} | {rollouts_gb(policy):.1f} "
            f"| {judge_gb(judge):.1f} | {single_gpu_fits(policy, judge)} | {layout(policy, judge)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
