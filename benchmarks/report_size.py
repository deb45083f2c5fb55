"""What a run report weighs and how long it takes to write: a real run folder and a synthesised long run.

    python benchmarks/report_size.py outputs/2026-12-03/17-00-00          # a run of yours, and 500 made-up steps
    python benchmarks/report_size.py --steps 500 2000 --repeats 5           # made-up runs only

Each report is written ``--repeats`` times in one process (the first pays the imports: matplotlib, Jinja2);
the table gives its size and the min / median / max seconds of the later writes. The made-up runs have every file
a training run writes, shaped like the default experiment's (tests/reporting/synthetic_run.py): 8 answers of
about 30 words a step, two criteria, two checks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the synthesiser lives with the tests

from rlaif.reporting.run_report import write_report
from tests.reporting.synthetic_run import synthesise_run


def measure(run: Path, out: Path, repeats: int) -> tuple[int, list[float]]:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        write_report([run], out)
        times.append(time.perf_counter() - start)
    return out.stat().st_size, times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders to report on")
    parser.add_argument("--steps", nargs="*", type=int, default=[500], help="made-up runs of these many steps")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(str(r), r) for r in args.runs]
        cases += [(f"made-up, {n} steps", synthesise_run(Path(tmp) / f"steps{n}", steps=n)) for n in args.steps]
        print("| run | report MB | write s: min / median / max |")
        print("|---|---|---|")
        for label, run in cases:
            size, times = measure(run, Path(tmp) / "report.html", args.repeats)
            spread = f"{min(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f}"
            print(f"| {label} | {size / 1e6:.2f} | {spread} |")


if __name__ == "__main__":
    main()
