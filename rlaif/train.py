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
from hydra.utils import instantiate
from omegaconf import DictConfig

from rlaif.data import DataError, load_prompts
from rlaif.models import ModelNotFoundError, load_causal_lm, load_tokenizer
from rlaif.rewards.failures import JudgeFailureError
from rlaif.rewards.rubric_spec import RubricError
from rlaif.run_folder import ConfigError, check_grpo_keys, finish_run, mark_failed

log = logging.getLogger("rlaif.train")

# Problems with the user's input: reported in one line, exit code 2, and no run folder left behind.
_INPUT_ERRORS = (DataError, RubricError, ConfigError, ModelNotFoundError)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """One training run; returns the run summary written to ``run_summary.json``."""
    from trl import GRPOTrainer

    # 1. Data and config checks first: bad input must fail before anything is loaded or written.
    dataset = load_prompts(**cfg.data)
    check_grpo_keys(cfg.grpo)
    args = instantiate(cfg.grpo, output_dir=str(run_dir), _convert_="all")

    # 2. The policy, with a LoRA adapter (PEFT config passed to TRL, which wraps the model).
    tokenizer = load_tokenizer(cfg.policy.name_or_path)
    model = load_causal_lm(cfg.policy.name_or_path, dtype=cfg.policy.dtype)
    peft_config = instantiate(cfg.peft, _convert_="all")

    # 3. The judge, built once, and the reward that grades with it.
    judge = instantiate(cfg.judge, _convert_="all")
    reward = instantiate(cfg.reward, judge=judge, log_path=str(run_dir / "rewards.jsonl"), _convert_="all")

    # 4. Train.
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    try:
        trainer.train(resume_from_checkpoint=cfg.resume_from_checkpoint)
    finally:
        judge.close()

    # 5. Save the adapter, the metrics and the reward curve.
    trainer.save_model(str(run_dir / "adapter"))
    return finish_run(run_dir, trainer, judge)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = train(cfg, run_dir)
    except _INPUT_ERRORS as exc:
        log.error("rlaif: %s", exc)
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-written for a run that never started
        sys.exit(2)
    except (JudgeFailureError, Exception) as exc:
        mark_failed(run_dir, exc)
        raise
    log.info("run finished: %s", json.dumps(summary))


if __name__ == "__main__":
    main()
