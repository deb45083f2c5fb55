"""The first stage of ``python -m rlaif.evaluate``: check the settings, load the held-out prompts, open every
judge with the training reward around it (and the pairwise reward with ``decide=pairwise``), and load the
policy with its adapter(s), all before any answer is generated. :mod:`rlaif.evaluation.adapter_eval` runs it.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from rlaif.data.loaders import load_eval_prompts
from rlaif.data.models import load_causal_lm, load_tokenizer
from rlaif.errors import ConfigError, parse_settings, plain
from rlaif.evaluation.second_opinion_keys import SecondOpinion, read_second_opinion, refuse_unsupported
from rlaif.judges.base import Judge
from rlaif.rewards.capabilities import ComparesAnswers, GradesAnswers
from rlaif.rewards.grades import Grade
from rlaif.rewards.rubric import RubricReward
from rlaif.runs.config_checks import check_rows
from rlaif.runs.judge_and_reward import check_judge_for, open_judge_and_reward

log = logging.getLogger("rlaif.evaluate")


@dataclass
class PairOutcome:
    """One prompt's adapter-vs-baseline decision: ``outcome`` is win / tie / loss (for the adapter) or failure."""

    outcome: str
    orders: tuple[float, float] | None = None  # P(adapter better) shown as A, shown as B
    error: str | None = None
    identical: bool = False


@dataclass
class Panel:
    """A judge with the pairwise reward that decides (None: the reward's scores decide) and the training
    reward, with this judge, that scores each answer."""

    role: str  # "judge" (the training judge) or "judges.NAME"
    judge: Judge
    pairwise: Any
    reward: Any  # grades one answer: the training reward, or the plain rubric when it cannot (reward_note)
    outcomes: list[PairOutcome] = field(default_factory=list)
    grades: dict[str, list[Grade]] = field(default_factory=dict)  # side -> one grade per prompt
    reward_note: str | None = None
    seed: int = 0  # its second opinion's interval (second_opinions.NAME.seed, else the top-level seed)


@dataclass
class Plan:
    """Everything an evaluation needs, built (and checked) before any answer is generated."""

    rows: Any
    model: Any
    tokenizer: Any
    panels: list[Panel]
    warnings: list[str]


def check_adapter(path: Any, key: str) -> Path:
    """The adapter folder named by config ``key``; :class:`ConfigError` unless it holds a PEFT adapter."""
    folder = Path(str(path)).expanduser()
    if not (folder / "adapter_config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no adapter_config.json"
        raise ConfigError(f"{key}: {folder} {what}; pass the adapter/ folder of a finished run ({key}=RUN/adapter)")
    return folder


def prepare(cfg: DictConfig, run_dir: Path, stack: ExitStack) -> Plan:
    """Check the input, build and probe the judges (``stack`` closes them), load the policy with its adapter(s)."""
    adapter = check_adapter(cfg.adapter, "adapter")
    baseline = check_adapter(cfg.baseline, "baseline") if cfg.baseline is not None else None
    rows = load_eval_prompts(**cfg.data)
    check_settings(cfg)
    warnings = training_mismatches(cfg, adapter)
    opinions = second_opinions(cfg)
    roles = [("judge", cfg.judge), *((f"judges.{n}", OmegaConf.create(o.judge)) for n, o in opinions.items())]
    panels = [build_panel(cfg, role, judge_cfg, run_dir, stack) for role, judge_cfg in roles]
    for panel, opinion in zip(panels, [None, *opinions.values()], strict=True):
        panel.seed = cfg.seed if opinion is None or opinion.seed is None else opinion.seed
    eval_path = cfg.data.get("eval_path")  # read as Nova JSONL, columns unmapped; else the held-out rows of data.path
    check_rows(panels[0].reward, rows, str(eval_path or cfg.data.path), None if eval_path else cfg.data.get("columns"))
    tokenizer = load_tokenizer(cfg.policy.name_or_path)
    model = load_policy(cfg, adapter, baseline)
    return Plan(rows, model, tokenizer, panels, warnings)


def second_opinions(cfg: DictConfig) -> dict[str, SecondOpinion]:
    """The judges beside the training judge, by name: ``second_opinions.NAME`` (``+judge@second_opinions.NAME.judge=
    NAME``), or under the old name ``judges.NAME`` (the judge alone: ``+judge@judges.NAME=NAME``). Their results keep
    their names: ``judges.NAME`` in items.jsonl and summary.json, ``second_opinions.NAME`` for the agreement."""
    old = dict(plain(cfg.get("judges")) or {})
    new = dict(plain(cfg.get("second_opinions")) or {})
    opinions = {}
    for name in {**old, **new}:
        key = f"second_opinions.{name}"
        opinion = read_second_opinion(new.get(name), key, old={"judge": (f"judges.{name}", old.get(name))})
        refuse_unsupported(
            opinion,
            "rlaif.evaluate",
            sample="every answer of both sides is graded (the judge also decides the win rate)",
            min_agreement="rlaif.evaluate reports the agreement and gates on nothing",
        )
        if opinion.judge is None:
            raise ConfigError(f"{key}.judge: no judge; choose one with +judge@{key}.judge=NAME (e.g. vllm)")
        opinions[str(name)] = opinion
    return opinions


def build_panel(cfg: DictConfig, role: str, judge_cfg: DictConfig, run_dir: Path, stack: ExitStack) -> Panel:
    """``judge_cfg`` as a judge (cache in the run folder), with the training reward and the pairwise
    reward built around it."""
    cache_home = run_dir if role == "judge" else run_dir / role
    judge, reward = stack.enter_context(open_judge_and_reward(judge_cfg, cfg.reward, cache_home))
    pairwise = instantiate(cfg.pairwise, judge=judge, _convert_="all") if cfg.decide == "pairwise" else None
    if pairwise is not None and not isinstance(pairwise, ComparesAnswers):
        name = type(pairwise).__name__
        raise ConfigError(f"pairwise: {name} cannot compare two answers; use reward@pairwise=preference")
    note = None
    if not isinstance(reward, GradesAnswers):  # a preference or checks-only reward scores no single answer alone
        note = f"reward {reward.__name__!r} grades no single answer: graded with rubric {cfg.rubric.name!r}"
        reward = RubricReward(judge, rubric=plain(cfg.rubric), mode=cfg.rubric_mode)
    if cfg.check_judge:
        check_judge_for(judge, reward)
    return Panel(role, judge, pairwise, reward, reward_note=note)


def load_policy(cfg: DictConfig, adapter: Path, baseline: Path | None) -> Any:
    """The base policy with the adapter attached as ``adapter`` (and ``baseline`` when given), on a GPU if any."""
    import torch
    from peft import PeftModel

    base = load_causal_lm(cfg.policy.name_or_path, dtype=cfg.policy.dtype)
    model = PeftModel.from_pretrained(base, str(adapter), adapter_name="adapter")
    if baseline is not None:
        model.load_adapter(str(baseline), adapter_name="baseline")
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval()


def training_mismatches(cfg: DictConfig, adapter: Path) -> list[str]:
    """Warnings when the adapter's own run (its saved ``.hydra/config.yaml``) used another base policy or
    data split: the comparison would then not be adapter vs its base, or not on prompts it never saw."""
    saved = adapter.parent / ".hydra" / "config.yaml"
    if not saved.is_file():
        return []
    trained = OmegaConf.load(saved)
    assert isinstance(trained, DictConfig)  # Hydra saves the composed config, a mapping
    warnings = []
    for key in ("policy.name_or_path", "data.path", "data.eval_path", "data.eval_fraction"):
        group, name = key.split(".")
        if name in (trained.get(group) or {}) and trained[group][name] != cfg[group].get(name):
            warnings.append(
                f"the adapter's run used {key}={trained[group][name]}, this evaluation {key}={cfg[group].get(name)}: "
                "pass the training run's settings so the base is its base and the held-out split the one it skipped"
            )
    for warning in warnings:
        log.warning("rlaif: %s", warning)
    return warnings


def check_settings(cfg: DictConfig) -> None:
    """Settings a user may mistype, all named at once before any model is loaded or judge asked."""
    parse_settings(_Keys, cfg, "")


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Generation(_Block):
    max_new_tokens: PositiveInt = 40
    temperature: NonNegativeFloat = 0.0
    batch_size: PositiveInt = 8


class _Bootstrap(_Block):
    resamples: NonNegativeInt = 2000


class _Keys(BaseModel):
    """The ``evaluate.yaml`` keys of rlaif's own (the groups are checked by what they build)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    generation: _Generation = _Generation()
    bootstrap: _Bootstrap = _Bootstrap()
    examples: NonNegativeInt = 8
    interval_level: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    rubric_mode: Literal["logprob", "json"] = "logprob"
    decide: Literal["pairwise", "rubric"] = "rubric"
    show_reference: bool = True
    check_judge: bool = True
    seed: int = 0
