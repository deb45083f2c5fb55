"""``python -m rlaif.monitor RUN_DIR``: the hacking alarm's rule on a finished or crashed run.

Reads the run's ``rewards.jsonl``, measures every step with the monitor's signals and runs its alarm rule, the
same code as during training (docs/monitoring.md). Settings: the run's own (``.hydra/config.yaml``), else the
defaults; ``--config FILE`` (a monitor YAML such as rlaif/conf/monitor/default.yaml) and ``KEY=VALUE``
overrides (``window=12``) replace them. Prints each alarm.

Exit codes (rlaif.errors): 0 no alarm, 4 at least one alarm, 2 bad input (a folder that is not a run, a bad
setting), 1 a crash (its traceback on stderr; the command writes nothing).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rlaif.errors import EXIT_ALARM_FOUND, EXIT_BAD_INPUT, InputError
from rlaif.monitoring.replay import plain_dict, references, replay, settings_for

log = logging.getLogger("rlaif.monitor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rlaif.monitor",
        description=__doc__.split("\n\n")[1],
        epilog=__doc__.split("\n\n")[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="a run folder (with rewards.jsonl)")
    parser.add_argument("overrides", nargs="*", help="monitor settings, KEY=VALUE (window=12 z=2.5 ...)")
    parser.add_argument("--config", type=Path, help="a monitor YAML replacing the run's own settings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings, saved = settings_for(args.run_dir, args.config, args.overrides)
        lines, alarms = replay(args.run_dir, settings, references(plain_dict(saved.get("data"))))
    except InputError as exc:
        log.error("rlaif: %s", exc)
        return EXIT_BAD_INPUT
    rule = settings.rule
    print(
        f"{args.run_dir}: {len(lines)} steps; rule: window {rule.window}, from step {rule.min_steps}, reward z >= "
        f"{rule.z}, signal z >= {rule.signal_z} and a move >= {rule.min_change:g}, collapse < "
        f"{rule.collapse_ratio:.2f} of the start"
    )
    if lines:
        first, last = lines[0], lines[-1]
        for name, wrong in rule.wrong_way.items():
            print(
                f"  {name} ({wrong} is wrong): step {first['step']} {_num(first.get(name))} -> step {last['step']} "
                f"{_num(last.get(name))}, last window z {_num(last['z'].get(name))}"
            )
        print(f"  reward: {_num(first['reward'])} -> {_num(last['reward'])}, last window z {_num(last['reward_z'])}")
    for alarm in alarms:
        print(alarm.line())
    print(f"{len(alarms)} alarm(s)" if alarms else "no alarm")
    return EXIT_ALARM_FOUND if alarms else 0


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
