"""``python -m rlaif.monitor RUN_DIR`` on recorded run folders: exit 4 with the alarm printed on a hacked run, 0 on a
healthy one, 2 on a folder that is not a run or a bad setting, 1 on a crash (told apart from an alarm); old folders
(rewards.jsonl only) work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlaif.monitor import main
from rlaif.monitoring.settings import DEFAULTS, monitor_settings
from tests.monitoring.recorded_runs import write_run


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rlaif.monitor", *args], capture_output=True, text=True, timeout=120)


def test_a_hacked_run_exits_4_naming_the_signal_the_step_and_the_numbers(tmp_path: Path) -> None:
    # An old folder: no monitor.jsonl, no .hydra, and its steps counted from 0 (no step_numbering in run_info.json):
    # replayed by TRL's numbers, as a folder of today (its steps one more, and marked) is.
    run = write_run(tmp_path / "e6_like", hacked=True)
    today = tmp_path / "today"
    today.mkdir()
    rows = [json.loads(x) for x in (run / "rewards.jsonl").read_text().splitlines()]
    (today / "rewards.jsonl").write_text("".join(json.dumps({**r, "step": r["step"] + 1}) + "\n" for r in rows))
    (today / "run_info.json").write_text(json.dumps({"step_numbering": "trl"}))
    for folder in (run, today):
        result = _cli(str(folder))
        assert result.returncode == 4, result.stdout + result.stderr
        alarm = [line for line in result.stdout.splitlines() if line.startswith("monitor alarm at step 8: on_topic")]
        assert alarm and "the reward rose" in alarm[0] and "on_topic fell" in alarm[0] and "over steps 1-8" in alarm[0]
        assert "24 steps" in result.stdout and not (folder / "alarms.jsonl").exists()  # a replay writes nothing


def test_a_crash_exits_1_with_its_traceback_not_4_as_an_alarm_does(tmp_path: Path) -> None:
    run = write_run(tmp_path / "e6_like", hacked=True)  # it has an alarm; a line rlaif cannot read makes it crash
    lines = (run / "rewards.jsonl").read_text().splitlines()
    lines[3] = json.dumps({**json.loads(lines[3]), "score": "high"})
    (run / "rewards.jsonl").write_text("\n".join(lines) + "\n")
    result = _cli(str(run))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" in result.stderr and "TypeError" in result.stderr and "alarm" not in result.stdout
    help_text = _cli("--help").stdout
    assert "0 no alarm, 4 at least one alarm, 2 bad input" in help_text and "1 a crash" in help_text


def test_a_healthy_run_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(write_run(tmp_path / "ok", hacked=False))]) == 0
    assert "no alarm" in capsys.readouterr().out


def test_a_folder_that_is_not_a_run_exits_2_naming_it(tmp_path: Path) -> None:
    result = _cli(str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}: not a run folder (no rewards.jsonl)" in result.stderr


def test_the_runs_own_saved_settings_are_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = write_run(tmp_path / "run", hacked=True, hydra={"monitor": {"z": 50.0, "signal_z": 50.0}})
    assert main([str(strict)]) == 0 and "reward z >= 50.0" in capsys.readouterr().out
    assert main([str(strict), "z=2", "signal_z=2"]) == 4  # KEY=VALUE overrides the run's settings


def test_a_rubric_asking_for_length_is_read_from_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rubric = {"criteria": [{"id": "concise", "question": "Is the answer long?"}]}
    main([str(write_run(tmp_path / "run", hacked=False, hydra={"rubric": rubric}))])
    assert "answer_words (collapse is wrong)" in capsys.readouterr().out


def test_a_config_file_replaces_the_settings(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("window: 8\nmin_steps: 20\n")
    run = write_run(tmp_path / "run", hacked=True)
    assert main([str(run), "--config", str(config)]) == 2  # min_steps > window: a bad setting
    config.write_text("window: 30\nmin_steps: 30\n")
    assert main([str(run), "--config", str(config)]) == 0  # 24 steps never reach min_steps


def test_a_crash_cut_last_line_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", hacked=True)
    with (run / "rewards.jsonl").open("a") as f:
        f.write('{"step": 24, "prompt": "Why is')
    assert main([str(run)]) == 4


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("window=2", "monitor.window: input should be greater than or equal to 4, got 2"),
        ("min_steps=abc", "monitor.min_steps: input should be a valid integer, got 'abc'"),
        ("z=-1", "monitor.z: input should be greater than or equal to 0, got -1"),
        ("signal_z=high", "monitor.signal_z: input should be a valid number, got 'high'"),
        ("collapse_ratio=1.5", "monitor.collapse_ratio: input should be less than or equal to 1, got 1.5"),
        ("min_change=-0.1", "monitor.min_change: input should be greater than or equal to 0, got -0.1"),
        ("judge_sample=-1", "monitor.judge_sample: input should be greater than or equal to 0, got -1"),
        (
            "judge_sample=4",
            "monitor.judge_sample: 4 answers a step need a second judge, and monitor.second_opinion.judge is null",
        ),
        ("min_agreement=2", "monitor.min_agreement: input should be less than or equal to 1, got 2"),
        ("judge=vllm", "monitor.judge: input should be a valid dictionary, got 'vllm'"),
        # The same keys under their new names (docs/judging.md, "Second opinions"), and an old and a new key at once.
        ("second_opinion.sample=-1", "monitor.second_opinion.sample: input should be greater than or equal to 0"),
        ("second_opinion.min_agreement=2", "monitor.second_opinion.min_agreement: input should be less than or equal"),
        ("second_opinion.smaple=4", "monitor.second_opinion.smaple: extra inputs are not permitted, got 4"),
        (
            "min_agreement=0.3 second_opinion.min_agreement=0.5",
            "monitor.min_agreement (0.3) and monitor.second_opinion.min_agreement (0.5) are both set, to different",
        ),
        ("on_alarm=panic", "monitor.on_alarm: input should be 'warn' or 'stop', got 'panic'"),
        ("enabled=maybe", "monitor.enabled: input should be a valid boolean, got 'maybe'"),
        (
            "length_in_rubric=sometimes",
            "monitor.length_in_rubric: input should be 'auto' or input should be a valid boolean, got 'sometimes'",
        ),
        ("windw=8", "monitor.windw: extra inputs are not permitted, got 8"),
        ("window", "'window': expected KEY=VALUE"),
    ],
)
def test_each_bad_setting_exits_2_naming_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, override: str, named: str
) -> None:
    run = write_run(tmp_path / "run", steps=4, hacked=False)
    assert main([str(run), *override.split()]) == 2
    assert named in caplog.text


def test_the_shipped_config_file_is_the_default() -> None:
    from omegaconf import OmegaConf

    from rlaif.conf import __file__ as conf_init

    shipped = OmegaConf.to_container(OmegaConf.load(Path(conf_init).parent / "monitor" / "default.yaml"))
    assert isinstance(shipped, dict)
    settings = monitor_settings({str(k): v for k, v in shipped.items()})
    assert settings.rule.window == 16 and settings.rule.z == 2.0 and settings.on_alarm == "warn"
    assert sorted(shipped) == sorted(DEFAULTS)
    assert shipped["second_opinion"] == DEFAULTS["second_opinion"]


def test_the_runs_reference_answers_are_read_from_its_data(tmp_path: Path) -> None:
    """The on-topic rule accepts "Tokyo." by the row's reference, as the gate did during the run; without the
    run's data (an old folder without .hydra) it is measured on the question alone."""
    from rlaif.monitoring.replay import references, replay

    data = tmp_path / "train.jsonl"
    row = {"id": "q1", "messages": [{"role": "user", "content": "What is the capital of Japan?"}]}
    data.write_text(json.dumps({**row, "reference_answer": "Tokyo is the capital."}) + "\n")
    run = tmp_path / "run"
    run.mkdir()
    line = {"step": 0, "prompt_id": "q1", "prompt": "What is the capital of Japan?", "completion": "Tokyo.", "score": 1}
    (run / "rewards.jsonl").write_text(json.dumps(line) + "\n")
    settings = monitor_settings(None)
    with_data = replay(run, settings, references({"path": str(data)}))[0]
    assert with_data[0]["on_topic"] == 1.0
    assert replay(run, settings, references(None))[0][0]["on_topic"] == 0.0
    assert references({"path": str(tmp_path / "gone.jsonl")}) == {}  # data moved away: a warning, no references


def test_a_reference_in_rewards_jsonl_is_used_without_the_data(tmp_path: Path) -> None:
    """Runs since the reward logs each row's reference replay exactly, even when the data file has moved."""
    from rlaif.monitoring.replay import replay
    from rlaif.rewards.checks import CheckReward, NonEmpty

    run = tmp_path / "run"
    run.mkdir()
    reward = CheckReward(checks=[NonEmpty()], log_path=str(run / "rewards.jsonl"))
    reward(["What is the capital of Japan?"], ["Tokyo."], reference_answer=["Tokyo is the capital."], id=["q1"])
    line = json.loads((run / "rewards.jsonl").read_text())
    assert line["reference"] == "Tokyo is the capital."
    assert replay(run, monitor_settings(None), {})[0][0]["on_topic"] == 1.0
