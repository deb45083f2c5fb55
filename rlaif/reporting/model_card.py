"""The adapter's model card and config, for someone on another machine: ``adapter/README.md`` says what was
trained, against which judge and rubric, on what data, for how long, with what result, and how to load it;
``adapter_config.json`` names the base model by its hub id, not this machine's cache path, so
``PeftModel.from_pretrained`` works elsewhere. Written from the run folder's own files (the config Hydra saved,
secrets already masked there; ``run_summary.json``; ``adapter/evaluation.json`` once ``rlaif.evaluate`` has
judged the adapter), so ``rlaif.evaluate`` can write it again with its result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlaif.data.models import hub_id
from rlaif.reporting.html_page import write_atomic
from rlaif.reporting.run_files import json_object, read_run
from rlaif.runs.processes import is_main_process

EVALUATION = "evaluation.json"


def write_model_card(run_dir: Path) -> Path | None:
    """Point ``adapter/adapter_config.json`` at the base model's hub id and write ``adapter/README.md`` and the
    run folder's ``README.md`` (TRL's card, which named the base model "None"); None when there is no adapter
    or this is not the main process (it alone writes the run folder's files)."""
    adapter = run_dir / "adapter"
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file() or not is_main_process():
        return None
    run = read_run(run_dir)
    policy = str((run.config.get("policy") or {}).get("name_or_path") or "")
    adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    base = hub_id(policy) if policy else hub_id(str(adapter_config.get("base_model_name_or_path") or ""))
    adapter_config["base_model_name_or_path"] = base
    write_atomic(config_path, json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    evaluation = json_object(adapter / EVALUATION)
    card = model_card(base, run.config, run.summary, evaluation, run_dir.name)
    write_atomic(run_dir / "README.md", card.replace("PATH", "adapter"))  # loaded from the run folder
    return write_atomic(adapter / "README.md", card.replace("PATH", "."))


def record_evaluation(adapter: Path, summary: Mapping[str, Any], report: Path) -> Path | None:
    """After ``rlaif.evaluate``: its headline beside the adapter (``evaluation.json``) and the card written
    again with it. None when the adapter is not a training run's (no run folder around it)."""
    if not (adapter / "adapter_config.json").is_file() or not (adapter.parent / ".hydra" / "config.yaml").is_file():
        return None
    keys = ("wins", "ties", "losses", "failures", "n", "win_rate_decided", "win_rate_interval", "interval_level",
            "judge", "trained_the_policy")  # fmt: skip
    headline = {
        "report": str(report),
        "decided_by": summary.get("decided_by"),
        "judges": {"training judge": {k: summary.get(k) for k in keys}}
        | {name: {k: t.get(k) for k in keys} for name, t in (summary.get("judges") or {}).items()},
        "signals": summary.get("signals"),
    }
    write_atomic(adapter / EVALUATION, json.dumps(headline, indent=2, default=str) + "\n")
    return write_model_card(adapter.parent)


def model_card(
    base: str, config: Mapping[str, Any], summary: Mapping[str, Any], evaluation: Mapping[str, Any], name: str
) -> str:
    """The card as markdown, with the hub's YAML front matter; ``PATH`` stands for the adapter's folder."""
    judge, reward, rubric = config.get("judge") or {}, config.get("reward") or {}, config.get("rubric") or {}
    data, grpo = config.get("data") or {}, config.get("grpo") or {}
    lines = [
        "---",
        f"base_model: {base}",
        "library_name: peft",
        "pipeline_tag: text-generation",
        "tags: [rlaif, grpo, lora, trl, peft, llm-as-a-judge]",
        "---",
        "",
        f"# {name}: a LoRA adapter for {base}, trained with GRPO against an LLM judge (rlaif)",
        "",
        "## Load it",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'base = AutoModelForCausalLM.from_pretrained("{base}")',
        'model = PeftModel.from_pretrained(base, "PATH")',
        f'tokenizer = AutoTokenizer.from_pretrained("{base}")',
        "```",
        "",
        "## How it was trained",
        "",
        f"- **Base model**: [{base}](https://huggingface.co/{base})" if "/" in base else f"- **Base model**: {base}",
        f"- **Judge**: `{summary.get('judge') or judge.get('model') or _target(judge)}` ({_target(judge)})",
        f"- **Reward**: `{reward.get('name') or _target(reward)}` ({_target(reward)})",
        f"- **Data**: `{data.get('path')}` (split `{data.get('split')}`)",
        f"- **GRPO**: {summary.get('steps', grpo.get('max_steps'))} steps, learning rate {grpo.get('learning_rate')}, "
        f"{grpo.get('num_generations')} answers per prompt, up to {grpo.get('max_completion_length')} tokens each",
    ]
    if rubric:
        lines += ["", f"### Rubric `{rubric.get('name')}`: {rubric.get('task', '')}", ""]
        lines += _criteria(rubric.get("criteria") or [])
    lines += ["", "## Result", ""]
    lines += [
        f"- Base policy's reward before training: {_f(summary.get('baseline_reward'))}",
        f"- Mean reward, first step: {_f(summary.get('first_reward'))}; last step: {_f(summary.get('last_reward'))}",
        "- These are the training judge's own scores: the policy was optimised to please it.",
    ]
    lines += ["", "## Evaluation on held-out prompts", "", *_evaluation(evaluation)]
    return "\n".join(lines) + "\n"


def _criteria(criteria: Sequence[Any]) -> list[str]:
    out = ["| criterion | question | passes on | weight |", "|---|---|---|---|"]
    for c in criteria:
        if isinstance(c, Mapping):
            passes = "no" if c.get("pass_on") is False else "yes"
            out.append(f"| `{c.get('id')}` | {c.get('question')} | {passes} | {c.get('weight', 1.0)} |")
    return out


def _evaluation(evaluation: Mapping[str, Any]) -> list[str]:
    if not evaluation:
        return [
            "Not evaluated yet: `python -m rlaif.evaluate adapter=RUN_FOLDER/adapter` (with a judge that did not "
            "train it: `+judge@second_opinions.NAME.judge=vllm second_opinions.NAME.judge.base_url=...`)."
        ]
    out = [f"`python -m rlaif.evaluate` against the base model, decided by `{evaluation.get('decided_by')}` "
           f"(report: `{evaluation.get('report')}`):", "", "| judge | trained the policy | wins | ties | losses "
           "| failures | win rate (decided) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, t in (evaluation.get("judges") or {}).items():
        interval = t.get("win_rate_interval") or [None, None]
        rate = f"{_f(t.get('win_rate_decided'))} ({_f(interval[0])}-{_f(interval[1])})"
        out.append(
            f"| {name} (`{t.get('judge')}`) | {'yes' if t.get('trained_the_policy') else 'no'} | {t.get('wins')} "
            f"| {t.get('ties')} | {t.get('losses')} | {t.get('failures')} | {rate} |"
        )
    return out


def _target(block: Any) -> str:
    return str(block.get("_target_", "-")) if isinstance(block, Mapping) else "-"


def _f(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"
