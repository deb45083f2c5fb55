"""The report as a person sees it: headless Chromium opens it, nothing fails to load, the filter works.
(The default smoke run's own report is opened in tests/test_train.py, on the real run.)"""

from __future__ import annotations

import json
from pathlib import Path

from rlaif.reporting.run_report import write_report
from tests.browser import open_page
from tests.reporting.synthetic_run import synthesise_run


def test_a_500_step_report_opens_and_its_filter_finds_answers_by_criterion_verdict_and_text(
    chromium: str, tmp_path: Path
) -> None:
    run = synthesise_run(tmp_path / "run", steps=500)
    report = write_report([run])
    summary = json.loads((run / "run_summary.json").read_text())
    # The bound: the page loads (2 MB of answers and 7 charts) within 60 s, or the test fails.
    with open_page(chromium, report, timeout_ms=60_000) as (page, problems):
        assert float(page.inner_text("[data-testid=last-reward]")) == round(summary["last_reward"], 4)
        rows = page.locator("table.answers tbody tr")
        total = rows.count()
        assert total == 1000 + len([x for x in (run / "rewards.jsonl").read_text().splitlines() if '"error": "' in x])

        page.select_option("select.criterion", "polite")
        page.select_option("select.verdict", "false")
        visible = rows.evaluate_all("rs => rs.filter(r => !r.hidden).map(r => r.dataset.verdicts)")
        failing = [json.loads(v) for v in visible]
        assert 0 < len(failing) < total and all(v["polite"] is False for v in failing)
        assert page.inner_text(".shown") == str(len(failing))

        page.select_option("select.criterion", "")
        page.select_option("select.verdict", "")
        page.select_option("select.kind", "failed")
        errors = rows.evaluate_all("rs => rs.filter(r => !r.hidden).map(r => r.innerText)")
        assert errors and all("off-menu reply" in text for text in errors)

        page.select_option("select.kind", "")
        word = "towel"
        page.fill("input.text", word)
        found = rows.evaluate_all("rs => rs.filter(r => !r.hidden).map(r => r.innerText.toLowerCase())")
        assert 0 < len(found) < total and all(word in text for text in found)
        page.screenshot(path=str(tmp_path / "report.png"))
    assert problems == []


def test_a_comparison_of_two_runs_opens_without_errors(chromium: str, tmp_path: Path) -> None:
    runs = [synthesise_run(tmp_path / f"run{k}", steps=20, seed=k) for k in (1, 2)]
    report = write_report(runs, tmp_path / "compare.html")
    with open_page(chromium, report) as (page, problems):
        assert page.locator("details.run").count() == 2
        page.click("details#run-2 > summary")  # a collapsed run opens on a click
        assert page.locator("details#run-2 table.answers").is_visible()
    assert problems == []
