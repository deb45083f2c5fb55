"""``python -m rlaif.report``: what the page shows, from run folders made up with every file a run writes."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest

from rlaif.report import main
from rlaif.reporting.run_files import read_run
from rlaif.reporting.run_report import report_at_end, write_report
from tests.reporting.synthetic_run import synthesise_run


def shown(page: str, testid: str) -> list[str]:
    """The text of every element with ``data-testid=testid``."""
    return [html.unescape(m) for m in re.findall(rf'data-testid="{testid}">([^<]*)<', page)]


def test_a_run_shows_the_summarys_rewards_every_step_and_the_best_and_worst_answers(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=30)
    page = write_report([run]).read_text()
    summary = json.loads((run / "run_summary.json").read_text())
    assert float(shown(page, "first-reward")[0]) == pytest.approx(summary["first_reward"], abs=5e-5)
    assert float(shown(page, "last-reward")[0]) == pytest.approx(summary["last_reward"], abs=5e-5)
    assert shown(page, "status") == ["finished"] and shown(page, "steps") == ["30"]
    # Per step one best and one worst answer, each the highest / lowest score of its step in rewards.jsonl.
    lines = [json.loads(x) for x in (run / "rewards.jsonl").read_text().splitlines()]
    best = re.findall(r'data-kind="best"', page)
    worst = re.findall(r'data-kind="worst"', page)
    assert len(best) == 30 and len(worst) == 30
    top = max((x for x in lines if x["step"] == 1 and x["score"] is not None), key=lambda x: x["score"])
    assert html.escape(top["completion"]) in page
    failed = [x for x in lines if x["error"]]
    assert len(re.findall(r'data-kind="failed"', page)) == len(failed) > 0
    assert "answers grew 3.1 sd" in page and shown(page, "alarms") == ["1"]  # the alarm, in words
    assert page.count("<svg") >= 6  # reward, pass rates, step split, latency, judge per step, monitor


def test_a_row_rubric_runs_answers_show_each_rows_items_not_item_ids_as_criteria(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=2)
    lines = [json.loads(x) for x in (run / "rewards.jsonl").read_text().splitlines()]
    for k, line in enumerate(lines):  # as reward=row_rubric writes them: each row its own items
        items = {
            "i0": {"text": f"Item for row {k}.", "points": 5.0, "met": 1.0, "reason": f"reason {k}"},
            "i1": {"text": "Says <b>six</b>.", "points": -2.0, "met": 0.0},
        }
        line.update(reward="row_rubric", verdicts=items, rationale={"i0": f"reason {k}", "i1": "P(met)=0.00"})
    (run / "rewards.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    page = write_report([run]).read_text()
    options = re.findall(r'<select class="criterion">(.*?)</select>', page)[0]
    assert "<option>i0</option>" not in options and "<option>check:on_topic</option>" in options
    shown_rows = [x for x in lines if x["score"] is not None and html.escape(x["completion"]) in page]
    assert shown_rows and len(re.findall(r'data-testid="row-items"', page)) == len(re.findall(r'data-kind="', page))
    for x in shown_rows:
        k = lines.index(x)
        assert f'met (P 1.00) · +5 · Item for row {k}. <span class="muted">— reason {k}</span>' in page
    assert "not met (P 0.00) · -2 pitfall · Says &lt;b&gt;six&lt;/b&gt;." in page  # escaped, marked a pitfall


def test_a_folder_from_before_trls_step_numbers_reads_as_one_written_with_them(tmp_path: Path) -> None:
    """A run folder written before every file used TRL's step numbers (its rewards, monitor, canaries and alarms
    lines counted from 0, and run_info.json has no step_numbering) reads as a folder of today: every step one
    more, the alarm at the step of TRL's log; python -m rlaif.monitor replays it by the same numbers."""
    from rlaif.monitoring.replay import replay, settings_for

    old = synthesise_run(tmp_path / "old", steps=6, old_numbering=True)
    new = synthesise_run(tmp_path / "new", steps=6)
    assert json.loads((old / "rewards.jsonl").read_text().splitlines()[0])["step"] == 0  # as it was written
    for run in (old, new):
        files = read_run(run)
        assert sorted({a["step"] for a in files.answers}) == [s for s, _, _ in files.reward_per_step()]
        assert [m["step"] for m in files.monitor] == list(range(1, 7)) == sorted(files.metrics)
        assert [a["step"] for a in files.alarms] == [4]
        assert "step 4 · monitor · <strong>answer_words</strong>" in write_report([run]).read_text()
        lines, _ = replay(run, settings_for(run, None, [])[0], {})
        assert [line["step"] for line in lines] == list(range(1, 7))


def test_answers_are_escaped_and_the_page_loads_nothing(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=3)
    lines = (run / "rewards.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first.update(completion='<script>alert("x")</script><img src="http://example.com/a.png">', score=1.0, error=None)
    (run / "rewards.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    page = write_report([run]).read_text()
    assert "&lt;script&gt;alert(" in page and '<img src="http' not in page
    # Self-contained: no external script, style, font or image (the one <script> is the inline filter).
    assert re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', page) == []
    assert page.count("<script") == 1


def test_a_tool_using_transcript_shows_its_calls_and_results_escaped(tmp_path: Path) -> None:
    """rewards.jsonl's completion as a list of messages (a tool-using run): one labelled line per turn, escaped."""
    run = synthesise_run(tmp_path / "run", steps=3)
    lines = (run / "rewards.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    call = {"type": "function", "function": {"name": "calculator", "arguments": {"expression": "17*23"}}}
    transcript = [
        {"role": "assistant", "content": "Let me compute.", "tool_calls": [call]},
        {"role": "tool", "name": "calculator", "content": "<script>alert(1)</script> 391"},
        {"role": "assistant", "content": "It is 391."},
    ]
    first.update(completion=transcript, score=1.0, error=None)
    (run / "rewards.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    page = write_report([run]).read_text()
    cells = [html.unescape(c) for c in re.findall(r'<td class="completion">(.*?)</td>', page, re.DOTALL)]
    assert (
        '[assistant] Let me compute.\n[tool call] calculator({"expression": "17*23"})\n'
        "[tool result] calculator: <script>alert(1)</script> 391\n[final answer] It is 391."
    ) in cells
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_a_failed_run_is_reported_from_what_it_left(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=5, failed=True)
    (run / "judge_metrics.json").unlink(missing_ok=True)
    with (run / "rewards.jsonl").open("a") as handle:
        handle.write('{"step": 5, "reward": "rubric_on_t')  # a line cut short by the crash
    page = write_report([run]).read_text()
    assert shown(page, "status") == ["failed"]
    assert "RuntimeError: the judge went away" in shown(page, "failed")[0]
    assert "1 line(s) of the run" in page
    # No judge_metrics.json: the totals are what each process kept in judge_totals/, added up (2 x 5 steps x 8
    # requests), not TRL's logged judge/requests summed (its mean over the processes, 8 a step: 40).
    assert re.search(r"<td>requests</td><td class=\"num\">80</td>", page)


def test_a_run_without_metrics_jsonl_takes_its_curve_from_the_newest_checkpoint(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=4)
    history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    (run / "metrics.jsonl").unlink()
    for step in (2, 4):
        (run / f"checkpoint-{step}").mkdir()
        state = {"log_history": history[:step]}
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(state))
    files = read_run(run)
    assert [s for s, _, _ in files.reward_per_step()] == [1, 2, 3, 4]
    assert files.reward_per_step()[-1][1] == history[-1]["reward"]


def test_several_runs_are_compared_on_one_page(tmp_path: Path) -> None:
    a = synthesise_run(tmp_path / "lr-1e-3", steps=6, seed=1)
    b = synthesise_run(tmp_path / "lr-1e-4", steps=9, seed=2)
    out = tmp_path / "sweep.html"
    assert main([str(a), str(b), f"out={out}"]) == 0
    page = out.read_text()
    assert "Runs compared" in page and page.count('class="run"') == 2
    # The sweep's axis: the config key whose values differ, each run's value in its column.
    assert re.search(r"<code>grpo.max_steps</code></td><td>6</td><td>9</td>", page)
    assert shown(page, "steps") == ["6", "9"]


def test_the_judges_cost_shows_when_priced(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=2)
    out = tmp_path / "priced.html"
    assert main([str(run), f"out={out}", "prices.input_per_million=3", "prices.output_per_million=15"]) == 0
    tokens_in = json.loads((run / "judge_metrics.json").read_text())["tokens_in"]
    assert f"{tokens_in * 3 / 1e6:.4f}" in out.read_text()
    unpriced = write_report([run], tmp_path / "unpriced.html").read_text()
    assert "not priced" in unpriced
    # The run's own config (report.prices in .hydra/config.yaml) prices it too.
    with (run / ".hydra" / "config.yaml").open("a") as handle:
        handle.write("report:\n  prices: {input_per_million: 1.0, output_per_million: 2.0}\n")
    assert f"{tokens_in * 1 / 1e6:.4f}" in write_report([run], tmp_path / "own.html").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{empty}"], "not a run folder"),
        (["{missing}"], "no such folder"),
        (["{run}", "prices.input_per_million=3"], "give both prices.input_per_million and prices.output"),
        (
            ["{run}", "prices.input_per_million=cheap", "prices.output_per_million=1"],
            "prices.input_per_million: expected a price per million tokens",
        ),
        (["{run}", "colour=blue"], "'colour=blue': expected a run folder"),
    ],
)
def test_bad_input_exits_2_naming_it_and_writes_nothing(
    tmp_path: Path, args: list[str], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    run = synthesise_run(tmp_path / "run", steps=2)
    paths = {"empty": tmp_path / "empty", "missing": tmp_path / "missing", "run": run}
    out = tmp_path / "out.html"
    assert main([a.format(**paths) for a in args] + [f"out={out}"]) == 2
    assert expected in caplog.text
    assert not out.exists() and not (run / "report.html").exists()


def test_the_end_of_a_run_writes_its_report_however_the_run_ends(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=2, failed=True)
    with pytest.raises(SystemExit), report_at_end(run, {"enabled": True}):
        raise SystemExit(1)  # what entry_point does after writing FAILED
    assert "the judge went away" in (run / "report.html").read_text()
    off = synthesise_run(tmp_path / "off", steps=2)
    with report_at_end(off, {"enabled": False}):
        pass
    assert not (off / "report.html").exists()


def test_a_report_that_cannot_be_written_is_a_warning_not_the_runs_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with report_at_end(tmp_path / "nothing-here", None):
        pass  # the run's own outcome stands
    assert "the run report could not be written" in caplog.text


def test_500_steps_fit_the_size_bound(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=500)
    page = write_report([run])
    assert page.stat().st_size <= 20_000_000  # the bound for a 500-step run
    text = page.read_text()
    assert len(re.findall(r'data-kind="(?:best|worst)"', text)) == 1000
    assert not math.isnan(float(shown(text, "last-reward")[0]))


def test_trls_end_of_training_log_on_the_last_step_does_not_hide_its_reward(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=3)
    with (run / "metrics.jsonl").open("a") as handle:  # what TRL logs after the last step, under its number
        handle.write(json.dumps({"step": 3, "train_runtime": 40.2, "train_loss": 0.0}) + "\n")
    summary = json.loads((run / "run_summary.json").read_text())
    assert float(shown(write_report([run]).read_text(), "last-reward")[0]) == round(summary["last_reward"], 4)


def test_a_multirun_gets_one_page_comparing_its_jobs_in_job_order(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from rlaif.reporting.run_report import SweepReport

    sweep = tmp_path / "multirun"
    for job in (0, 1, 10, 2):
        synthesise_run(sweep / str(job), steps=3 + job, seed=job)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")  # Hydra's own file beside the jobs
    (sweep / ".submitit").mkdir()  # not a run: left out
    SweepReport().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    page = (sweep / "report.html").read_text()
    assert shown(page, "steps") == ["3", "4", "5", "13"]  # jobs 0, 1, 2, 10: Hydra's order, not the text order


def test_a_damaged_saved_config_leaves_the_config_section_empty_not_the_report_unwritten(tmp_path: Path) -> None:
    run = synthesise_run(tmp_path / "run", steps=2)
    (run / ".hydra" / "config.yaml").write_text("grpo: {max_steps: 2, note: why?}\n  bad: [")
    page = write_report([run]).read_text()
    assert "no saved config" in page and shown(page, "status") == ["finished"]
