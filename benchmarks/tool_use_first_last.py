"""A tool-use run's first steps against its last: tool-call rate and reward, with a z and a Welch t.

    python benchmarks/tool_use_first_last.py RUN_DIR [--steps 8]

Reads the run folder that ``python -m rlaif.train experiment=tool_use`` wrote: ``rewards.jsonl`` (one line per
completion: its score and, with tool turns, its messages) and ``metrics.jsonl`` (TRL's ``tools/*``, rlaif's
``tools/errors`` and ``environment_reward``, per step). Per completion: the share that called a tool at least once
(a two-proportion z, Wilson intervals) and the reward the judge's rubric gave (Welch's t). Per step: TRL's logged
reward (judge + environment; Welch's t over the steps). The first ``--steps`` steps against the last ``--steps``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scipy import stats as scipy_stats

from rlaif.evaluation.stats import wilson_interval


def called(completion: Any) -> bool:
    return isinstance(completion, list) and any(isinstance(m, dict) and m.get("tool_calls") for m in completion)


def two_proportion_z(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    pooled = (sum(a) + sum(b)) / (len(a) + len(b))
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    return None if se == 0 else (sum(b) / len(b) - sum(a) / len(a)) / se


def welch(a: Sequence[float], b: Sequence[float]) -> str:
    result = scipy_stats.ttest_ind(b, a, equal_var=False)
    return f"t = {result.statistic:.2f}, p = {result.pvalue:.3f}"


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    lines = [
        json.loads(x) for x in (args.run_dir / "rewards.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()
    ]
    metrics = [
        json.loads(x) for x in (args.run_dir / "metrics.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()
    ]
    metrics = [m for m in metrics if "reward" in m]
    last_step = max(line["step"] for line in lines)
    first = [x for x in lines if x["step"] <= args.steps]
    last = [x for x in lines if x["step"] > last_step - args.steps]
    print(f"run {args.run_dir}: {last_step} steps, {len(lines)} completions; first {args.steps} vs last {args.steps}")
    for name, part in (("first", first), ("last", last)):
        calls = [called(x["completion"]) for x in part]
        low, high = wilson_interval(sum(calls), len(calls))
        scores = [x["score"] for x in part if x["score"] is not None]
        print(
            f"  {name}: tool-call rate {sum(calls)}/{len(calls)} = {mean(calls):.3f} [{low:.3f}, {high:.3f}], "
            f"judge reward {mean(scores):.3f} (n={len(scores)}, {len(part) - len(scores)} judge failures)"
        )
    z = two_proportion_z([called(x["completion"]) for x in first], [called(x["completion"]) for x in last])
    print(f"  tool-call rate, last - first: z = {'n/a (no calls)' if z is None else f'{z:.2f}'}")
    a = [x["score"] for x in first if x["score"] is not None]
    b = [x["score"] for x in last if x["score"] is not None]
    print(f"  judge reward per completion, last - first: {mean(b) - mean(a):+.3f}, Welch {welch(a, b)}")
    head, tail = metrics[: args.steps], metrics[-args.steps :]
    for key in ("reward", "environment_reward", "tools/call_frequency", "tools/failure_frequency", "tools/errors"):
        x = [float(m[key]) for m in head if m.get(key) is not None]
        y = [float(m[key]) for m in tail if m.get(key) is not None]
        if x and y:
            extra = f", Welch {welch(x, y)}" if key in ("reward", "environment_reward") else ""
            print(f"  per step {key}: first {mean(x):.3f}, last {mean(y):.3f}{extra}")


if __name__ == "__main__":
    main()
