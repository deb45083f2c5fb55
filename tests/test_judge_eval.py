"""``rlaif.judge_eval``: the numbers with scripted judges (exact, fast), and the real entry point with the
packaged local judge (files, exit codes 0 / 2 / 3)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import EXIT_THRESHOLDS_FAILED, ConfigError, DataError
from rlaif.evaluation.judge_eval_outputs import terminal_summary
from rlaif.evaluation.judge_eval_run import run_judge_eval
from rlaif.evaluation.judge_eval_settings import DEFAULT_THRESHOLDS, EvalSettings
from rlaif.evaluation.labelled_sets import load_labelled
from rlaif.evaluation.second_opinion import agreement_with
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward
from tests import _forkserver as forked
from tests.judges._flaky_server import FlakyServer
from tests.rewards.scripted import a_or_b, fail, fenced, scripted_judge, yes_no

RUBRIC = {
    "name": "everyday",
    "criteria": [
        {"id": "answers_question", "question": "The answer responds to the question.", "weight": 2.0},
        {"id": "polite", "question": "The answer is polite."},
    ],
}
SPEC = {"instruction": "The better answer is correct and polite."}
NO_EXTRAS = {"audit": {"enabled": False}, "repeats": {"k": 1}, "bootstrap": {"resamples": 200}}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def point(i: int, response: str, label: str, criterion: str | None = None, kind: str = "k") -> dict[str, Any]:
    return {"id": f"p{i}", "prompt": f"Question {i}?", "response": response, "label": label, "criterion": criterion,
            "reference": None, "kind": kind}  # fmt: skip


# Six items: the judge below passes exactly the answers that say GOOD, so it is wrong on p4 and p5 only.
POINTS = [
    point(0, "GOOD answer", "pass", None, "plain"),
    point(1, "bad answer", "fail", None, "plain"),
    point(2, "GOOD and kind", "pass", "polite", "rude"),
    point(3, "rude answer", "fail", "polite", "rude"),
    point(4, "GOOD but off topic", "fail", "answers_question", "tricky"),
    point(5, "terse but right", "pass", "answers_question", "tricky"),
]


def says_good(request: JudgeRequest) -> TransportResult:
    return yes_no(0.9 if "GOOD" in fenced(request) else 0.2)


def rubric_reward(script: Any = says_good) -> RubricReward:
    return RubricReward(scripted_judge(script)[0], RUBRIC)


def evaluate(tmp_path: Path, rows: list[Any], reward: Any, **settings: Any) -> Any:
    """``thresholds=`` given: exactly those limits, the defaults off (each test checks one limit)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    labelled = write_jsonl(tmp_path / "set.jsonl", rows)
    if "thresholds" in settings:
        settings["thresholds"] = {**dict.fromkeys(DEFAULT_THRESHOLDS), **settings["thresholds"]}
    result = run_judge_eval({"labelled": str(labelled), **NO_EXTRAS, **settings}, reward, tmp_path / "out")
    reward.judge.close()
    return result


def items(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]


def test_pointwise_numbers_breakdowns_and_files(tmp_path: Path) -> None:
    result = evaluate(tmp_path, POINTS, rubric_reward(), thresholds={"min_agreement": 0.6})
    s = result.summary
    assert s["n"] == 6 and s["parse_failure_rate"] == 0.0 and s["soft_scores"] is True
    assert s["agreement"] == pytest.approx(4 / 6)
    # labels P P P F F F vs predictions P F P F P F (p0..p5 reordered): po = 4/6, pe = 1/2 -> kappa = 1/3.
    assert s["kappa"] == pytest.approx(1 / 3)
    assert s["auc"] is not None and 0.0 <= s["auc"] <= 1.0
    lo, hi = s["agreement_ci"]
    assert lo <= s["agreement"] <= hi
    assert s["breakdowns"]["kind"]["tricky"]["agreement"] == 0.0
    assert s["breakdowns"]["kind"]["plain"]["agreement"] == 1.0
    assert set(s["breakdowns"]["criterion"]) == {"(whole rubric)", "polite", "answers_question"}
    assert result.passed and s["thresholds"]["min_agreement"]["passed"] is True

    lines = items(result.out_dir)
    assert [line["id"] for line in lines] == [r["id"] for r in POINTS]
    # A criterion row is scored by that criterion's P(pass); a whole-rubric row by the weighted score.
    assert lines[2]["score"] == pytest.approx(0.9) and lines[1]["score"] == pytest.approx(0.2)
    assert [line["correct"] for line in lines] == [True, True, True, True, False, False]
    for name in ("report.md", "summary.json", "roc.png", "calibration.png", "breakdown_kind.png"):
        assert (result.out_dir / name).stat().st_size > 100, name
    assert "roc.png" in (result.out_dir / "report.md").read_text()
    # report.html: the same report in one file, each chart embedded, nothing loaded from beside it.
    page = (result.out_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 3 and 'src="roc.png"' not in page
    assert "<table>" in page and "<script" not in page


def test_a_failed_threshold_names_itself(tmp_path: Path) -> None:
    result = evaluate(tmp_path, POINTS, rubric_reward(), thresholds={"min_kappa": 0.5, "min_accuracy": 0.9})
    assert not result.passed
    assert result.failures == ["kappa 0.333 < min_kappa 0.5"]
    assert result.summary["thresholds"]["min_accuracy"]["passed"] is None  # a pairwise limit: n/a here
    assert json.loads((result.out_dir / "summary.json").read_text())["passed"] is False


def test_unscored_items_are_parse_failures_not_disagreements(tmp_path: Path) -> None:
    def breaks_on_rude(request: JudgeRequest) -> TransportResult:
        return fail("garbage") if "rude" in fenced(request) else says_good(request)

    result = evaluate(tmp_path, POINTS, rubric_reward(breaks_on_rude), thresholds={"max_parse_failure_rate": 0.1})
    s = result.summary
    assert s["parse_failure_rate"] == pytest.approx(1 / 6) and s["n_scored"] == 5
    assert s["agreement"] == pytest.approx(3 / 5)
    assert result.failures == ["parse_failure_rate 0.167 > max_parse_failure_rate 0.1"]
    broken = items(result.out_dir)[3]
    assert broken["score"] is None and broken["verdict"] is None and "garbage" in broken["error"]


def test_hard_verdicts_auc_is_their_balanced_accuracy(tmp_path: Path) -> None:
    hard = rubric_reward(lambda r: yes_no(1.0 if "GOOD" in fenced(r) else 0.0))
    result = evaluate(tmp_path, POINTS, hard, thresholds={"min_auc": 0.8})
    # Passes p0 p2 p5: p0 p2 said GOOD (2/3 true passes); fails p1 p3 p4: p4 said GOOD (2/3 true fails).
    assert result.summary["soft_scores"] is False and result.summary["auc"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert result.failures == ["auc 0.667 < min_auc 0.8"]
    assert not (result.out_dir / "roc.png").exists()


def test_default_thresholds_fail_a_chance_level_judge_and_list_what_is_off(tmp_path: Path) -> None:
    coin = rubric_reward(lambda r: yes_no(0.6))  # the same P(yes) for every answer: AUC 0.5
    result = evaluate(tmp_path, POINTS, coin)
    assert result.failures == ["auc 0.500 < min_auc 0.6"]
    line = terminal_summary(result.summary, result.out_dir)
    assert "FAILED: min_auc; not checked: min_agreement, min_kappa\n" in line
    outcomes = result.summary["thresholds"]
    assert outcomes["min_accuracy"]["status"] == "n/a"  # pairwise only
    assert outcomes["max_false_positive_rate"]["status"] == "n/a"  # off, but the audit did not run anyway

    good = evaluate(tmp_path / "good", POINTS, rubric_reward())
    assert good.passed and "PASSED: min_auc, max_parse_failure_rate; not checked: min_agreement" in (
        terminal_summary(good.summary, good.out_dir)
    )
    off = evaluate(tmp_path / "off", POINTS, rubric_reward(), thresholds={})
    assert off.passed and "NOT CHECKED" in terminal_summary(off.summary, off.out_dir)
    assert "NOT CHECKED" in (off.out_dir / "report.md").read_text()


def test_word_count_baseline_beside_every_auc(tmp_path: Path) -> None:
    # The three passes are shorter (2 words) than the three fails (3 words): a word count ranks them all.
    rows = [point(i, "short one" if i % 2 else "a bit longer", "pass" if i % 2 else "fail") for i in range(6)]
    s = evaluate(tmp_path, rows, rubric_reward()).summary
    assert s["word_count_auc"] == 1.0
    assert s["breakdowns"]["kind"]["k"]["word_count_auc"] == 1.0
    assert "AUC of a word count" in (tmp_path / "out" / "report.md").read_text()


def test_only_the_chosen_split_is_graded(tmp_path: Path) -> None:
    rows = [{**row, "split": "test" if i < 4 else "dev"} for i, row in enumerate(POINTS)]
    test = evaluate(tmp_path, rows, rubric_reward())
    assert test.summary["n"] == 4 and test.summary["split"] == "test"
    assert [item["id"] for item in items(test.out_dir)] == ["p0", "p1", "p2", "p3"]
    dev = evaluate(tmp_path / "dev", rows, rubric_reward(), split="dev")
    assert dev.summary["n"] == 2 and "split `dev` (the tuning rows)" in (dev.out_dir / "report.md").read_text()
    whole = evaluate(tmp_path / "whole", POINTS, rubric_reward())  # no split fields: every row
    assert whole.summary["n"] == 6 and whole.summary["split"] == "none"
    with pytest.raises(ConfigError, match="split: expected dev, test or all"):
        evaluate(tmp_path / "bad", rows, rubric_reward(), split="train")


def test_audit_counts_false_positives_per_category(tmp_path: Path) -> None:
    yes_man = rubric_reward(lambda r: yes_no(0.9))
    audit = {"enabled": True, "per_category": 3, "seed": 0}
    result = evaluate(tmp_path, POINTS, yes_man, audit=audit, thresholds={"max_false_positive_rate": 0.2})
    table = result.summary["audit"]["categories"]
    assert len(table) >= 5
    for category, entry in table.items():
        # Empty answers score 0 by the rubric's edge rule, before the judge; the judge passes all the rest.
        expected = 0.0 if category == "empty" else 1.0
        assert entry["n"] == 3 and entry["false_positive_rate"] == expected, category
    assert table["injection"]["upper_95"] == 1.0 and 0.4 < table["empty"]["upper_95"] < 0.8
    assert table["padding"]["outscores_passes"] == 0.5  # 0.9 against the one genuine pass's 0.9: a tie
    assert not result.passed and "max_false_positive_rate" in result.failures[0]
    assert len((result.out_dir / "audit.jsonl").read_text().splitlines()) == 3 * len(table)
    assert (result.out_dir / "audit.png").is_file()
    assert "| padding | 3 | 3 | 3 | 1.000 | 1.000 | 0.900 | 0.500 |" in (result.out_dir / "report.md").read_text()

    strict = evaluate(tmp_path, POINTS, rubric_reward(), audit=audit, thresholds={"max_false_positive_rate": 0.2})
    assert strict.passed, strict.failures  # no adversarial answer says GOOD
    assert all(e["outscores_passes"] == 0.0 for e in strict.summary["audit"]["categories"].values())


def test_repeat_stability_catches_a_judge_that_changes_its_mind(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flips(request: JudgeRequest) -> TransportResult:
        calls["n"] += 1
        return yes_no(0.9 if calls["n"] > len(POINTS) * 2 else 0.1)  # every later pass says yes

    result = evaluate(tmp_path, POINTS, rubric_reward(flips), repeats={"k": 2, "sample": 6})
    rep = result.summary["repeat_stability"]
    assert rep["n"] == 6 and rep["stability"] == 0.0 and rep["mean_score_spread"] > 0.5

    steady = evaluate(tmp_path, POINTS, rubric_reward(), repeats={"k": 3, "sample": 4})
    assert steady.summary["repeat_stability"]["stability"] == 1.0


def pair(i: int, a: str, b: str, preferred: str) -> dict[str, Any]:
    return {"id": f"q{i}", "prompt": f"Q{i}?", "response_a": a, "response_b": b, "preferred": preferred, "kind": "k"}


PAIRS = [pair(0, "GOOD", "bad", "a"), pair(1, "bad", "GOOD", "b"), pair(2, "GOOD x", "bad y", "b")]


def test_pairs_accuracy_and_swap_consistency(tmp_path: Path) -> None:
    def prefers_good(request: JudgeRequest) -> TransportResult:
        return a_or_b(0.8 if "GOOD" in fenced(request, "answer_a") else 0.2)

    judge, _ = scripted_judge(prefers_good)
    result = evaluate(tmp_path, PAIRS, PreferenceReward(judge, SPEC), thresholds={"min_swap_consistency": 0.9})
    s = result.summary
    assert s["accuracy"] == pytest.approx(2 / 3) and s["swap_consistency"] == 1.0 and s["tie_rate"] == 0.0
    assert result.passed
    assert items(result.out_dir)[0]["orders"] == [pytest.approx(0.8), pytest.approx(0.8)]

    judge, _ = scripted_judge(lambda r: a_or_b(0.9))  # always the first position
    biased = evaluate(tmp_path, PAIRS, PreferenceReward(judge, SPEC), thresholds={"min_swap_consistency": 0.9})
    assert biased.summary["swap_consistency"] == 0.0
    assert biased.summary["tie_rate"] == 1.0 and biased.summary["accuracy"] == 0.0  # a tie is a miss
    assert not biased.passed


def test_second_judge_agreement(tmp_path: Path) -> None:
    contrary = rubric_reward(lambda r: yes_no(0.2 if "GOOD" in fenced(r) else 0.9))
    labelled = write_jsonl(tmp_path / "set.jsonl", POINTS)
    reward = rubric_reward()
    # second_opinion (docs/judging.md, "Second opinions"): its seed draws the interval's resamples, and its
    # min_agreement is a floor on Spearman's rho that fails like a threshold (exit 3 from the entry point).
    opinion = {"seed": 7, "min_agreement": 0.0}
    settings = {"labelled": str(labelled), **NO_EXTRAS, "second_opinion": opinion}
    result = run_judge_eval(settings, reward, tmp_path / "o", second_reward=contrary)
    with pytest.raises(ConfigError, match=r"^second_opinion\.min_agreement: a floor on a second judge"):
        run_judge_eval(settings, reward, tmp_path / "alone")  # a floor with no second judge to put it on
    reward.judge.close(), contrary.judge.close()
    cross = result.summary["cross_judge"]
    floor = result.summary["thresholds"]["second_opinion.min_agreement"]
    assert floor == {"limit": 0.0, "value": cross["spearman"], "passed": False, "status": "fail"}
    assert not result.passed and result.failures[-1].startswith("cross_judge.spearman -0.")
    assert result.failures[-1].endswith("< second_opinion.min_agreement 0")
    scores = [[line[key] for line in items(result.out_dir)] for key in ("score", "second_score")]
    assert tuple(cross["spearman_ci"]) == pytest.approx(agreement_with(*scores, resamples=200, seed=7).spearman_ci)
    # The seed: second_opinion.seed, else bootstrap.seed (as before second_opinion had one).
    assert EvalSettings.from_config(settings).second_seed == 7
    assert EvalSettings.from_config({"bootstrap": {"seed": 5}}).second_seed == 5
    assert cross["n"] == 6 and cross["agreement"] == 0.0
    # The second-opinion statistics (rlaif.evaluation.second_opinion): a contrary judge ranks the items the other way.
    assert cross["spearman"] < -0.5 and cross["kappa"] == pytest.approx(-1.0)
    assert cross["spearman_ci"] is not None and f"Spearman's ρ of the scores {cross['spearman']:.3f}" in (
        result.out_dir / "report.md"
    ).read_text(encoding="utf-8")
    assert cross["second_vs_labels"]["agreement"] == pytest.approx(2 / 6)
    assert "second_score" in items(result.out_dir)[0]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{broken", ":2: not valid JSON"),
        (json.dumps({"prompt": "q", "response": "r"}), ":2: missing required field 'label'"),
        (json.dumps({"prompt": "q", "response": "r", "label": "yes"}), ":2: 'label' must be 'pass' or 'fail'"),
        (json.dumps(pair(9, "x", "y", "a")), ":2: a pairwise row in a set whose first row is not"),
        (json.dumps({**POINTS[1], "split": "train"}), ":2: 'split' must be 'dev' or 'test', got 'train'"),
        (json.dumps({**POINTS[1], "split": "dev"}), ":2: every row needs a 'split' (dev or test) when any row"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, bad: str, expected: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [POINTS[0], bad])
    with pytest.raises(DataError) as info:
        load_labelled(str(path))
    assert f"{path}{expected}" in str(info.value)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"thresholds": {"min_kapa": 0.5}}, "thresholds.min_kapa: extra inputs are not permitted"),
        ({"threshold": 2}, "threshold: input should be less than or equal to 1, got 2"),
        ({"repeats": {"k": 0}}, "repeats.k: input should be greater than 0, got 0"),
        ({"thresholds": {"min_kappa": "high"}}, "thresholds.min_kappa: input should be a valid number, got 'high'"),
        ({"batch_size": True}, "batch_size: input should be a valid integer, got True"),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        EvalSettings.from_config(settings)
    assert str(info.value).startswith(expected)
    with pytest.raises(ConfigError) as info:
        EvalSettings.from_config(settings, "judge_eval")  # as rlaif.train's preflight reads them
    assert str(info.value).startswith(f"judge_eval.{expected}")


def test_every_bad_setting_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        EvalSettings.from_config({"threshold": 2, "repeats": {"k": 0}, "audit": {"enabld": True}})
    message = str(info.value)
    assert "threshold:" in message and "repeats.k:" in message and "audit.enabld:" in message


# -- the real entry point, packaged local judge -------------------------------------------------------


def judge_eval(*overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "rlaif.judge_eval", *overrides]
    return forked.run(command, timeout=900, env=env)


def test_bad_labelled_row_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "bad.jsonl", [POINTS[0], '{"prompt": "q"}'])
    run_dir = tmp_path / "run"
    result = judge_eval(f"labelled={data}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{data}:2: missing required field 'response'" in result.stdout + result.stderr
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("rows", "overrides", "expected"),
    [
        ([point(0, "x", "pass", "tone")], (), ":1: criterion 'tone' is not in rubric 'everyday'"),
        ([pair(0, "x", "y", "a")], (), "is a pairwise set: use reward=preference"),
        (  # a second judge under both its old and its new key, two different judges
            [POINTS[0]],
            ("judge@second_judge=vllm", "judge@second_opinion.judge=local"),
            "are both set, to different values: second_judge is the old name of second_opinion.judge",
        ),
    ],
)
def test_set_and_reward_that_do_not_fit_exit_2(
    tmp_path: Path, rows: list[Any], overrides: tuple, expected: str
) -> None:
    data = write_jsonl(tmp_path / "set.jsonl", rows)
    result = judge_eval(f"labelled={data}", f"hydra.run.dir={tmp_path / 'run'}", *overrides)
    assert result.returncode == 2 and expected in result.stdout + result.stderr, result.stderr[-2000:]


def test_unreachable_judge_exits_1_not_3(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = write_jsonl(tmp_path / "set.jsonl", POINTS[:2])
    run_dir = tmp_path / "run"
    result = judge_eval(
        f"labelled={data}", "judge=vllm", f"judge.base_url=http://127.0.0.1:{port}/v1", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "did not answer a test request" in result.stdout + result.stderr
    assert (run_dir / "FAILED").is_file() and not (run_dir / "summary.json").exists()


def test_local_judge_end_to_end_exits_3_on_a_failed_threshold(tmp_path: Path) -> None:
    # Two identical items with opposite labels: no judge can agree on both, so min_agreement=1 must fail.
    same = {"prompt": "How do I boil an egg?", "response": "Boil it for nine minutes.", "criterion": None}
    rows = [{**same, "label": "pass", "kind": "twin"}, {**same, "label": "fail", "kind": "twin"}, POINTS[1]]
    data = write_jsonl(tmp_path / "set.jsonl", rows)
    out = tmp_path / "out"
    result = judge_eval(
        f"labelled={data}",
        "thresholds.min_agreement=1.0",
        "judge@second_opinion.judge=local",  # a second judge under the new key, with a floor on Spearman's rho
        "second_opinion.min_agreement=0.9",
        "audit.per_category=1",
        "repeats.k=2",
        "repeats.sample=2",
        f"hydra.run.dir={out}",
    )
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_THRESHOLDS_FAILED, output[-3000:]
    assert "FAILED: min_agreement" in result.stdout and "threshold(s)" in output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n", "agreement", "kappa", "auc", "parse_failure_rate"):
        assert key in summary
    assert summary["n"] == 3 and summary["agreement"] < 1.0 and summary["passed"] is False
    assert summary["judge"]["identity"].startswith("local:") and summary["judge"]["requests"] == 6
    assert summary["repeat_stability"]["k"] == 2 and "audit" in summary
    cross, floor = summary["cross_judge"], summary["thresholds"]["second_opinion.min_agreement"]
    assert cross["n"] + sum(line["second_score"] is None for line in items(out)) == 3
    assert cross["identity"].startswith("local:") and floor["limit"] == 0.9 and floor["value"] == cross["spearman"]
    assert floor["passed"] is (cross["spearman"] is not None and cross["spearman"] >= 0.9)
    lines = items(out)
    assert len(lines) == 3 and all(line["score"] is None or 0.0 <= line["score"] <= 1.0 for line in lines)
    assert lines[0]["score"] == lines[1]["score"]
    assert (out / "report.md").is_file() and len(list(out.glob("*.png"))) >= 3


def test_local_judge_pairs_end_to_end(tmp_path: Path) -> None:
    rows = [pair(0, "Tokyo.", "Kyoto.", "a"), pair(1, "Whatever.", "Nine minutes in boiling water.", "b")]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "out"
    result = judge_eval(f"labelled={data}", "reward=preference", "repeats.k=1", f"hydra.run.dir={out}")
    # The packaged 135M judge picks by position, not quality: the default limits refuse it (and say so).
    assert result.returncode == EXIT_THRESHOLDS_FAILED, (result.stdout + result.stderr)[-3000:]
    assert "FAILED: min_auc, min_accuracy, min_swap_consistency" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["set_kind"] == "pairwise" and "accuracy" in summary and "swap_consistency" in summary
    assert "audit" not in summary  # the audit is for pointwise sets
    assert [line["id"] for line in items(out)] == ["q0", "q1"]


def test_a_jury_is_reported_beside_each_member_alone(tmp_path: Path) -> None:
    from rlaif.judges.jury import Jury

    def says_bad(request: JudgeRequest) -> TransportResult:  # the opposite of says_good: a wrong member
        return yes_no(0.2 if "GOOD" in fenced(request) else 0.9)

    jury = Jury({"right": scripted_judge(says_good)[0], "wrong": scripted_judge(says_bad)[0]}, quorum=1)
    result = evaluate(tmp_path, POINTS, RubricReward(jury, RUBRIC), thresholds={"min_agreement": 0.6})
    members = result.summary["jury_members"]
    assert members["right"]["agreement"] == pytest.approx(4 / 6)
    assert members["wrong"]["agreement"] == pytest.approx(2 / 6)
    # mean of 0.9 and 0.2 is 0.55 for every item: the jury passes everything (3 of 6 right), and the gate is its own
    assert result.summary["agreement"] == pytest.approx(3 / 6) and not result.passed
    report = (result.out_dir / "report.md").read_text()
    assert "## Jury and its members" in report and "| right |" in report and "| **jury** |" in report
    assert (result.out_dir / "members" / "wrong" / "report.md").is_file()


def test_a_jury_members_repeats_and_audit_are_its_replies_to_the_jury(tmp_path: Path) -> None:
    import random

    from rlaif.judges.jury import Jury

    coin = random.Random(0)

    def fickle_says(request: JudgeRequest) -> TransportResult:  # a coin toss: it changes its mind on repeats
        return yes_no(0.9 if coin.random() < 0.5 else 0.2)

    (steady, steady_sent), (fickle, fickle_sent) = scripted_judge(says_good), scripted_judge(fickle_says)
    jury = Jury({"steady": steady, "fickle": fickle}, quorum=1)
    settings = {"repeats": {"k": 3, "sample": 4}, "audit": {"enabled": True, "per_category": 1}}
    result = evaluate(tmp_path, POINTS, RubricReward(jury, RUBRIC), **settings)
    totals = jury.metrics.totals()
    # Each member was asked what the jury was asked (main pass, repeats, audit), and nothing more.
    assert totals["steady/requests"] == totals["fickle/requests"] == totals["requests"] > len(POINTS)
    assert len(steady_sent.requests) == len(fickle_sent.requests) == totals["requests"] - totals["steady/cache_hits"]
    alone = {n: json.loads((result.out_dir / "members" / n / "summary.json").read_text()) for n in ("steady", "fickle")}
    assert alone["steady"]["repeat_stability"]["stability"] == 1.0  # its repeats are its replies to the jury's
    assert alone["fickle"]["repeat_stability"]["stability"] < 1.0
    assert alone["steady"]["audit"] and all(a["parse_failure_rate"] == 0 for a in alone.values())


def test_a_jurys_members_are_reported_alone_without_being_asked_again(tmp_path: Path) -> None:
    """judge=jury with two OpenAI-compatible servers as members: each member's verdicts (and its report in
    members/<name>/) come from its replies to the jury, so each server receives the jury's requests once."""
    data = write_jsonl(tmp_path / "set.jsonl", POINTS[:4])  # the shipped rubric's criteria: polite, concise
    out = tmp_path / "out"
    with FlakyServer() as first, FlakyServer() as second:
        members = ", ".join(
            f"{{name: {name}, _target_: rlaif.judges.backends.openai_compat.openai_judge, base_url: '{server.url}'}}"
            for name, server in (("first", first), ("second", second))
        )
        result = judge_eval(
            f"labelled={data}", "split=all", "judge=jury", f"judge.members=[{members}]", "repeats.k=1",
            "audit.enabled=false", "thresholds.min_auc=null", f"hydra.run.dir={out}",
        )  # fmt: skip
        hits = (first.hits, second.hits)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    jury = json.loads((out / "summary.json").read_text())
    asked = jury["judge"]["requests"]  # every labelled item's questions, once, to the jury
    assert asked >= 4 and set(jury["jury_members"]) == {"first", "second"}
    assert hits == (1 + asked, 1 + asked)  # the pre-flight probe, then the jury's requests: nothing asked again
    for name in ("first", "second"):
        alone = json.loads((out / "members" / name / "summary.json").read_text())
        assert alone["judge"]["requests"] == asked and alone["judge"]["tokens_in"] == 7 * asked  # its own replies
        assert alone["agreement"] == jury["jury_members"][name]["agreement"] is not None
