"""A bad monitor setting stops ``python -m rlaif.train`` before anything loads: exit 2 naming the key, nothing left."""

from __future__ import annotations

from pathlib import Path

try:
    from tests._entry_point import run_train
except ImportError:
    from _entry_point import run_train  # type: ignore[no-redef]


def test_a_bad_monitor_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train("monitor.on_alarm=panic", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "monitor.on_alarm: input should be 'warn' or 'stop', got 'panic'" in output
    assert not run_dir.exists()
