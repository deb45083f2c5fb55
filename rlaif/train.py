"""``python -m rlaif.train``: GRPO with a LoRA policy and an LLM-as-a-judge reward, wired by Hydra.

Reads top to bottom: data -> judge (proven with one real request) -> reward -> policy + LoRA ->
baseline (the base policy's reward) -> GRPOTrainer -> train -> save. Everything that varies is a
config group in ``rlaif/conf`` (``judge=vllm``, ``reward=...``). Exit codes: 0 done, 2 bad input (data,
config, rubric: nothing of this invocation is left behind), 3 ``preflight=true`` and the judge failed
its evaluation, 1 anything else (the traceback is in the run folder's ``FAILED``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from rlaif.baseline import baseline_check
from rlaif.config_checks import (
    check_grpo_keys,
    check_one_judge_server,
    check_references,
    check_vllm_rollouts,
    resolve_resume,
)
from rlaif.data import load_prompts
from rlaif.judge_eval import EXIT_THRESHOLDS_FAILED, run_judge_eval
from rlaif.judges.base import Judge
from rlaif.judges.preflight import check_judge
from rlaif.models import load_causal_lm, load_tokenizer, policy_dtype
from rlaif.monitoring.alarms import AlarmStopError
from rlaif.monitoring.canaries import build_canaries
from rlaif.monitoring.guard import Guard, GuardedReward
from rlaif.monitoring.monitor import build_monitor, build_second_reward
from rlaif.rewards.failures import JudgeFailureError
from rlaif.run_folder import finish_run, judge_policy, mark_failed, set_aside_failed_marker
from rlaif.setup_errors import setup_failed
from rlaif.step_timing import StepTimer

log = logging.getLogger("rlaif.train")


class JudgeRejectedError(RuntimeError):
    """``preflight=true`` and the judge failed a threshold of its evaluation: no training (exit 3)."""


class RunStoppedError(RuntimeError):
    """Training stopped early on purpose (the judge failed too often, or an alarm under on_alarm=stop); a
    checkpoint was saved."""


def build(cfg: DictConfig, run_dir: Path) -> tuple[Any, Judge, StepTimer, str | None]:
    """Everything a run needs, built before any training step; bad input fails here."""
    from trl import GRPOTrainer

    # 1. Data and config checks first: they fail fast, before anything is loaded.
    dataset = load_prompts(**cfg.data)
    check_grpo_keys(cfg.grpo)
    check_one_judge_server(cfg.judge, int(os.environ.get("WORLD_SIZE", "1") or 1))
    check_vllm_rollouts(cfg.grpo, _has_cuda())
    args = instantiate(cfg.grpo, output_dir=str(run_dir), _convert_="all")
    resume = resolve_resume(cfg.resume, run_dir)
    monitor = build_monitor(cfg.monitor, cfg.get("rubric"), run_dir)  # the hacking alarm (docs/monitoring.md)

    # 2. The judge, built once and asked one real question before the policy is loaded, so an unreachable
    #    judge stops the run in seconds. Then the reward that grades with it.
    judge = instantiate(cfg.judge, policy=judge_policy(cfg.judge, run_dir), _convert_="all")
    try:
        reward = instantiate(cfg.reward, judge=judge, log_path=str(run_dir / "rewards.jsonl"), _convert_="all")
        check_references(reward, dataset, cfg.data.path)
        # The judge canaries (labelled answers re-graded every few steps: has the judge changed?), checked
        # here with the other settings, before the policy is loaded; main process only.
        canaries = build_canaries(cfg.canaries, reward, run_dir) if _is_main_process() else None
        if monitor is not None:  # the judged monitor: a second judge on a sample of each step (off by default)
            monitor.second = build_second_reward(cfg.monitor, cfg.reward, run_dir)
        if cfg.check_judge:
            check_judge(judge)
        if cfg.preflight:  # the judge must pass its evaluation on labelled answers, or there is no run
            from accelerate import PartialState  # the process group GRPOConfig set up

            # Once, by the main process; the others wait (and are stopped by the launcher if it fails).
            with PartialState().main_process_first():
                if _is_main_process():
                    gate_on_judge_eval(cfg.judge_eval, reward, run_dir / "judge_eval")

        # 3. The policy, with a LoRA adapter (the PEFT config goes to TRL, which wraps the model).
        tokenizer = load_tokenizer(cfg.policy.name_or_path)
        dtype = policy_dtype(cfg.policy.dtype, cfg.grpo.get("bf16"), cfg.grpo.get("fp16"))  # auto: grpo's precision
        model = load_causal_lm(cfg.policy.name_or_path, dtype=dtype)
        peft_config = instantiate(cfg.peft, _convert_="all")

        # 4. Where the policy starts: the base model's reward on a sample of prompts, with a warning when
        #    nearly everything already passes (nothing to learn) or nearly nothing does (no signal).
        if cfg.baseline.enabled and _is_main_process():
            baseline_check(
                model,
                tokenizer,
                reward,
                dataset,
                run_dir / "baseline.json",
                prompts=cfg.baseline.prompts,
                max_new_tokens=args.max_completion_length,
                temperature=args.temperature,
                seed=cfg.seed,
            )
            judge.metrics.drain()  # the first step's judge metrics count only that step's requests

        # 5. The trainer: plain TRL, no subclass. Guards watch each step's rollouts around the reward (an
        #    alarm can stop the run); the step timer logs where each step's time goes, the guards' apart.
        guards: list[Guard] = [g for g in (canaries, monitor) if g is not None]
        timer = StepTimer(judge, run_dir / "step_timing.jsonl")
        reward_funcs: list[Any] = [timer.timed(GuardedReward(reward, guards))]  # TRL takes async callables too
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward_funcs,
            callbacks=[timer],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    except BaseException:
        judge.close()  # a server the judge launched must not outlive a run that never started
        raise
    return trainer, judge, timer, resume


def gate_on_judge_eval(settings: DictConfig, reward: Any, out_dir: Path) -> None:
    """Run ``rlaif.judge_eval`` with the run's own judge and reward; raise when a threshold fails."""
    result = run_judge_eval(settings, reward, out_dir)
    if not result.passed:
        raise JudgeRejectedError(
            f"the judge {reward.judge.identity} failed its evaluation ({'; '.join(result.failures)}); "
            f"report: {out_dir / 'report.md'}. Training would optimise a reward this judge cannot give: "
            "use a stronger judge, or change judge_eval.thresholds if these limits are wrong for your task"
        )
    log.info("the judge passed its evaluation on %s (report: %s)", settings.labelled, out_dir / "report.md")


def train(trainer: Any, judge: Judge, timer: StepTimer, resume: str | None, run_dir: Path) -> dict[str, Any]:
    """Train (from ``resume`` if set), save the adapter, write metrics, the reward curve and the summary."""
    set_aside_failed_marker(run_dir)
    if resume is not None:
        log.info("resuming from %s", resume)
    try:
        trainer.train(resume_from_checkpoint=resume)
    except (JudgeFailureError, AlarmStopError) as exc:
        raise RunStoppedError(_stopped_message(exc, save_checkpoint(trainer), run_dir)) from exc
    finally:
        judge.close()
    trainer.save_model(str(run_dir / "adapter"))
    return finish_run(run_dir, trainer, judge, timer.summary())


def save_checkpoint(trainer: Any) -> Path | None:
    """Save a resumable checkpoint of the last completed step (model, optimizer, scheduler, RNG, state).

    TRL has no public call for this outside its save schedule; ``_save_checkpoint`` is what that schedule
    runs, so a checkpoint saved here is one ``resume`` reads like any other.
    """
    step = trainer.state.global_step
    if step == 0:
        return None
    trainer._save_checkpoint(trainer.model, trial=None)
    return Path(trainer.args.output_dir) / f"checkpoint-{step}"


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _is_main_process() -> bool:
    # Before the trainer exists there is no accelerator to ask; launchers set RANK for every process.
    return int(os.environ.get("RANK", "0") or 0) == 0


def _stopped_message(exc: Exception, checkpoint: Path | None, run_dir: Path) -> str:
    saved = f"checkpoint saved: {checkpoint}" if checkpoint else "no step had completed: nothing to resume"
    return (
        f"run stopped: {exc}\n{saved}. Once the judge is back (or the alarm is understood: {run_dir}/alarms.jsonl), "
        f"resume with the same overrides plus resume=auto hydra.run.dir={run_dir}"
    )


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        trainer, judge, timer, resume = build(cfg, run_dir)
    except JudgeRejectedError as exc:
        log.error("rlaif: %s", exc)
        sys.exit(EXIT_THRESHOLDS_FAILED)
    except Exception as exc:
        sys.exit(setup_failed(run_dir, exc, log))
    try:
        summary = train(trainer, judge, timer, resume, run_dir)
    except RunStoppedError as exc:
        marker = mark_failed(run_dir, exc)
        log.error("rlaif: %s (details in %s)", exc, marker)
        sys.exit(1)
    except BaseException as exc:
        mark_failed(run_dir, exc)
        raise
    if summary:  # only the main process writes the summary
        log.info("run finished: %s", json.dumps(summary))


if __name__ == "__main__":
    main()
