"""``python -m rlaif.report RUN_DIR [RUN_DIR ...] [out=PATH]``: a run folder (or several) as one HTML page.

The reward per step with its spread and the base policy, each criterion's pass rate, where each step's time
went, the judge's numbers, the monitor's signals, alarms and canaries, the best and worst answers of every step
with their verdicts and rationales (filter by criterion, verdict and text), the config as run, versions and
machine. Every run writes its own ``report.html`` when it ends, finished or not; this command writes it again,
or compares several runs (a sweep: ``python -m rlaif.report multirun/2026-12-03/10-00-00/*``). The page loads
nothing: it opens offline. ``price.input=3 price.output=15``: USD per million judge tokens, for the cost.
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
    """``out=PATH`` and ``price.input=N price.output=N`` from the KEY=VALUE arguments."""
    out: Path | None = None
    price: dict[str, float] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "out" and value:
            out = Path(value)
        elif key in ("price.input", "price.output"):
            try:
                price[key.removeprefix("price.")] = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected USD per million tokens (a number), got {value!r}") from None
        else:
            raise ConfigError(f"{option!r}: expected a run folder, out=PATH, price.input=N or price.output=N")
    if price and set(price) != {"input", "output"}:
        raise ConfigError("price: give both price.input and price.output (USD per million tokens)")
    return out, price or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlaif.report", description=__doc__.split("\n\n")[1])
    parser.add_argument("args", nargs="+", help="run folders, then out=PATH and price.input=N price.output=N")
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
