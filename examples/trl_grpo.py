"""Your own TRL GRPO script, rewarded by rlaif's judge: python examples/trl_grpo.py [MODEL] [STEPS]

rlaif.open_reward takes python -m rlaif.train's overrides ("judge=vllm", "judge.base_url=...", "rubric=...");
here the default judge (the packaged SmolLM2 in-process) grades with the everyday rubric. Run files: outputs/trl_grpo.
"""

import sys

import torch
from datasets import Dataset
from peft import LoraConfig
from trl import GRPOConfig, GRPOTrainer

import rlaif

model = sys.argv[1] if len(sys.argv) > 1 else "HuggingFaceTB/SmolLM2-135M-Instruct"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
questions = ["How do I boil an egg?", "What is a haiku?", "How do I reset a router?", "Why is the sky blue?"]
references = ["Simmer it 8-10 minutes.", "A 5-7-5 poem.", "Unplug it for 30 s.", "Rayleigh scattering."]
dataset = Dataset.from_dict(  # every column but "prompt" reaches the reward as a keyword argument
    {"prompt": [[{"role": "user", "content": q}] for q in questions], "reference_answer": references}
)
args = GRPOConfig(
    output_dir="outputs/trl_grpo", max_steps=steps, per_device_train_batch_size=4, num_generations=4,
    max_completion_length=32, learning_rate=1e-3, logging_steps=1, bf16=torch.cuda.is_available(), report_to=[],
)  # fmt: skip
with rlaif.open_reward("reward=rubric", "rubric=everyday", run_dir=args.output_dir) as reward:
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"),
        callbacks=reward.callbacks,  # a judge failing too often stops training after the step, with a checkpoint
    )
    trainer.train()
    trainer.save_model(f"{args.output_dir}/adapter")
