"""``python -m rlaif.report RUN_DIR [RUN_DIR ...] [out=PATH]``: a run folder (or several) as one HTML page.

The reward per step with its spread and the base policy, each criterion's pass rate, where each step's time
went, the judge's numbers, the monitor's signals, alarms and canaries, the best and worst answers of every step
with their verdicts and rationales (filter by criterion, verdict and text), the config as run, versions and
machine. Every run writes its own ``report.html`` when it ends, finished or not; this command writes it again,
or compares several runs (a sweep: ``python -m rlaif.report multirun/2026-12-03/10-00-00/*``). The page loads
nothing: it opens offline. ``prices.input_per_million=3 prices.output_per_million=15``: the judge's price per
million tokens (as in judge_eval), for the cost.
Exit codes: 0 written, 2 bad input (a folder that is not a run, a bad option; nothing written).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rlaif.errors import ConfigError, InputError
from rlaif.reporting.run_report import write_report

log = logging.getLogger("rlaif.report")

EXIT_BAD_INPUT = 2


def parse_options(options: list[str]) -> tuple[Path | None, dict[str, float] | None]:
    """``out=PATH`` and ``prices.input_per_million=N prices.output_per_million=N`` from the KEY=VALUE arguments."""
    out: Path | None = None
    price: dict[str, float] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "out" and value:
            out = Path(value)
        elif key in ("prices.input_per_million", "prices.output_per_million"):
            try:
                price[key.removeprefix("prices.").removesuffix("_per_million")] = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a price per million tokens (a number), got {value!r}") from None
        else:
            raise ConfigError(f"{option!r}: expected a run folder, out=PATH or prices.{{input,output}}_per_million=N")
    if price and set(price) != {"input", "output"}:
        raise ConfigError("prices: give both prices.input_per_million and prices.output_per_million")
    return out, price or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlaif.report", description=__doc__.split("\n\n")[1])
    parser.add_argument("args", nargs="+", help="run folders, then out=PATH, prices.input_per_million=N ...")
    arguments = parser.parse_args(argv).args
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folders = [Path(a) for a in arguments if "=" not in a]
    try:
        out, price = parse_options([a for a in arguments if "=" in a])
        if not folders:
            raise ConfigError("no run folder given")
        path = write_report(folders, out, price)
    except InputError as exc:
        log.error("rlaif.report: %s", exc)
        return EXIT_BAD_INPUT
    log.info("report: %s (%d kB); open it in a browser: file://%s", path, path.stat().st_size // 1024, path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
