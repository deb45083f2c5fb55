"""``python -m rlaif.step_timing RUN_DIR...``: the step split (generation, judge, guards, optimisation) of
finished runs, as a markdown table read from each run's ``run_summary.json``."""

from __future__ import annotations

import sys
from pathlib import Path

from rlaif.runs.step_timing import table


def main(argv: list[str] | None = None) -> None:
    print(table([Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    main()
