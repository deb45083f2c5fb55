"""Where a default CPU training step's time goes, side by side in one run: generation, judge, optimisation.

    RLAIF_VLLM_PYTHON=.venv-vllm/bin/python python benchmarks/step_split.py [--steps 6]     # ~5 minutes

Three short runs of the default experiment through ``python -m rlaif.train`` (same seed and prompts):

- ``local-no-prefix-sharing``: the in-process judge computing every request whole (``judge.share_prefix=false``);
- ``local`` (the default): requests sharing a prefix have it computed once;
- ``vllm``: the judge on a vLLM server on loopback, one core for the server and one thread for the trainer
  (two CPU-heavy processes on 2 cores slow each other badly when both use every core).

Each run's ``step_timing.jsonl`` gives median seconds per step (first step left out); the table is
``python -m rlaif.step_timing``'s. The judge's share of the step is the figure to watch (target: <= 15%).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rlaif.data.models import packaged_model_dir
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.runs.step_timing import table


def train(run_dir: Path, steps: int, *overrides: str, env: dict[str, str] | None = None) -> Path:
    command = [sys.executable, "-m", "rlaif.train", f"grpo.max_steps={steps}", "grpo.save_strategy=no"]
    command += ["baseline.enabled=false", "grpo.report_to=[]", f"hydra.run.dir={run_dir}", *overrides]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"{run_dir.name} failed:\n{result.stderr[-3000:]}")
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(tempfile.mkdtemp(prefix="rlaif-step-split-"))
    runs = [
        train(out / "local-no-prefix-sharing", args.steps, "judge.share_prefix=false"),
        train(out / "local", args.steps),
    ]
    python = os.environ.get("RLAIF_VLLM_PYTHON")
    if python:
        with VLLMServer(str(packaged_model_dir()), python=python, cpu_threads=1) as server:
            vllm = ("judge=vllm", f"judge.base_url={server.base_url}")
            runs.append(train(out / "vllm", args.steps, *vllm, env={"OMP_NUM_THREADS": "1"}))
    else:
        print("(no RLAIF_VLLM_PYTHON: the vllm run is skipped)")
    print(table(runs))
    print(f"\n{os.cpu_count()} CPUs; {args.steps} steps per run, the first left out; run folders in {out}")


if __name__ == "__main__":
    main()
