"""The run report's charts: matplotlib figures as inline SVG text (no script, no network, a few kB each).

Each function takes plain (step, value) series and returns ``<svg ...>`` markup, or "" when there is nothing
to draw. Text stays text in the SVG (``svg.fonttype: none``): the browser renders it and a search finds it.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

Series = Sequence[tuple[int, float]]
_COUNTER = itertools.count()


def reward_chart(runs: Mapping[str, Sequence[tuple[int, float, float]]], baselines: Mapping[str, float | None]) -> str:
    """Mean reward per step with its spread (± one std across the step's answers), each run's base policy as a
    dotted line; several runs overlaid."""
    if not any(runs.values()):
        return ""
    fig, ax = _figure()
    for (name, rows), colour in zip(runs.items(), _colours(), strict=False):
        if not rows:
            continue
        steps = [s for s, _, _ in rows]
        means = [m for _, m, _ in rows]
        ax.plot(steps, means, color=colour, marker="o" if len(rows) < 60 else None, markersize=3, label=name)
        ax.fill_between(
            steps, [m - sd for _, m, sd in rows], [m + sd for _, m, sd in rows], color=colour, alpha=0.15, linewidth=0
        )
        if (base := baselines.get(name)) is not None:
            ax.axhline(base, color=colour, linewidth=0.9, linestyle=":", label=f"{name}: base policy")
    return _finish(fig, ax, "reward (mean ± std)", legend=True)


def lines_chart(series: Mapping[str, Series], ylabel: str, ylim: tuple[float, float] | None = None) -> str:
    """One line per named series over steps (pass rates, latency, monitor signals)."""
    if not any(series.values()):
        return ""
    fig, ax = _figure()
    for (name, points), colour in zip(series.items(), _colours(), strict=False):
        if points:
            ax.plot([s for s, _ in points], [v for _, v in points], color=colour, label=name, linewidth=1.2)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if len(series) == 1:  # no legend for one line: its name goes on the axis
        ylabel = f"{ylabel}: {next(iter(series))}"
    return _finish(fig, ax, ylabel, legend=len(series) > 1)


def step_split_chart(rows: Sequence[Mapping[str, float]]) -> str:
    """Seconds per step, stacked: generation, judge, guards (monitor and canaries), optimisation."""
    if not rows:
        return ""
    fig, ax = _figure()
    steps = [int(r.get("step", i + 1)) for i, r in enumerate(rows)]
    parts = ("generation_s", "judge_s", "guard_s", "optimisation_s")
    values = [[float(r.get(key, 0.0)) for r in rows] for key in parts]
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
    labels = [key[:-2] for key in parts]
    if len(rows) > 60:  # areas, not bars: thousands of bars make a slow, heavy SVG and show nothing more
        ax.stackplot(steps, values, colors=colours, labels=labels, linewidth=0)
    else:
        bottom = [0.0] * len(rows)
        for part, colour, label in zip(values, colours, labels, strict=True):
            ax.bar(steps, part, bottom=bottom, color=colour, width=0.8, label=label)
            bottom = [b + v for b, v in zip(bottom, part, strict=True)]
    return _finish(fig, ax, "seconds per step", legend=True)


def _figure() -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display

    fig = Figure(figsize=(7.2, 2.8))
    ax = fig.subplots()
    ax.grid(alpha=0.3)
    ax.set_xlabel("step")
    return fig, ax


def _finish(fig: Any, ax: Any, ylabel: str, legend: bool) -> str:
    import matplotlib

    ax.set_ylabel(ylabel, fontsize=8)
    if legend:
        ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    buffer = io.StringIO()
    # A salt per chart: matplotlib derives its SVG ids from it, and two charts on one page must not share ids.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"rlaif-{next(_COUNTER)}"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # the markup alone: the XML prolog and DOCTYPE are not allowed inline


def _colours() -> Any:
    return itertools.cycle(["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"])
