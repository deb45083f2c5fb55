"""The run report: one or several run folders as one self-contained ``report.html``.

:func:`write_report` reads each folder (:mod:`~rlaif.reporting.run_files`), draws its charts
(:mod:`~rlaif.reporting.run_charts`), picks the answers to show (:mod:`~rlaif.reporting.run_answers`) and renders
``run_report.html.j2``. Several folders (a Hydra multirun's jobs) make one page comparing them: the reward
curves overlaid, a summary table side by side, the config keys that differ; each run's details below it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rlaif.reporting.html_page import render, write_atomic
from rlaif.reporting.run_answers import pick_answers
from rlaif.reporting.run_charts import lines_chart, reward_chart, step_split_chart
from rlaif.reporting.run_files import RunFiles, is_run_folder, read_run
from rlaif.runs.judge_totals import combined
from rlaif.runs.processes import is_main_process

log = logging.getLogger("rlaif.report")
REPORT_NAME = "report.html"


def write_report(run_dirs: Sequence[Path], out: Path | None = None, price: Mapping[str, float] | None = None) -> Path:
    """Write the report of ``run_dirs`` to ``out`` (default: ``report.html`` in the one run folder, or in the
    current folder for several). ``price``: the judge's price per million tokens (``input``, ``output``), else the
    run's own ``report.prices``. A folder that is not a run raises NotARunError before anything is written."""
    runs = [read_run(Path(d)) for d in run_dirs]
    target = out if out is not None else (runs[0].path / REPORT_NAME if len(runs) == 1 else Path(REPORT_NAME))
    return write_atomic(target, render_report(runs, price))


@contextmanager
def report_at_end(run_dir: Path, settings: Mapping[str, Any] | None) -> Iterator[None]:
    """Write the run's ``report.html`` when the block ends, however it ends (finished, failed, stopped, Ctrl-C),
    on the main process, unless ``report.enabled`` is false. Put it outside ``entry_point``: the page then shows
    the ``FAILED`` that entry_point writes. A report that cannot be written is a warning, never the run's error."""
    try:
        yield
    finally:
        if (settings or {}).get("enabled", True) and is_main_process():
            try:
                path = write_report([run_dir])
                log.info("report: %s (open it in a browser; python -m rlaif.report writes it again)", path)
            except Exception as exc:  # the run's own outcome (and its exit code) must not change because of this
                log.warning("rlaif: the run report could not be written: %s: %s", type(exc).__name__, exc)


class SweepReport(Callback):
    """Hydra callback (``hydra.callbacks`` in train.yaml): after a multirun, ``report.html`` in the sweep folder
    comparing its jobs (each job's own report is in its folder). Never fails the sweep: a warning instead."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        jobs = [d for d in sorted(sweep.iterdir(), key=_job_order) if is_run_folder(d)] if sweep.is_dir() else []
        if len(jobs) < 2:
            return
        try:
            log.info("sweep report: %s", write_report(jobs, sweep / REPORT_NAME))
        except Exception as exc:
            log.warning("rlaif: the sweep report could not be written: %s: %s", type(exc).__name__, exc)


def _job_order(folder: Path) -> tuple[int, str]:
    """Hydra numbers its jobs 0, 1, ..., 10: in that order, not as text."""
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def render_report(runs: Sequence[RunFiles], price: Mapping[str, float] | None = None) -> str:
    details = [run_details(run, price) for run in runs]
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs"
    overlay = ""
    if len(runs) > 1:
        overlay = reward_chart({r.name: r.reward_per_step() for r in runs}, {r.name: _baseline(r) for r in runs})
    return render(
        "run_report.html.j2",
        title=title,
        runs=details,
        overlay=overlay,
        differences=config_differences(runs) if len(runs) > 1 else [],
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )


def run_details(run: RunFiles, price: Mapping[str, float] | None) -> dict[str, Any]:
    """Everything the template shows of one run, as plain values."""
    rewards = run.reward_per_step()
    answers = pick_answers(run.answers)
    judge = judge_totals(run)
    price = price or _price_of(run.config)
    # Rates (on-topic, repetition, ...) on a 0-1 scale; counts (answer words) apart, or they flatten the rates.
    monitor = _prefixed(run, "monitor/", skip=("monitor/alarm",))
    monitor_rates = {k: v for k, v in monitor.items() if all(0.0 <= x <= 1.0 for _, x in v)}
    monitor_counts = {k: v for k, v in monitor.items() if k not in monitor_rates}
    return {
        "name": run.name,
        "path": str(run.path),
        "status": run.status,
        "headline": headline(run, rewards),
        "reward_chart": reward_chart({run.name: rewards}, {run.name: _baseline(run)}),
        "pass_chart": lines_chart(pass_rates(run), "pass rate", ylim=(-0.02, 1.02)),
        "split_chart": step_split_chart(run.timing),
        "step_time": run.summary.get("step_time") or {},
        "judge": judge,
        "cost": _cost(judge, price),
        "latency_chart": lines_chart(
            {"p50": run.series("judge/latency_p50_s"), "p95": run.series("judge/latency_p95_s")}, "judge latency s"
        ),
        "judge_steps_chart": lines_chart(
            {k: run.series(f"judge/{k}") for k in ("requests", "failures", "retries", "cache_hits")},
            "judge requests per reward call (TRL's mean per logged step)",
        ),
        "monitor_chart": lines_chart(monitor_rates, "monitor signal (share of answers)", ylim=(-0.02, 1.02)),
        "monitor_counts_chart": lines_chart(monitor_counts, "monitor signal"),
        "canary_chart": lines_chart(_prefixed(run, "canary/"), "canary check"),
        "alarms": run.alarms,
        "answers": answers,
        "failed": run.failed,
        "config": yaml.safe_dump(run.config, sort_keys=False) if run.config else "",
        "overrides": run.overrides,
        "info": run.info,
        "wall_time_s": wall_time(run),
        "skipped_lines": run.skipped_lines,
    }


def headline(run: RunFiles, rewards: Sequence[tuple[int, float, float]]) -> dict[str, Any]:
    """The numbers a reader looks for first; the first and last reward are TRL's, as in run_summary.json."""
    return {
        "steps": run.summary.get("steps", max(run.metrics, default=rewards[-1][0] if rewards else 0)),
        "first_reward": rewards[0][1] if rewards else None,
        "last_reward": rewards[-1][1] if rewards else None,
        "baseline_reward": _baseline(run),
        "judge": run.summary.get("judge") or _judge_name(run.config),
        "reward": _target_name(run.config.get("reward")),
        "policy": (run.config.get("policy") or {}).get("name_or_path"),
        "alarms": len(run.alarms),
    }


def pass_rates(run: RunFiles) -> dict[str, list[tuple[int, float]]]:
    """Each criterion's and check's pass rate per step: TRL's ``<reward>/<id>/pass_rate`` scalars."""
    keys = sorted({k for m in run.metrics.values() for k in m if k.endswith("/pass_rate")})
    return {k.removesuffix("/pass_rate").split("/", 1)[-1]: run.series(k) for k in keys}


def judge_totals(run: RunFiles) -> dict[str, float]:
    """The run's judge totals: ``judge_metrics.json`` when the run finished, else the running totals every process
    kept in ``judge_totals/`` (rlaif.runs.judge_totals), added up. Never TRL's logged ``judge/*`` summed: TRL
    averages those over its logging window and across processes, and their sum undercounts."""
    if run.judge_totals:
        return {k: v for k, v in run.judge_totals.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return combined(run.judge_running)


def config_differences(runs: Sequence[RunFiles]) -> list[tuple[str, list[str]]]:
    """The config keys whose values differ between runs (a sweep's axes), each run's value as text."""
    flat = [_flatten(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f})
    return [(k, [f.get(k, "-") for f in flat]) for k in keys if len({f.get(k, "-") for f in flat}) > 1]


def wall_time(run: RunFiles) -> float | None:
    """Seconds from the run's start (``run_info.json``) to the last file it wrote."""
    start = run.info.get("started_at")
    written = [p.stat().st_mtime for p in run.path.iterdir() if p.is_file() and p.name != REPORT_NAME]
    return max(written) - float(start) if isinstance(start, int | float) and written else None


def _prefixed(run: RunFiles, prefix: str, skip: Sequence[str] = ()) -> dict[str, list[tuple[int, float]]]:
    keys = sorted({k for m in run.metrics.values() for k in m if k.startswith(prefix) and k not in skip})
    return {k.removeprefix(prefix): run.series(k) for k in keys}


def _baseline(run: RunFiles) -> float | None:
    value = run.summary.get("baseline_reward", run.baseline.get("mean_reward"))
    return float(value) if isinstance(value, int | float) else None


def _price_of(config: Mapping[str, Any]) -> Mapping[str, float] | None:
    prices = (config.get("report") or {}).get("prices") or {}
    price = {k: v for k in ("input", "output") if isinstance(v := prices.get(f"{k}_per_million"), int | float)}
    return {k: float(v) for k, v in price.items()} if len(price) == 2 else None


def _cost(judge: Mapping[str, float], price: Mapping[str, float] | None) -> float | None:
    if price is None or "tokens_in" not in judge:
        return None
    return (judge["tokens_in"] * float(price["input"]) + judge.get("tokens_out", 0.0) * float(price["output"])) / 1e6


def _judge_name(config: Mapping[str, Any]) -> str | None:
    judge = config.get("judge") or {}
    return judge.get("model") or _target_name(judge) if isinstance(judge, Mapping) else None


def _target_name(block: Any) -> str | None:
    return str(block.get("_target_", "")).rpartition(".")[2] or None if isinstance(block, Mapping) else None


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): str(value)}
