"""The judge's running totals, written by rlaif itself as the run goes: what the run really asked and paid.

TRL's logged ``judge/*`` values cannot be summed into totals: TRL averages a logged value over its logging
window (``grpo.logging_steps``) and across processes, so their sum undercounts. Instead every training process
keeps ``judge_totals/rank<R>.attempt<N>.json`` in the run folder (written by
:class:`rlaif.runs.run_record.JudgeTotals`): its judge's cumulative counters
(``judge.metrics.totals()``: requests, failures, retries, cache hits, tokens, latency p50/p95, a jury's or a
pool's members as ``<name>/...``), replaced atomically after every reward call and at every step's end, so a
crash loses at most the requests in flight. Each start of the command in the folder (a resume included) is a
new attempt with files of its own: a resumed run's totals are everything every attempt paid, the steps
replayed since the checkpoint included (their requests were really made, or answered from the cache and
counted as cache hits).

:func:`combined` adds the files up: the report of an unfinished run reads them, and ``judge_metrics.json`` at
the end of a run is their sum (:func:`folder_totals`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FOLDER = "judge_totals"
# Recomputed from the summed counters, or not summable: a percentile, a count of endpoints up right now.
_RATE, _SHARE, _HEALTHY = "failure_rate", "share", "healthy_endpoints"
_PERCENTILES = ("latency_p50_s", "latency_p95_s")


def attempt_path(run_dir: Path, rank: int) -> Path:
    """This start's file for process ``rank``: the attempt after the ones already in the folder."""
    folder = run_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"rank{rank}.attempt{1 + len(list(folder.glob(f'rank{rank}.attempt*.json')))}.json"


def write_totals(path: Path, totals: Mapping[str, float], step: int) -> None:
    """Replace ``path`` with ``totals`` at ``step`` (a temporary file, then a rename: never half a file)."""
    record = {
        "step": step,
        "time": time.time(),
        "totals": {k: v if math.isfinite(v) else None for k, v in totals.items()},
    }
    _replace(path, json.dumps(record, indent=1))


def write_folder_totals(run_dir: Path, fallback: Mapping[str, float] | None = None) -> dict[str, float]:
    """``judge_metrics.json``: the run's totals over every process and attempt (:func:`folder_totals`; ``fallback``
    when the folder has none), replaced whole. What it wrote."""
    totals = folder_totals(run_dir) or dict(fallback or {})
    _replace(run_dir / "judge_metrics.json", json.dumps(totals, indent=2))
    return totals


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # by process: several may replace the same file
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def read_files(run_dir: Path) -> list[dict[str, float]]:
    """Every process's and attempt's totals in ``run_dir`` (a damaged file is skipped; none: ``[]``)."""
    found = []
    for path in sorted((run_dir / FOLDER).glob("rank*.attempt*.json")):
        try:
            totals = json.loads(path.read_text(encoding="utf-8")).get("totals")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(totals, dict):
            found.append({str(k): float(v) for k, v in totals.items() if _number(v)})
    return found


def folder_totals(run_dir: Path) -> dict[str, float]:
    """The judge's totals over every process and attempt of the run in ``run_dir``."""
    return combined(read_files(run_dir))


def combined(each: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Several processes' (or attempts') totals as one: counters summed, each ``failure_rate`` and pool
    ``share`` recomputed from the sums, latency percentiles the highest of the parts' own (a percentile of a
    union is not a function of the parts' percentiles; with one part it is that part's), ``healthy_endpoints``
    the lowest."""
    parts = list(each)
    keys = list(dict.fromkeys(k for part in parts for k in part))
    sums = {k: sum(part.get(k, 0.0) for part in parts) for k in keys}
    endpoints = [k.removesuffix(_SHARE) for k in keys if k.endswith(f"/{_SHARE}")]  # a pool's: "e1/", ...
    sent = {e: sums.get(f"{e}requests", 0.0) - sums.get(f"{e}cache_hits", 0.0) for e in endpoints}
    out: dict[str, float] = {}
    for key in keys:
        values = [part[key] for part in parts if key in part]
        if key.endswith(_PERCENTILES):
            out[key] = max(values)
        elif key.endswith(_HEALTHY):
            out[key] = min(values)
        elif key.endswith(_RATE):
            requests = sums.get(f"{key.removesuffix(_RATE)}requests", 0.0)
            out[key] = sums.get(f"{key.removesuffix(_RATE)}failures", 0.0) / requests if requests else 0.0
        elif key.endswith(f"/{_SHARE}"):
            out[key] = sent[key.removesuffix(_SHARE)] / sum(sent.values()) if sum(sent.values()) else 0.0
        else:
            out[key] = sums[key]
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
