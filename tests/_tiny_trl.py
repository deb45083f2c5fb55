"""A real ``GRPOTrainer`` on a tiny random model, for tests that read what TRL itself does (its reward
aggregation, its control flags) instead of copying TRL's code: CPU, 4 completions of 4 tokens, a few seconds."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def tiny_trainer(
    tmp_path: Path,
    reward_funcs: list[Any],
    callbacks: Sequence[Any] = (),
    trainer_kwargs: Callable[[Any], dict[str, Any]] | None = None,
    **config: Any,
) -> tuple[Any, Path]:
    """A GRPOTrainer on a tiny model built under ``tmp_path`` (scripts/make_tiny_model.py), and its output
    folder. ``config`` overrides the GRPOConfig below (max_steps=1, no checkpoints, a log line per step);
    ``trainer_kwargs(tokenizer)``, GRPOTrainer's keyword arguments (rlaif.runs.environments.tool_use's)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    spec = importlib.util.spec_from_file_location("make_tiny_model", ROOT / "scripts" / "make_tiny_model.py")
    assert spec is not None and spec.loader is not None
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    folder = tmp_path / "tiny"
    if not (folder / "config.json").is_file():
        maker.build(folder)
    out = tmp_path / "out"
    settings: dict[str, Any] = {
        "output_dir": str(out),
        "max_steps": 1,
        "per_device_train_batch_size": 4,
        "num_generations": 4,
        "max_completion_length": 4,
        "beta": 0.0,
        "report_to": [],
        "logging_steps": 1,
        "save_strategy": "no",
        "bf16": False,
        # TRL defaults to checkpointing (under its deprecated name, which warns): nothing to save on 2 layers.
        "activation_checkpointing": False,
        "use_cpu": True,
        **config,
    }
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": f"Question {i}?"}]} for i in range(4)])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    kwargs = {"reward_funcs": reward_funcs, "callbacks": list(callbacks)}
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder),
        args=GRPOConfig(**settings),
        train_dataset=dataset,
        processing_class=tokenizer,
        **(trainer_kwargs(tokenizer) if trainer_kwargs is not None else kwargs),
    )
    return trainer, out
