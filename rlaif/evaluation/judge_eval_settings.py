"""The settings of a judge evaluation (the ``judge_eval`` keys other than the config groups) and the gate:
which limits apply, their defaults, and how a summary is checked against them.

The first stage of the judge-evaluation pipeline (settings -> judge -> summarise -> report -> gate);
nothing here imports a later stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from rlaif.errors import ConfigError, parse_settings
from rlaif.evaluation.second_opinion_keys import SecondOpinion, read_second_opinion, refuse_unsupported

# Threshold -> (summary key, "min"/"max", the set kinds it applies to).
_CLASSIC = ("pointwise", "pairwise", "item")  # item: a set of per-row rubric items, scored like pointwise
_THRESHOLDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "min_agreement": ("agreement", "min", _CLASSIC),
    "min_kappa": ("kappa", "min", _CLASSIC),
    "min_auc": ("auc", "min", _CLASSIC),
    "max_parse_failure_rate": ("parse_failure_rate", "max", (*_CLASSIC, "listwise")),
    "max_false_positive_rate": ("max_false_positive_rate", "max", ("pointwise",)),
    "min_accuracy": ("accuracy", "min", ("pairwise",)),
    "min_swap_consistency": ("swap_consistency", "min", ("pairwise",)),
    "min_kendall_tau": ("kendall_tau", "min", ("listwise",)),
}
# The limits every evaluation checks unless a key says otherwise: each fails a chance-level judge (AUC and
# pairwise accuracy 0.5, swap consistency 0). A key set to null is off and listed as "not checked".
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "min_agreement": None,
    "min_kappa": None,
    "min_auc": 0.6,
    "max_parse_failure_rate": 0.05,
    "max_false_positive_rate": None,
    "min_accuracy": 0.6,
    "min_swap_consistency": 0.5,
    "min_kendall_tau": 0.2,  # listwise sets: a chance-level ranking scores 0
}


@dataclass(frozen=True)
class EvalSettings:
    """What to measure and the limits to pass (the ``judge_eval.yaml`` keys other than the groups)."""

    labelled: str = "packaged:everyday_pointwise"
    split: str = "test"  # dev | test | all: the rows of the set that are graded (labelled_sets.select_split)
    threshold: float = 0.5
    breakdown_by: tuple[str, ...] = ("criterion", "kind")
    batch_size: int = 32
    resamples: int = 1000
    seed: int = 0
    repeats: int = 3
    repeat_sample: int = 20
    audit: bool = True
    audit_per_category: int = 15
    audit_seed: int = 0
    prices: tuple[float, float] = (0.0, 0.0)  # per million input, output tokens
    thresholds: Mapping[str, float | None] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    # The second judge (second_opinion.judge, old name second_judge), its interval's seed, its floor on ρ.
    second_opinion: SecondOpinion = field(default_factory=SecondOpinion)

    @property
    def second_seed(self) -> int:
        """The seed of the cross-judge interval: ``second_opinion.seed``, else ``bootstrap.seed``."""
        return self.seed if self.second_opinion.seed is None else self.second_opinion.seed

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], key: str = "") -> EvalSettings:
        """Read and check the keys (a ``DictConfig`` or a plain mapping; missing keys take the defaults);
        ``key`` is where they sit in the config (``judge_eval`` in ``rlaif.train``), for the messages."""
        keys = parse_settings(_Keys, cfg, key)  # it reads Hydra's nodes as plain values
        return cls(
            labelled=keys.labelled,
            split=keys.split,
            threshold=keys.threshold,
            breakdown_by=tuple(keys.breakdown_by or ()),
            batch_size=keys.batch_size,
            resamples=keys.bootstrap.resamples,
            seed=keys.bootstrap.seed,
            repeats=keys.repeats.k,
            repeat_sample=keys.repeats.sample,
            audit=keys.audit.enabled,
            audit_per_category=keys.audit.per_category,
            audit_seed=keys.audit.seed,
            prices=(keys.prices.input_per_million, keys.prices.output_per_million),
            thresholds={**DEFAULT_THRESHOLDS, **keys.thresholds.model_dump(exclude_unset=True)},
            second_opinion=_second_opinion(cfg, key),
        )


def _second_opinion(cfg: Mapping[str, Any], key: str) -> SecondOpinion:
    """``second_opinion`` (its judge also under the old key ``second_judge``: ``judge@second_judge=NAME``)."""
    prefix = f"{key}." if key else ""
    opinion = read_second_opinion(
        cfg.get("second_opinion"),
        f"{prefix}second_opinion",
        old={"judge": (f"{prefix}second_judge", cfg.get("second_judge"))},
    )
    refuse_unsupported(opinion, "rlaif.judge_eval", sample="the second judge grades every labelled item")
    if key and opinion.judge is not None:  # train preflight=true: the gate evaluates the run's own judge alone
        raise ConfigError(f"{opinion.key_of('judge')}: the preflight gate asks no second judge; leave it null")
    return opinion


# The keys as the YAML writes them. Blocks forbid unknown keys (a typo is an error, not a silent default);
# the top level ignores them: it also holds the config groups (judge, reward, rubric, ...).
_Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Bootstrap(_Block):
    resamples: NonNegativeInt = 1000
    seed: int = 0


class _Repeats(_Block):
    k: PositiveInt = 3
    sample: PositiveInt = 20
    seed: int = 0


class _Audit(_Block):
    enabled: bool = True
    per_category: PositiveInt = 15
    seed: int = 0


class _Prices(_Block):
    input_per_million: NonNegativeFloat = 0.0
    output_per_million: NonNegativeFloat = 0.0


class _Thresholds(_Block):
    min_agreement: _Unit | None = None
    min_kappa: _Unit | None = None
    min_auc: _Unit | None = None
    max_parse_failure_rate: _Unit | None = None
    max_false_positive_rate: _Unit | None = None
    min_accuracy: _Unit | None = None
    min_swap_consistency: _Unit | None = None
    min_kendall_tau: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None


class _Keys(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    labelled: str = "packaged:everyday_pointwise"
    split: str = "test"
    threshold: _Unit = 0.5
    breakdown_by: list[str] | None = ["criterion", "kind"]
    batch_size: PositiveInt = 32
    bootstrap: _Bootstrap = _Bootstrap()
    repeats: _Repeats = _Repeats()
    audit: _Audit = _Audit()
    prices: _Prices = _Prices()
    thresholds: _Thresholds = _Thresholds()


def apply_thresholds(
    summary: dict[str, Any], thresholds: Mapping[str, float | None], pairwise: bool | str
) -> list[str]:
    """Check every set threshold, record each outcome in ``summary["thresholds"]``, return the failures.

    Each outcome has a ``status``: ``pass``, ``fail``, ``off`` (limit null: listed as not checked) or
    ``n/a`` (the metric does not apply to this kind of set: pairwise limits on a pointwise set, the audit
    on a set without one). A limit that applies but is undefined here (κ with one class, no scored item)
    fails: a gate that cannot be checked does not open.
    """
    kind = pairwise if isinstance(pairwise, str) else "pairwise" if pairwise else "pointwise"  # or the set's kind
    outcomes: dict[str, Any] = {}
    failures = []
    for name, limit in thresholds.items():
        key, side, applies = _THRESHOLDS[name]
        value = summary.get(key)
        if (kind not in applies) or (key == "max_false_positive_rate" and "audit" not in summary):
            outcomes[name] = {"limit": limit, "value": None, "passed": None, "status": "n/a"}
            continue
        if limit is None:
            outcomes[name] = {"limit": None, "value": value, "passed": None, "status": "off"}
            continue
        passed = value is not None and (value >= limit if side == "min" else value <= limit)
        outcomes[name] = {"limit": limit, "value": value, "passed": passed, "status": "pass" if passed else "fail"}
        if not passed:
            shown = "undefined" if value is None else f"{value:.3f}"
            failures.append(f"{key} {shown} {'<' if side == 'min' else '>'} {name} {limit:g}")
    summary["thresholds"] = outcomes
    summary["passed"] = not failures
    return failures


def apply_second_opinion_floor(summary: dict[str, Any], floor: float | None) -> list[str]:
    """``second_opinion.min_agreement``: Spearman's ρ of the two judges' scores (``cross_judge.spearman``) under
    it fails like a threshold (exit 3), listed as ``second_opinion.min_agreement`` beside them. None: report only
    (nothing is added). Undefined ρ (a constant judge) fails, as an undefined threshold does."""
    if floor is None:
        return []
    cross = summary.get("cross_judge")
    if cross is None:  # a listwise set: no item-by-item comparison of the two judges
        summary["thresholds"]["second_opinion.min_agreement"] = {
            "limit": floor,
            "value": None,
            "passed": None,
            "status": "n/a",
        }
        return []
    value = cross.get("spearman")
    passed = value is not None and value >= floor
    status = "pass" if passed else "fail"
    summary["thresholds"]["second_opinion.min_agreement"] = {
        "limit": floor,
        "value": value,
        "passed": passed,
        "status": status,
    }
    if passed:
        return []
    summary["passed"] = False
    shown = "undefined" if value is None else f"{value:.3f}"
    return [f"cross_judge.spearman {shown} < second_opinion.min_agreement {floor:g}"]
