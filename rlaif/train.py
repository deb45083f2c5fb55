"""``python -m rlaif.train``: GRPO with a LoRA policy and an LLM-as-a-judge reward, wired by Hydra.

Reads top to bottom: data -> policy + LoRA -> judge -> reward -> GRPOTrainer -> train -> save.
Everything that varies is a config group in ``rlaif/conf`` (``judge=vllm``, ``reward=...``).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from rlaif.data import DataError, load_prompts
from rlaif.judges.base import Judge
from rlaif.models import ModelNotFoundError, load_causal_lm, load_tokenizer
from rlaif.rewards.rubric_spec import RubricError
from rlaif.run_folder import ConfigError, check_grpo_keys, finish_run, mark_failed

log = logging.getLogger("rlaif.train")

# Problems with the user's input, reported in one line (no traceback).
_INPUT_ERRORS = (DataError, RubricError, ConfigError, ModelNotFoundError, InstantiationException)


def build(cfg: DictConfig, run_dir: Path) -> tuple[Any, Judge]:
    """Everything a run needs, built before any training step; bad input fails here."""
    from trl import GRPOTrainer

    # 1. Data and config checks first: they fail fast, before anything is loaded.
    dataset = load_prompts(**cfg.data)
    check_grpo_keys(cfg.grpo)
    args = instantiate(cfg.grpo, output_dir=str(run_dir), _convert_="all")

    # 2. The policy, with a LoRA adapter (the PEFT config goes to TRL, which wraps the model).
    tokenizer = load_tokenizer(cfg.policy.name_or_path)
    model = load_causal_lm(cfg.policy.name_or_path, dtype=cfg.policy.dtype)
    peft_config = instantiate(cfg.peft, _convert_="all")

    # 3. The judge, built once, and the reward that grades with it.
    judge = instantiate(cfg.judge, _convert_="all")
    reward = instantiate(cfg.reward, judge=judge, log_path=str(run_dir / "rewards.jsonl"), _convert_="all")

    # 4. The trainer: plain TRL, no subclass.
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return trainer, judge


def train(trainer: Any, judge: Judge, cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train, save the adapter, and write metrics, the reward curve and the run summary."""
    try:
        trainer.train(resume_from_checkpoint=cfg.resume_from_checkpoint)
    finally:
        judge.close()
    trainer.save_model(str(run_dir / "adapter"))
    return finish_run(run_dir, trainer, judge)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        trainer, judge = build(cfg, run_dir)
    except Exception as exc:
        # A run that never started leaves no folder behind that could pass for a run.
        shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(exc, _INPUT_ERRORS):
            log.error("rlaif: %s", exc)
        else:
            log.exception("rlaif: could not set up the run")
        sys.exit(2)
    try:
        summary = train(trainer, judge, cfg, run_dir)
    except BaseException as exc:
        mark_failed(run_dir, exc)
        raise
    log.info("run finished: %s", json.dumps(summary))


if __name__ == "__main__":
    main()
