"""``python -m rlaif.evaluate``: the verdict rule and the tallies, bad input, and a real end-to-end run on
the adapter of a 2-step training run."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rlaif.data.loaders import packaged_prompts, read_rows
from rlaif.evaluation.adapter_eval import decide, decide_by_rubric, tally
from rlaif.evaluation.adapter_outputs import report_markdown
from rlaif.evaluation.adapter_plan import PairOutcome
from rlaif.evaluation.adapter_signals import Signal, independence, judge_models, paired_difference, report_order
from rlaif.evaluation.second_opinion import agreement_with
from rlaif.evaluation.stats import wilson_interval
from rlaif.rewards.grades import Grade
from rlaif.rewards.on_topic import MentionsQuestion
from rlaif.rewards.verdicts.parsing import VerdictError
from tests import _forkserver as forked
from tests._entry_point import train_env
from tests.rewards.scripted import scripted_judge, yes_no


def run_evaluate(*overrides: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return forked.run(
        [sys.executable, "-m", "rlaif.evaluate", *overrides],
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
    assert verdict == PairOutcome("tie", identical=True) and pairwise.calls == 0


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
    verdicts = [PairOutcome(o, None if o == "failure" else (0.6, 0.6)) for o in outcomes]
    verdicts[8] = PairOutcome("tie", identical=True)
    grades = {"adapter": [Grade(0.8)] * 11 + [Grade(None, error="x")], "baseline": [Grade(0.4)] * 12}
    judge = SimpleNamespace(identity="test:j")
    panel = SimpleNamespace(judge=judge, outcomes=verdicts, grades=grades, reward_note=None)
    t = tally(panel, 0.95, trained=True)  # type: ignore[arg-type]
    assert (t["wins"], t["ties"], t["losses"], t["failures"], t["identical"], t["n"]) == (6, 3, 2, 1, 1, 12)
    assert t["win_rate_decided"] == 6 / 8 and t["win_rate_interval"] == list(wilson_interval(6, 8, 0.95))
    assert t["reward"]["adapter"] == {"mean": pytest.approx(0.8), "failures": 1}
    assert t["reward"]["baseline"]["mean"] == pytest.approx(0.4) and t["trained_the_policy"] is True
    none = SimpleNamespace(judge=panel.judge, outcomes=[PairOutcome("tie")], grades={}, reward_note=None)
    none_decided = tally(none, 0.95, False)  # type: ignore[arg-type]
    assert none_decided["win_rate_decided"] is None and none_decided["win_rate_interval"] is None


def test_paired_difference_against_a_hand_computed_case() -> None:
    # Prompt 4 has no adapter score: left out of both sides. Diffs 1, 0, 0.5: mean 0.5.
    paired = paired_difference([1.0, 0.0, 1.0, None], [0.0, 0.0, 0.5, 1.0], resamples=4000)
    assert paired["n"] == 3 and paired["diff"] == pytest.approx(0.5)
    assert paired["adapter_mean"] == pytest.approx(2 / 3) and paired["baseline_mean"] == pytest.approx(1 / 6)
    # Resampling two diffs {0, 1}: the mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the central
    # 95% of resampled means runs from 0 to 1; all diffs equal: no spread at all.
    assert paired_difference([1.0, 0.0], [0.0, 0.0], resamples=4000)["diff_interval"] == [0.0, 1.0]
    assert paired_difference([0.75, 0.5], [0.25, 0.0])["diff_interval"] == [0.5, 0.5]
    assert paired_difference([None], [1.0]) == {
        "diff": None, "diff_interval": None, "n": 0, "adapter_mean": None, "baseline_mean": None
    }  # fmt: skip


def test_evaluate_grades_with_the_training_reward_gate_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build_panel builds cfg.reward (the default rubric_on_topic), so an off-topic answer scores 0 by the
    gate with no judge call, as in training, rather than whatever a plain rubric would give it."""
    from hydra import compose, initialize_config_module

    from rlaif.evaluation.adapter_eval import judge_panel
    from rlaif.evaluation.adapter_plan import build_panel
    from rlaif.runs import judge_and_reward

    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("evaluate", overrides=["adapter=unused", "check_judge=false"])
    judge, transport = scripted_judge(lambda request: yes_no(0.9))
    monkeypatch.setattr(judge_and_reward, "build_judge", lambda judge_cfg, cache_home=None: judge)
    with ExitStack() as stack:
        panel = build_panel(cfg, "judge", cfg.judge, tmp_path, stack)
    rows = {"prompt": ["What is the capital of Japan?"], "reference_answer": ["Tokyo."], "extra": ["{}"]}
    answers = {"adapter": ["The capital of Japan is Tokyo."], "baseline": ["I'm not sure what to do."]}
    asyncio.run(judge_panel(panel, rows, answers, show_reference=False, by="rubric"))
    adapter, baseline = panel.grades["adapter"][0], panel.grades["baseline"][0]
    assert panel.reward.__name__ == "rubric_on_topic" and adapter.score is not None and adapter.score > 0
    assert baseline.score == 0.0 and not baseline.judged and "on_topic" in baseline.rationale()
    assert transport.requests and all("not sure" not in str(r) for r in transport.requests)
    assert panel.outcomes[0].outcome == "win"


def test_independent_evidence_comes_first_and_the_training_judge_last() -> None:
    def signal(name: str, kind: str, trained: bool) -> Signal:
        return Signal(name, kind, {"adapter": [1.0], "baseline": [0.0]}, trained)

    order = [
        s.name
        for s in report_order(
            [signal("reward", "judge", True), signal("gate", "measure", True), signal("other", "judge", False),
             signal("words", "measure", False)]
        )
    ]  # fmt: skip
    assert order == ["words", "other", "gate", "reward"]


def test_judges_on_the_same_model_are_told_apart_from_other_models() -> None:
    from functools import partial

    def judge(transport: Any) -> Any:
        return SimpleNamespace(transport=transport, identity="x")

    local = judge(SimpleNamespace(model_name="packaged:smollm2-135m-instruct"))
    launched = judge(SimpleNamespace(model="judge", launch=partial(dict, model="/models/smollm2-135m-instruct/")))
    bedrock = judge(SimpleNamespace(model_id="us.amazon.nova-lite-v1:0"))
    jury = SimpleNamespace(members={"a": bedrock, "b": local}, identity="jury")
    assert judge_models(local) == judge_models(launched) == {"smollm2-135m-instruct"}
    assert judge_models(jury) == {"smollm2-135m-instruct", "us.amazon.nova-lite-v1:0"}
    pool = SimpleNamespace(endpoints={"us_east_1": bedrock, "us_west_2": bedrock}, identity="pool")
    assert judge_models(pool) == {"us.amazon.nova-lite-v1:0"}
    assert "not an independent judge" in (independence(pool, bedrock) or "")
    assert not judge_models(bedrock) & judge_models(local)
    assert "not an independent judge" in (independence(launched, local) or "")
    assert independence(bedrock, local) is None and independence(local, None) is None  # no training judge here


def test_report_table_cells_cannot_break_the_markdown_table() -> None:
    judged = {
        "judge": "test:j",
        "verdict": "win",
        "p_adapter_as_a": 0.8,
        "p_adapter_as_b": 0.7,
        "identical": False,
        "error": None,
        "reward": {"adapter": 1.0, "baseline": 0.0},
        "reward_rationale": {"adapter": "ok", "baseline": "no"},
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
        "reward": {s: {"mean": 0.5} for s in judged["reward"]},
    }
    summary = {"adapter": "A", "baseline": None, "policy": "p", "n": 1, "interval_level": 0.95, "judges": {}}
    summary |= {"eval_data": {"eval_path": "e.jsonl"}, "generation": {"temperature": 0.0, "max_new_tokens": 8}, **t}
    words = {"kind": "measure", "trained_the_policy": False, "diff": -9.5, "diff_interval": [-12.0, -7.0], "n": 1}
    summary |= {
        "decided_by": "pairwise",
        "training_reward": "rubric_on_topic",
        "independent_judges": 0,
        "signals": {"words": {**words, "adapter_mean": 3.0, "baseline_mean": 12.5, "note": "a | b"}},
    }
    table = [line for line in report_markdown(summary, [item], examples=5).splitlines() if line.startswith("| a |")]
    assert len(table) == 1 and table[0].count(" | ") == 5  # six cells, the pipes in the texts escaped
    assert "line1<br>line2 \\|" in table[0] and "0.80 shown as A, 0.70 as B" in table[0]
    text = report_markdown(summary, [item], examples=5)
    assert "| words | 3.00 | 12.50 | -9.500 | [-12.00, -7.00] | 1 | no (a \\| b) |" in text
    assert "No judge here is independent of the one that trained the policy" in text
    # A judge under judges.NAME as a second opinion on the training judge (rlaif.evaluation.second_opinion).
    agreed = {"n": 4, "agreement": 0.75, "kappa": 0.5, "spearman": 0.8, "spearman_ci": [0.2, 1.0], "groups": None}
    text = report_markdown({**summary, "second_opinions": {"big": agreed}}, [item], examples=5)
    assert (
        "Judge `big` against the training judge, on all 4 answers both scored: same verdict on 0.75, κ 0.50, " in text
    )
    assert "Spearman's ρ 0.80 [0.20, 1.00]." in text


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
    assert result.returncode == 2 and "rubric_mode: input should be 'logprob' or 'json', got 'vibes'" in output
    assert not run_dir.exists()

    # One judge beside the training judge under its old key (judges.NAME) and its new one, two different judges.
    both = ("+judge@judges.big=vllm", "+judge@second_opinions.big.judge=local")
    result = run_evaluate(f"adapter={adapter}", *both, f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "judges.big ({'_target_': " in output and "and second_opinions.big.judge (" in output
    assert "are both set, to different values: judges.big is the old name of second_opinions.big.judge" in output
    assert not run_dir.exists()

    # The training reward graded with a rubric that shows the reference: held-out rows without one are refused.
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"id": "q1", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}) + "\n")
    result = run_evaluate(
        f"adapter={adapter}", f"data.eval_path={bare}", "rubric=reference_qa", "check_judge=false",
        f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2 and f"{bare}: 1 of 1 rows have no reference_answer" in output, output[-2000:]
    assert "rubric 'reference_qa'" in output and not run_dir.exists()


@pytest.fixture
def trained_run(smoke_run: tuple[Path, str]) -> Path:
    """The session's 2-step smoke run (tests/conftest.py), shared with tests/test_train.py: only read here."""
    return smoke_run[0]


def check_outputs(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The files exist, and every number in summary.json follows from items.jsonl."""
    summary = json.loads((run_dir / "summary.json").read_text())
    items = [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines()]
    assert (run_dir / "win_loss.png").stat().st_size > 1000 and not (run_dir / "FAILED").exists()
    assert "win_loss.png" in (run_dir / "report.md").read_text()
    page = (run_dir / "report.html").read_text()  # the same report in one file, the chart embedded
    assert 'src="data:image/png;base64,' in page and 'src="win_loss.png"' not in page and "<table>" in page
    for role, t in [("judge", summary), *((f"judges.{n}", t) for n, t in summary["judges"].items())]:
        verdicts = [item[role]["verdict"] for item in items]
        assert t["n"] == len(items) == t["wins"] + t["ties"] + t["losses"] + t["failures"]
        assert [t["wins"], t["ties"], t["losses"], t["failures"]] == [
            verdicts.count(v) for v in ("win", "tie", "loss", "failure")
        ]
        assert t["identical"] == sum(item["adapter_answer"] == item["baseline_answer"] for item in items)
        decided = t["wins"] + t["losses"]
        assert t["win_rate_decided"] == (t["wins"] / decided if decided else None)
        for side in ("adapter", "baseline"):
            scores = [item[role]["reward"][side] for item in items if item[role]["reward"][side] is not None]
            assert math.isclose(t["reward"][side]["mean"], sum(scores) / len(scores))
        for item in items:
            judged = item[role]
            if summary["decided_by"] == "pairwise":
                assert (judged["p_adapter_as_a"] is None) == (judged["identical"] or judged["verdict"] == "failure")
                continue
            assert judged["p_adapter_as_a"] is None  # no pairwise call: the rubric scores decide
            ours, theirs = judged["reward"]["adapter"], judged["reward"]["baseline"]
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
    assert summary["adapter"] == str(adapter) and summary["baseline"] is None and summary["judges"] == {}
    assert summary["decided_by"] == "rubric" and summary["training_reward"] == "rubric_on_topic"
    signals = summary["signals"]
    # Independent evidence first; the training reward's gates, then the training judge, last.
    assert list(signals)[:2] == ["words", "language"] and list(signals)[-1] == "reward"
    assert [signals[k]["trained_the_policy"] for k in ("words", "on_topic", "non_empty", "reward")] == [
        False, True, True, True
    ]  # fmt: skip
    gate = MentionsQuestion()  # the training gate's rule, with the row's reference
    for side in ("adapter", "baseline"):
        words = [len(item[f"{side}_answer"].split()) for item in items]
        assert signals["words"][f"{side}_mean"] == pytest.approx(sum(words) / len(words))
        on_topic = [gate(item[f"{side}_answer"], item["question"], reference=item["reference"]).score for item in items]
        assert signals["on_topic"][f"{side}_mean"] == pytest.approx(sum(on_topic) / len(on_topic))
        rewards = [item["judge"]["reward"][side] for item in items]
        assert signals["reward"][f"{side}_mean"] == pytest.approx(sum(rewards) / len(rewards))
    pairs = [(item["judge"]["reward"]["adapter"], item["judge"]["reward"]["baseline"]) for item in items]
    assert signals["reward"]["diff"] == pytest.approx(sum(a - b for a, b in pairs) / len(pairs))
    assert signals["reward"]["n"] == 3 and len(signals["reward"]["diff_interval"]) == 2
    for item in items:  # the training reward's gate applies: an off-topic answer scores 0 without the judge
        for side in ("adapter", "baseline"):
            if not gate(item[f"{side}_answer"], item["question"], reference=item["reference"]).passed:
                assert item["judge"]["reward"][side] == 0.0 and "gate" in item["judge"]["reward_rationale"][side]
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
        "+judge@judges.second=local",  # the judge under its old key, its seed under the new one: one second opinion
        "+second_opinions.second.seed=5",
        "decide=pairwise",
        *small,
        f"hydra.run.dir={vs_other}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary, other_items = check_outputs(vs_other)
    roles = ("judge", "judges.second")
    assert summary["baseline"] == str(other) and summary["judges"]["second"]["judge"] == summary["judge"]
    # The same judge config as the training judge: it trained the policy, and is marked so.
    assert summary["signals"]["judges.second"]["trained_the_policy"] is True
    # judges.second as a second opinion on the training judge (rlaif.evaluation.second_opinion): the same judge
    # config, so the same verdict on every answer both scored.
    agreed = summary["second_opinions"]["second"]
    assert agreed["n"] > 0 and agreed["agreement"] == 1.0 and agreed["kappa"] in (None, pytest.approx(1.0))
    scores = [[i[role]["reward"][side] for side in ("adapter", "baseline") for i in other_items] for role in roles]
    assert agreed == agreement_with(*scores, resamples=2000, seed=5).as_dict()
    assert "judges.second -> second_opinions.second.judge" in result.stdout + result.stderr
    assert [i["adapter_answer"] for i in other_items] == [i["adapter_answer"] for i in items]
    assert [i["baseline_answer"] for i in other_items] != [i["baseline_answer"] for i in items]
    assert any(i["judge"]["p_adapter_as_a"] is not None for i in other_items), "no pair reached the judge"
