"""The settings of a judge evaluation (the ``judge_eval`` keys other than the config groups) and the gate:
which limits apply, their defaults, and how a summary is checked against them.

The first stage of the judge-evaluation pipeline (settings -> judge -> summarise -> report -> gate);
nothing here imports a later stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rlaif.errors import ConfigError
from rlaif.runs.config_checks import check_number

# Threshold -> (summary key, "min"/"max", set type it applies to: None = both).
_THRESHOLDS: dict[str, tuple[str, str, str | None]] = {
    "min_agreement": ("agreement", "min", None),
    "min_kappa": ("kappa", "min", None),
    "min_auc": ("auc", "min", None),
    "max_parse_failure_rate": ("parse_failure_rate", "max", None),
    "max_false_positive_rate": ("max_false_positive_rate", "max", "pointwise"),
    "min_accuracy": ("accuracy", "min", "pairwise"),
    "min_swap_consistency": ("swap_consistency", "min", "pairwise"),
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

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> EvalSettings:
        """Read and check the keys (a ``DictConfig`` or a plain mapping; missing keys take the defaults)."""
        plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
        assert isinstance(plain, dict)
        boot, rep, audit = (plain.get(k) or {} for k in ("bootstrap", "repeats", "audit"))
        prices = plain.get("prices") or {}
        thresholds = {**DEFAULT_THRESHOLDS, **(plain.get("thresholds") or {})}
        unknown = sorted(set(thresholds) - set(_THRESHOLDS))
        if unknown:
            raise ConfigError(f"thresholds: unknown key(s) {unknown}; known: {sorted(_THRESHOLDS)}")
        return cls(
            labelled=str(plain.get("labelled") or cls.labelled),
            split=str(plain.get("split", cls.split)),
            threshold=check_number(plain.get("threshold", 0.5), "threshold", 0.0, 1.0),
            breakdown_by=tuple(str(f) for f in plain.get("breakdown_by", cls.breakdown_by) or ()),
            batch_size=int(check_number(plain.get("batch_size", 32), "batch_size", 1)),
            resamples=int(check_number(boot.get("resamples", 1000), "bootstrap.resamples", 0)),
            seed=int(boot.get("seed", 0)),
            repeats=int(check_number(rep.get("k", 3), "repeats.k", 1)),
            repeat_sample=int(check_number(rep.get("sample", 20), "repeats.sample", 1)),
            audit=bool(audit.get("enabled", True)),
            audit_per_category=int(check_number(audit.get("per_category", 15), "audit.per_category", 1)),
            audit_seed=int(audit.get("seed", 0)),
            prices=(
                check_number(prices.get("input_per_million", 0.0), "prices.input_per_million", 0.0),
                check_number(prices.get("output_per_million", 0.0), "prices.output_per_million", 0.0),
            ),
            thresholds={
                k: None if v is None else check_number(v, f"thresholds.{k}", 0.0, 1.0) for k, v in thresholds.items()
            },
        )


def apply_thresholds(summary: dict[str, Any], thresholds: Mapping[str, float | None], pairwise: bool) -> list[str]:
    """Check every set threshold, record each outcome in ``summary["thresholds"]``, return the failures.

    Each outcome has a ``status``: ``pass``, ``fail``, ``off`` (limit null: listed as not checked) or
    ``n/a`` (the metric does not apply to this kind of set: pairwise limits on a pointwise set, the audit
    on a set without one). A limit that applies but is undefined here (κ with one class, no scored item)
    fails: a gate that cannot be checked does not open.
    """
    kind = "pairwise" if pairwise else "pointwise"
    outcomes: dict[str, Any] = {}
    failures = []
    for name, limit in thresholds.items():
        key, side, applies = _THRESHOLDS[name]
        value = summary.get(key)
        if (applies not in (None, kind)) or (key == "max_false_positive_rate" and "audit" not in summary):
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
