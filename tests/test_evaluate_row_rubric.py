"""``python -m rlaif.evaluate reward=row_rubric``: each held-out row's own rubric reaches the reward, so the
paired differences of the training reward work for per-row rubrics; a held-out row without one is an exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_evaluate import run_evaluate

ROWS = [  # questions the packaged training set does not hold (rlaif.evaluate refuses a seen one)
    ("r1", "Name a primary colour.", ["The answer names red, blue or yellow."]),
    (
        "r2",
        "How many legs does a spider have?",
        [
            {"title": "Count", "description": "The answer says eight.", "weight": 5},
            {"criterion": "The answer says six.", "points": -3, "tags": []},
            {"question": "Is the answer one sentence?", "pass_criteria": "YES", "weight": 1},
        ],
    ),
]


def _eval_file(path: Path, rows: list[tuple[str, str, object]]) -> Path:
    lines = [
        json.dumps({"id": i, "messages": [{"role": "user", "content": q}], "metadata": {"rubric": r}})
        for i, q, r in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LoRA adapter on the packaged policy (random, so its answers differ from the base's), no training."""
    import torch
    from peft import LoraConfig, get_peft_model

    from rlaif.data.models import load_causal_lm

    torch.manual_seed(0)
    model = get_peft_model(
        load_causal_lm("packaged:smollm2-135m-instruct"),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    folder = tmp_path_factory.mktemp("row_rubric_eval") / "adapter"
    model.save_pretrained(str(folder))
    return folder


def test_held_out_rows_are_graded_against_their_own_rubrics(adapter: Path, tmp_path: Path) -> None:
    data = _eval_file(tmp_path / "eval.jsonl", ROWS)
    run_dir = tmp_path / "run"
    result = run_evaluate(
        f"adapter={adapter}", "reward=row_rubric", f"data.eval_path={data}", "generation.max_new_tokens=6",
        "check_judge=false", "bootstrap.resamples=50", f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    items = {i["id"]: i for i in map(json.loads, (run_dir / "items.jsonl").read_text().splitlines())}
    assert summary["training_reward"] == "row_rubric" and summary["reward"]["adapter"]["failures"] == 0
    # Each answer was graded against its own row's items: one for r1, three for r2 (the rationale names them).
    for side in ("adapter", "baseline"):
        assert items["r1"]["judge"]["reward_rationale"][side].count("P(met)=") == 1
        assert items["r2"]["judge"]["reward_rationale"][side].count("P(met)=") == 3
        assert all(isinstance(items[r]["judge"]["reward"][side], float) for r in items)
    reward = summary["signals"]["reward"]  # the paired difference adapter - baseline, per row
    pairs = [(i["judge"]["reward"]["adapter"], i["judge"]["reward"]["baseline"]) for i in items.values()]
    assert reward["n"] == 2 and reward["diff"] == pytest.approx(sum(a - b for a, b in pairs) / 2)


def test_a_held_out_row_without_a_rubric_exits_2_naming_its_line(adapter: Path, tmp_path: Path) -> None:
    data = _eval_file(tmp_path / "eval.jsonl", [ROWS[0], ("r3", "What colour is the sky?", [])])
    run_dir = tmp_path / "run"
    result = run_evaluate(
        f"adapter={adapter}", "reward=row_rubric", f"data.eval_path={data}", "check_judge=false",
        f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert f"{data}:2: rubric: the rubric is empty" in output and not run_dir.exists()
