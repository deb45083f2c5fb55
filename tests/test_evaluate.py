"""``python -m rlaif.evaluate``: the verdict rule and the tallies, bad input, and a real end-to-end run on
the adapter of a 2-step training run."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rlaif.data import packaged_prompts, read_rows
from rlaif.evaluate import Verdict, decide, decide_by_rubric, tally
from rlaif.evaluate_report import report
from rlaif.judge_stats import wilson_interval
from rlaif.rewards.checks import MentionsQuestion
from rlaif.rewards.parsing import VerdictError
from rlaif.rewards.report import Grade

try:  # tests/ as a package or as rootdir-relative modules: either pytest import mode works
    from tests._entry_point import run_train, train_env
except ImportError:
    from _entry_point import run_train, train_env  # type: ignore[no-redef]


def run_evaluate(*overrides: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlaif.evaluate", *overrides],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=train_env(),
    )


class _Orders:
    """A pairwise reward that answers every comparison with fixed P(answer better) per order."""

    def __init__(self, orders: tuple[float, float] | None) -> None:
        self.orders = orders
        self.calls = 0

    async def judge_orders(
        self, question: str, answer: str, opponent: str, reference: str | None
    ) -> tuple[float, float]:
        self.calls += 1
        if self.orders is None:
            raise VerdictError("judge error: no verdict")
        return self.orders


@pytest.mark.parametrize(
    ("orders", "outcome"),
    [((0.9, 0.7), "win"), ((0.2, 0.4), "loss"), ((0.9, 0.2), "tie"), ((0.5, 0.9), "tie"), (None, "failure")],
)
def test_a_win_or_loss_needs_both_orders_to_agree(orders: tuple[float, float] | None, outcome: str) -> None:
    pairwise = _Orders(orders)
    verdict = asyncio.run(decide(SimpleNamespace(pairwise=pairwise), "q?", "mine", "theirs", None))  # type: ignore[arg-type]
    assert verdict.outcome == outcome and pairwise.calls == 1
    assert (verdict.error is not None) == (outcome == "failure")


def test_identical_answers_tie_without_a_judge_call() -> None:
    pairwise = _Orders((0.9, 0.9))
    verdict = asyncio.run(decide(SimpleNamespace(pairwise=pairwise), "q?", "same", "same", None))  # type: ignore[arg-type]
    assert verdict == Verdict("tie", identical=True) and pairwise.calls == 0


def test_rubric_decisions_follow_the_two_scores() -> None:
    def grade(score: float | None) -> Grade:
        return Grade(score, error=None if score is not None else "judge error: timeout")

    assert decide_by_rubric(grade(0.7), grade(0.4), identical=False).outcome == "win"
    assert decide_by_rubric(grade(0.4), grade(0.7), identical=False).outcome == "loss"
    assert decide_by_rubric(grade(0.5), grade(0.5), identical=False).outcome == "tie"
    assert decide_by_rubric(grade(0.5), grade(0.5), identical=True).identical
    failed = decide_by_rubric(grade(0.5), grade(None), identical=False)
    assert failed.outcome == "failure" and failed.error == "judge error: timeout"


def test_tally_counts_win_rate_over_decided_pairs_with_a_wilson_interval() -> None:
    outcomes = ["win"] * 6 + ["loss"] * 2 + ["tie"] * 3 + ["failure"]
    verdicts = [Verdict(o, None if o == "failure" else (0.6, 0.6)) for o in outcomes]
    verdicts[8] = Verdict("tie", identical=True)
    grades = {"adapter": [Grade(0.8)] * 11 + [Grade(None, error="x")], "baseline": [Grade(0.4)] * 12}
    panel = SimpleNamespace(judge=SimpleNamespace(identity="test:j"), verdicts=verdicts, grades=grades)
    t = tally(panel, 0.95, training_judge="test:j")  # type: ignore[arg-type]
    assert (t["wins"], t["ties"], t["losses"], t["failures"], t["identical"], t["n"]) == (6, 3, 2, 1, 1, 12)
    assert t["win_rate_decided"] == 6 / 8 and t["win_rate_interval"] == list(wilson_interval(6, 8, 0.95))
    assert t["rubric"]["adapter"] == {"mean": pytest.approx(0.8), "failures": 1}
    assert t["rubric"]["baseline"]["mean"] == pytest.approx(0.4) and t["trained_the_policy"] is True
    none_decided = tally(SimpleNamespace(judge=panel.judge, verdicts=[Verdict("tie")], grades={}), 0.95, None)  # type: ignore[arg-type]
    assert none_decided["win_rate_decided"] is None and none_decided["win_rate_interval"] is None


def test_report_table_cells_cannot_break_the_markdown_table() -> None:
    judged = {
        "judge": "test:j",
        "verdict": "win",
        "p_adapter_as_a": 0.8,
        "p_adapter_as_b": 0.7,
        "identical": False,
        "error": None,
        "rubric": {"adapter": 1.0, "baseline": 0.0},
        "rubric_rationale": {"adapter": "ok", "baseline": "no"},
    }
    item = {
        "id": "a",
        "question": "x | y?",
        "adapter_answer": "line1\nline2 |",
        "baseline_answer": "b",
        "judge": judged,
    }
    t = {"judge": "test:j", "wins": 1, "ties": 0, "losses": 0, "failures": 0, "identical": 0, "win_rate_decided": 1.0}
    t |= {
        "win_rate_interval": [0.2, 1.0],
        "swap_consistency": 1.0,
        "rubric": {s: {"mean": 0.5} for s in judged["rubric"]},
    }
    summary = {"adapter": "A", "baseline": None, "policy": "p", "n": 1, "interval_level": 0.95, "second_judge": None}
    summary |= {"eval_data": {"eval_path": "e.jsonl"}, "generation": {"temperature": 0.0, "max_new_tokens": 8}, **t}
    summary |= {
        "decided_by": "pairwise",
        "mean_words": {"adapter": 3.0, "baseline": 12.5},
        "on_topic_rate": {"adapter": 1.0, "baseline": 0.5},
    }
    table = [line for line in report(summary, [item], examples=5).splitlines() if line.startswith("| a |")]
    assert len(table) == 1 and table[0].count(" | ") == 5  # six cells, the pipes in the texts escaped
    assert "line1<br>line2 \\|" in table[0] and "0.80 shown as A, 0.70 as B" in table[0]
    assert "mean words per answer 3.00 (adapter) vs 12.50 (baseline)" in report(summary, [item], examples=5)


def test_bad_input_exits_2_naming_the_key_and_leaves_no_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_evaluate(f"adapter={tmp_path / 'nope'}", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"adapter: {tmp_path / 'nope'} does not exist" in output and not run_dir.exists()

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")  # enough to reach the data check, which comes first
    result = run_evaluate(f"adapter={adapter}", f"data.eval_path={tmp_path / 'eval.jsonl'}", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and f"{tmp_path / 'eval.jsonl'}: dataset file not found (data.eval_path)" in output
    assert not run_dir.exists()

    result = run_evaluate(f"adapter={adapter}", "rubric_mode=vibes", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "rubric_mode: expected logprob or json, got 'vibes'" in output
    assert not run_dir.exists()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("evaluate") / "train"
    result = run_train("debug=smoke", "grpo.max_completion_length=8", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run_dir


def check_outputs(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The files exist, and every number in summary.json follows from items.jsonl."""
    summary = json.loads((run_dir / "summary.json").read_text())
    items = [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines()]
    assert (run_dir / "win_loss.png").stat().st_size > 1000 and not (run_dir / "FAILED").exists()
    assert "win_loss.png" in (run_dir / "report.md").read_text()
    for role in ("judge", "second_judge"):
        t = summary if role == "judge" else summary["second_judge"]
        if t is None:
            continue
        verdicts = [item[role]["verdict"] for item in items]
        assert t["n"] == len(items) == t["wins"] + t["ties"] + t["losses"] + t["failures"]
        assert [t["wins"], t["ties"], t["losses"], t["failures"]] == [
            verdicts.count(v) for v in ("win", "tie", "loss", "failure")
        ]
        assert t["identical"] == sum(item["adapter_answer"] == item["baseline_answer"] for item in items)
        decided = t["wins"] + t["losses"]
        assert t["win_rate_decided"] == (t["wins"] / decided if decided else None)
        for side in ("adapter", "baseline"):
            scores = [item[role]["rubric"][side] for item in items if item[role]["rubric"][side] is not None]
            assert math.isclose(t["rubric"][side]["mean"], sum(scores) / len(scores))
        for item in items:
            judged = item[role]
            if summary["decided_by"] == "pairwise":
                assert (judged["p_adapter_as_a"] is None) == (judged["identical"] or judged["verdict"] == "failure")
                continue
            assert judged["p_adapter_as_a"] is None  # no pairwise call: the rubric scores decide
            ours, theirs = judged["rubric"]["adapter"], judged["rubric"]["baseline"]
            if judged["identical"]:
                assert judged["verdict"] == "tie"
            elif None in (ours, theirs):
                assert judged["verdict"] == "failure"
            else:
                assert judged["verdict"] == ("tie" if ours == theirs else "win" if ours > theirs else "loss")
    return summary, items


@pytest.mark.slow
def test_evaluate_an_adapter_from_a_two_step_run_end_to_end(trained_run: Path, tmp_path: Path) -> None:
    adapter = trained_run / "adapter"
    small = ("data.limit=3", "generation.max_new_tokens=8")
    vs_base = tmp_path / "vs_base"
    result = run_evaluate(f"adapter={adapter}", *small, f"hydra.run.dir={vs_base}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary, items = check_outputs(vs_base)
    assert summary["adapter"] == str(adapter) and summary["baseline"] is None and summary["second_judge"] is None
    assert summary["decided_by"] == "rubric"
    for side in ("adapter", "baseline"):  # the deterministic signals beside the judges
        words = [len(item[f"{side}_answer"].split()) for item in items]
        assert summary["mean_words"][side] == pytest.approx(sum(words) / len(words))
        gate = MentionsQuestion()  # the training gate's rule, with the row's reference
        on_topic = [
            gate(item[f"{side}_answer"], item["question"], reference=item["reference"]).passed for item in items
        ]
        assert summary["on_topic_rate"][side] == pytest.approx(sum(on_topic) / len(on_topic))
    assert summary["judge"] == summary["training_judge"] and summary["trained_the_policy"] is True
    held_out = {row["id"] for row in read_rows(packaged_prompts("default_eval"))}
    assert len(items) == 3 and {item["id"] for item in items} <= held_out
    assert "held-out prompts" in result.stdout + result.stderr

    # Against another adapter (a copy with its LoRA update scaled up, so it answers differently), with a
    # second judge beside the first: the same adapter answers as before, the other side does not.
    other = tmp_path / "other" / "adapter"
    shutil.copytree(adapter, other)
    from safetensors.torch import load_file, save_file

    weights = load_file(other / "adapter_model.safetensors")
    save_file({k: v * 300 if "lora_B" in k else v for k, v in weights.items()}, other / "adapter_model.safetensors")
    vs_other = tmp_path / "vs_other"
    result = run_evaluate(
        f"adapter={adapter}",
        f"baseline={other}",
        "judge@second_judge=local",
        "decide=pairwise",
        *small,
        f"hydra.run.dir={vs_other}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary, other_items = check_outputs(vs_other)
    assert summary["baseline"] == str(other) and summary["second_judge"]["judge"] == summary["judge"]
    assert [i["adapter_answer"] for i in other_items] == [i["adapter_answer"] for i in items]
    assert [i["baseline_answer"] for i in other_items] != [i["baseline_answer"] for i in items]
    assert any(i["judge"]["p_adapter_as_a"] is not None for i in other_items), "no pair reached the judge"
