"""The labelled judge-evaluation sets shipped in rlaif/labelled: shape, balance, checkable labels, reproducible."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from omegaconf import OmegaConf

from rlaif.evaluation.adversarial import CATEGORIES, adversarial_cases

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "rlaif" / "data" / "labelled"
POINTWISE = LABELLED / "everyday_pointwise.jsonl"
PAIRWISE = LABELLED / "everyday_pairwise.jsonl"
POINTWISE_KEYS = {"id", "prompt", "response", "label", "criterion", "reference", "kind", "split"}
PAIRWISE_KEYS = {"id", "prompt", "response_a", "response_b", "preferred", "reference", "kind", "split"}


def _read(path: Path) -> list[dict[str, Any]]:
    """The way judge_eval reads a labelled file: one json.loads per non-empty line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_labelled_data", ROOT / "scripts" / "make_labelled_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pointwise() -> list[dict[str, Any]]:
    return _read(POINTWISE)


@pytest.fixture(scope="module")
def pairwise() -> list[dict[str, Any]]:
    return _read(PAIRWISE)


def test_pointwise_schema_counts_and_balance(pointwise: list[dict[str, Any]]) -> None:
    assert len(pointwise) >= 200
    assert all(set(row) == POINTWISE_KEYS for row in pointwise)
    assert len({row["id"] for row in pointwise}) == len(pointwise)
    assert all(row["prompt"].strip() and row["response"].strip() and row["reference"] for row in pointwise)
    labels = Counter((row["criterion"], row["label"]) for row in pointwise)
    assert {label for _, label in labels} == {"pass", "fail"}
    for criterion in ("polite", "concise"):
        assert labels[(criterion, "pass")] + labels[(criterion, "fail")] >= 80
    for criterion in {row["criterion"] for row in pointwise}:
        assert labels[(criterion, "pass")] == labels[(criterion, "fail")], criterion
    assert len({row["prompt"] for row in pointwise}) >= 100  # many different questions


def test_dev_and_test_splits_share_no_question_and_each_can_measure(
    pointwise: list[dict[str, Any]], pairwise: list[dict[str, Any]]
) -> None:
    for rows, truth in ((pointwise, "label"), (pairwise, "preferred")):
        split_of: dict[str, str] = {}
        for row in rows:
            assert split_of.setdefault(row["prompt"], row["split"]) == row["split"], row  # one side per question
        counts = Counter((row["split"], row.get("criterion"), row[truth]) for row in rows)
        for (split, criterion, _), n in counts.items():
            other = {"pass": "fail", "fail": "pass", "a": "b", "b": "a"}
            assert n >= 4 and counts[(split, criterion, other[_])] >= 4, (split, criterion)
        assert {row["split"] for row in rows} == {"dev", "test"}


def test_pointwise_criteria_are_the_everyday_rubric_ids(pointwise: list[dict[str, Any]]) -> None:
    rubric = OmegaConf.to_container(OmegaConf.load(ROOT / "rlaif" / "conf" / "rubric" / "everyday.yaml"))
    assert isinstance(rubric, dict)
    ids = {criterion["id"] for criterion in rubric["criteria"]}
    assert {row["criterion"] for row in pointwise} == ids | {None}


def test_pointwise_labels_follow_from_the_reference(pointwise: list[dict[str, Any]]) -> None:
    for row in pointwise:
        contains_reference = row["reference"] in row["response"]
        if row["kind"] == "wrong_fact":
            assert not contains_reference, row  # a wrong answer: the correct one is absent
        else:  # the other rows differ only in tone or padding, never in content
            assert contains_reference, row
        if row["criterion"] == "concise":  # padding at least doubles the words; a short answer adds at most an opener
            ratio = len(row["response"].split()) / len(row["reference"].split())
            assert ratio >= 2 if row["label"] == "fail" else ratio < 2, row
    rude = [row for row in pointwise if row["kind"] in ("insult", "dismissive", "rude_padded")]
    assert rude and all(row["label"] == "fail" for row in rude)


def _checked_answer(prompt: str) -> str | None:
    """The correct answer worked out from the prompt alone, for the prompts where that is mechanical."""
    if m := re.fullmatch(r"What is (\d+) ([-+×]) (\d+)\?", prompt):
        a, op, b = int(m[1]), m[2], int(m[3])
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    if m := re.fullmatch(r"What is the word '(\w+)' spelled backwards\?", prompt):
        return m[1][::-1]
    if m := re.fullmatch(r"How many letters are in the word '(\w+)'\?", prompt):
        return f"{len(m[1])} letters"
    if m := re.fullmatch(r"How many times does the letter '(\w)' appear in '(\w+)'\?", prompt):
        count = m[2].count(m[1])
        return "once" if count == 1 else f"{count} times"
    return None


def test_checkable_answers_are_right(pointwise: list[dict[str, Any]], pairwise: list[dict[str, Any]]) -> None:
    checked = 0
    for row in pointwise + pairwise:
        answer = _checked_answer(row["prompt"])
        if answer is None:
            continue
        checked += 1
        assert re.search(rf"(?<![\w]){re.escape(answer)}(?![\w])", row["reference"]), row
        if row.get("kind") == "wrong_fact":
            assert not re.search(rf"(?<![\w]){re.escape(answer)}(?![\w])", row["response"]), row
    assert checked >= 40


def test_pairwise_schema_counts_and_balance(pairwise: list[dict[str, Any]]) -> None:
    assert len(pairwise) >= 100
    assert all(set(row) == PAIRWISE_KEYS for row in pairwise)
    assert len({row["id"] for row in pairwise}) == len(pairwise)
    sides = Counter(row["preferred"] for row in pairwise)
    assert set(sides) == {"a", "b"} and sides["a"] == sides["b"]
    for kind in {row["kind"] for row in pairwise}:
        kind_sides = Counter(row["preferred"] for row in pairwise if row["kind"] == kind)
        assert abs(kind_sides["a"] - kind_sides["b"]) <= 1, kind
    assert all(row["response_a"] != row["response_b"] for row in pairwise)


def test_pairwise_preferred_side_is_objectively_better(pairwise: list[dict[str, Any]]) -> None:
    for row in pairwise:
        better = row["response_a"] if row["preferred"] == "a" else row["response_b"]
        worse = row["response_b"] if row["preferred"] == "a" else row["response_a"]
        kind = row["kind"]
        if kind in ("correct_vs_wrong", "on_topic_vs_off_topic"):
            assert row["reference"] in better and row["reference"] not in worse, row
        elif kind == "polite_vs_rude":
            assert row["reference"] in better and row["reference"] in worse, row
        elif kind == "length_limit":
            assert len(better.split()) == 1 and len(worse.split()) >= 30, row
        elif kind == "number_only":
            assert better.isdigit() and not worse.isdigit(), row
        elif kind == "language":
            assert worse.startswith("The answer is") and not better.startswith("The answer is"), row
        else:
            pytest.fail(f"unexpected pair kind {kind!r}")


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    generator = _generator()
    written = generator.write(tmp_path)
    assert [p.name for p in written] == [POINTWISE.name, PAIRWISE.name]
    assert (tmp_path / POINTWISE.name).read_bytes() == POINTWISE.read_bytes()
    assert (tmp_path / PAIRWISE.name).read_bytes() == PAIRWISE.read_bytes()


def test_generator_is_deterministic_by_seed() -> None:
    generator = _generator()
    assert generator.build_pointwise(3) == generator.build_pointwise(3)
    assert generator.build_pointwise(3) != generator.build_pointwise(4)
    assert generator.build_pairwise(3) == generator.build_pairwise(3)
    assert generator.build_pairwise(3) != generator.build_pairwise(4)


def test_adversarial_audit_over_the_shipped_prompts(pointwise: list[dict[str, Any]]) -> None:
    cases = adversarial_cases(pointwise)
    kinds = Counter(case["kind"] for case in cases)
    assert len(cases) >= 100 and len(kinds) >= 7 and set(kinds) == set(CATEGORIES)


def test_labelled_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/labelled/*.jsonl" in config["tool"]["setuptools"]["package-data"]["rlaif"]
