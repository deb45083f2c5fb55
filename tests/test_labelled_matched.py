"""rlaif/data/labelled/everyday_matched.jsonl: hand-written pass/fail pairs that a word count cannot separate."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter, defaultdict
from fractions import Fraction
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from rlaif.evaluation.labelled_sets import load_labelled

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"id", "prompt", "response", "label", "criterion", "reference", "kind", "pair", "split"}
CRITERIA = ("polite", "concise")


def _words(text: str) -> int:
    return len(text.split())


def rank_auc(scores: list[float], labels: list[bool]) -> Fraction:
    """P(a positive outscores a negative), ties counting half: the rank AUC, exact."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    assert pos and neg
    wins = sum(Fraction(1) if p > n else Fraction(1, 2) if p == n else Fraction(0) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    text = (files("rlaif.data") / "labelled" / "everyday_matched.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pairs(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["pair"]].append(row)
    return grouped


def test_rank_auc_helper_can_tell_separable_from_tied() -> None:
    """The AUC check below must be able to fail: a perfectly separating score gives 1, a constant one 1/2."""
    assert rank_auc([1, 2, 3, 4], [False, False, True, True]) == 1
    assert rank_auc([4, 3, 2, 1], [False, False, True, True]) == 0
    assert rank_auc([5, 5, 5, 5], [False, True, False, True]) == Fraction(1, 2)


def test_schema_ids_and_kinds(rows: list[dict[str, Any]]) -> None:
    """Same pointwise shape as the other packaged sets plus `pair`; ids unique and named after their pair."""
    assert all(set(row) == KEYS for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["criterion"] in CRITERIA and row["label"] in ("pass", "fail") and row["split"] in ("dev", "test")
        assert row["kind"] == f"matched_{row['criterion']}"
        assert row["pair"].startswith(f"{row['criterion']}-")
        assert row["id"] == f"m-{row['pair']}-{row['label']}"
        assert row["prompt"].strip() and row["response"].strip() and row["reference"].strip()


def test_every_pair_is_one_pass_and_one_fail_of_equal_word_count(pairs: dict[str, list[dict[str, Any]]]) -> None:
    """The point of the set: within a pair only the criterion differs, never the length or the question."""
    for pair, members in pairs.items():
        assert sorted(row["label"] for row in members) == ["fail", "pass"], pair
        assert len({row["prompt"] for row in members}) == 1, pair
        assert len({row["criterion"] for row in members}) == 1, pair
        assert len({row["split"] for row in members}) == 1, pair
        assert _words(members[0]["response"]) == _words(members[1]["response"]), pair
        assert members[0]["response"] != members[1]["response"], pair


def test_enough_pairs_varied_lengths_and_balanced_splits(pairs: dict[str, list[dict[str, Any]]]) -> None:
    """At least 40 pairs per criterion, lengths spread out, dev/test halves, each question on one side only."""
    for criterion in CRITERIA:
        mine = [members for members in pairs.values() if members[0]["criterion"] == criterion]
        assert len(mine) >= 40, criterion
        lengths = {_words(members[0]["response"]) for members in mine}
        assert min(lengths) <= 10 and max(lengths) >= 30 and len(lengths) >= 12, (criterion, sorted(lengths))
        splits = Counter(members[0]["split"] for members in mine)
        assert abs(splits["dev"] - splits["test"]) <= 1, (criterion, splits)
        assert len({members[0]["prompt"] for members in mine}) == len(mine), criterion  # a new question per pair


def test_word_count_has_no_signal(rows: list[dict[str, Any]]) -> None:
    """A length heuristic (more words -> fail) scores exactly chance on each criterion, overall and per split."""
    for criterion in CRITERIA:
        for split in ("dev", "test", None):
            mine = [r for r in rows if r["criterion"] == criterion and split in (None, r["split"])]
            auc = rank_auc([float(_words(r["response"])) for r in mine], [r["label"] == "fail" for r in mine])
            assert auc == Fraction(1, 2), (criterion, split, auc)


def test_loads_with_the_project_loader(rows: list[dict[str, Any]]) -> None:
    """judge_eval reads it as `packaged:everyday_matched`: pointwise, every row kept."""
    labelled = load_labelled("packaged:everyday_matched")
    assert not labelled.pairwise and len(labelled.rows) == len(rows)


def test_generator_reproduces_the_file(rows: list[dict[str, Any]]) -> None:
    """scripts/make_matched_data.py is the source of the hand-written rows: file and script must agree."""
    spec = importlib.util.spec_from_file_location("make_matched_data", ROOT / "scripts" / "make_matched_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.rows() == rows
