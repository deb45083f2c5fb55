"""``python -m rlaif.train``: GRPO with a LoRA policy and an LLM-as-a-judge reward, wired by Hydra.

Reads top to bottom: checks -> data -> judge (proven with one real request) -> reward -> policy + LoRA -> baseline
(the base policy's reward) -> GRPOTrainer -> train -> save -> report.html. What varies is a config group in
``rlaif/conf`` (``judge=vllm``, ``reward=...``). Exit codes (``rlaif.errors``): 0 done, 2 bad input (nothing of
this invocation is left behind), 3 ``preflight=true`` and the judge failed its evaluation, 1 anything else (the
traceback is in the run folder's ``FAILED``).
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from rlaif.data.loaders import load_prompts
from rlaif.data.models import load_causal_lm, load_tokenizer, policy_dtype
from rlaif.errors import RunStoppedError, entry_point
from rlaif.evaluation.baseline import run_baseline
from rlaif.evaluation.judge_eval_run import gate_on_judge_eval
from rlaif.monitoring.canaries import build_canaries
from rlaif.monitoring.guard import GuardedReward
from rlaif.monitoring.monitor import build_monitor, build_second_reward
from rlaif.reporting.model_card import write_model_card
from rlaif.reporting.run_report import report_at_end
from rlaif.runs.config_checks import check_rows, check_train_config, resolve_resume
from rlaif.runs.environments import tool_use
from rlaif.runs.judge_and_reward import check_judge_for, open_judge_and_reward
from rlaif.runs.processes import is_main_process, main_process_first
from rlaif.runs.run_folder import finish_run, remove_created, set_aside_failed_marker
from rlaif.runs.run_record import CompletionsTable, JudgeTotals, RunRecord
from rlaif.runs.step_timing import StepTimer
from rlaif.runs.stopping import StopOnRequest, saved_checkpoint, stop_reason, stopped_message

log = logging.getLogger("rlaif.train")


def build(cfg: DictConfig, run_dir: Path, stack: ExitStack) -> tuple[Any, StepTimer, str | None]:
    """Everything a run needs, built before any training step; bad input fails here. ``stack`` closes judges."""
    from trl import GRPOTrainer

    # 1. Config and data checks first: they fail fast, before anything is loaded.
    check_train_config(cfg)
    dataset = load_prompts(**cfg.data)
    args = instantiate(cfg.grpo, output_dir=str(run_dir), _convert_="all")  # sets up the process group
    resume = resolve_resume(cfg.resume, run_dir)  # a resume cuts the run's per-step logs back to its checkpoint
    monitor = build_monitor(cfg.monitor, cfg.get("rubric"), run_dir, resume, args.num_generations)  # the hacking alarm

    # 2. The judge and its reward, proven with one real request before the policy is loaded; canaries.
    judge, reward = stack.enter_context(
        open_judge_and_reward(cfg.judge, cfg.reward, run_dir, log_path=str(run_dir / "rewards.jsonl"))
    )
    check_rows(reward, dataset, cfg.data.path, cfg.data.get("columns"))
    canaries = build_canaries(cfg.canaries, reward, run_dir, resume=resume) if is_main_process() else None
    if monitor is not None:  # the judged monitor: a second judge on a sample of each step (off by default)
        monitor.second = build_second_reward(cfg.monitor, cfg.reward, run_dir, stack)
    if cfg.check_judge:
        check_judge_for(judge, reward)
    if cfg.preflight:  # the judge must pass its evaluation on labelled answers, or there is no run
        with main_process_first():  # once, by the main process; the others wait
            if is_main_process():
                gate_on_judge_eval(cfg.judge_eval, reward, run_dir / "judge_eval")

    # 3. The policy, with a LoRA adapter (the PEFT config goes to TRL, which wraps the model).
    tokenizer = load_tokenizer(cfg.policy.name_or_path)
    dtype = policy_dtype(cfg.policy.dtype, cfg.grpo.get("bf16"), cfg.grpo.get("fp16"))  # auto: grpo's precision
    model = load_causal_lm(cfg.policy.name_or_path, dtype)

    # 4. Where the policy starts: the base model's reward, and a warning when it leaves nothing to learn.
    if is_main_process():
        run_baseline(cfg.baseline, model, tokenizer, reward, dataset, run_dir, args, cfg.seed)

    # 5. Plain TRL: guards watch rollouts (an alarm can stop the run), the timer splits steps, RunRecord keeps logs.
    timer, totals = StepTimer(judge, run_dir / "step_timing.jsonl"), JudgeTotals(judge, run_dir)  # judge_totals/
    guarded = GuardedReward(reward, [g for g in (canaries, monitor) if g is not None])
    callbacks = [timer, totals, StopOnRequest(guarded.stop), RunRecord(run_dir, resume), CompletionsTable(run_dir)]
    trainer = GRPOTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=instantiate(cfg.peft, _convert_="all"),
        **tool_use(cfg.get("environment"), timer.timed(totals.counted(guarded)), tokenizer, callbacks),  # +tools
    )
    return trainer, timer, resume


def train(trainer: Any, timer: StepTimer, resume: str | None, run_dir: Path) -> dict[str, Any]:
    """Train (from ``resume`` if set), save the adapter, write metrics, the reward curve, the summary, the card."""
    set_aside_failed_marker(run_dir)
    trainer.train(resume_from_checkpoint=resume)
    if (reason := stop_reason(trainer)) is not None:  # a judge failure or an alarm: the checkpoint is saved
        raise RunStoppedError(stopped_message(reason, saved_checkpoint(run_dir, trainer.state.global_step), run_dir))
    trainer.save_model(str(run_dir / "adapter"))
    summary = finish_run(run_dir, trainer, timer.judge, timer.summary())
    write_model_card(run_dir)  # the adapter's card: the base model by its hub id, how it was trained (main process)
    return summary


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with ExitStack() as stack:  # closes every judge (and a server one launched) however the run ends
        with entry_point(run_dir, log, remove_created):  # set-up: bad input leaves nothing behind
            trainer, timer, resume = build(cfg, run_dir, stack)
        with report_at_end(run_dir, cfg.get("report")), entry_point(run_dir, log):  # checkpoints stay; FAILED shown
            summary = train(trainer, timer, resume, run_dir)
    if summary:  # only the main process writes the summary
        log.info("run finished: %s", json.dumps(summary))


if __name__ == "__main__":
    main()
