"""Labelled sets for judge evaluation: pointwise ``{prompt, response, label: pass|fail, criterion?,
reference?, kind?, split?}``, pairwise ``{prompt, response_a, response_b, preferred: a|b, reference?, kind?,
split?}`` or listwise ``{prompt, responses: [...], ranks: [1 = best, ...], reference?, kind?, split?}``,
or item rows ``{prompt, response, item, met: true|false, reference?, kind?, split?}`` (one per-row rubric item
in any shape :mod:`rlaif.rewards.row_rubric_spec` accepts, and whether the response meets it) JSONL rows, read
and checked with every problem named as ``file:line``, and graded by a reward (:func:`judge_items`:
``rlaif.judge_eval`` and the judge canaries score rows the same way). ``packaged:NAME`` is a set shipped with
rlaif (``rlaif/data/labelled/NAME.jsonl``).

``split`` keeps tuning apart from reporting: ``dev`` rows are for choosing prompts, wordings and rubrics,
``test`` rows for the figures a judge is reported and gated on (:func:`select_split`). A set either gives
every row a split or none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlaif.data.packaged import resolve
from rlaif.errors import ConfigError, DataError, RubricError
from rlaif.rewards.capabilities import ComparesAnswers, GradesCriteria, GradesRowRubrics, JudgesGroups
from rlaif.rewards.conversation import reference_text
from rlaif.rewards.correlation import kendall_tau
from rlaif.rewards.row_rubric_spec import RubricItem, parse_item
from rlaif.rewards.verdicts.parsing import VerdictError
from rlaif.runs.progress import progress

log = logging.getLogger(__name__)

_POINTWISE = ("prompt", "response", "label")
_PAIRWISE = ("prompt", "response_a", "response_b", "preferred")
_LISTWISE = ("prompt", "responses", "ranks")
_ITEM = ("prompt", "response", "item", "met")
SPLITS = ("dev", "test")


@dataclass
class LabelledSet:
    """The labelled rows as written (extra fields kept), with where each came from."""

    path: Path
    pairwise: bool
    rows: list[dict[str, Any]]
    where: list[str]  # "file:line" per row
    split: str | None = None  # the rows' split after select_split; None: the file as written
    listwise: bool = False  # rows of several answers with a known order (ranks), graded as a group
    items: bool = False  # rows of one rubric item each (reward=row_rubric), scored like pointwise rows

    @property
    def kind(self) -> str:
        return "listwise" if self.listwise else "pairwise" if self.pairwise else "item" if self.items else "pointwise"

    def truth(self, i: int) -> str:
        return truth_of(self.rows[i])


def truth_of(row: Mapping[str, Any]) -> str:
    """A row's label as a verdict: ``a``/``b`` (pairs), ``pass``/``fail`` (pointwise; an item row: met or not)."""
    if "met" in row and "item" in row:
        return "pass" if row["met"] else "fail"
    return str(row["preferred" if "preferred" in row else "label"])


def row_item(row: Mapping[str, Any], where: str = "item") -> RubricItem:
    """An item row's rubric item, parsed (:class:`RubricError` names ``where``)."""
    return parse_item(row["item"], f"{where}: item")


def item_extra(row: Mapping[str, Any]) -> dict[str, Any]:
    """An item row as a training row's ``extra``: a rubric of that one item, a pitfall's weight made positive
    (a rubric of a pitfall alone earns nothing and is refused; the judge's request does not show weights),
    so the row's score is P(met) asked exactly as training asks it."""
    raw = row["item"]
    if isinstance(raw, Mapping):
        key = "points" if "criterion" in raw else "weight"
        if key in raw:
            raw = {**raw, key: abs(float(raw[key]))}
    return {"rubric": [raw]}


def labelled_path(name: str) -> Path:
    """``packaged:NAME`` is a set shipped with rlaif (``rlaif/data/labelled/NAME.jsonl``); else a file path."""
    return resolve("labelled", name)


def load_labelled(name: str) -> LabelledSet:
    """Read and check every row; raises :class:`DataError` naming ``file:line`` on the first problem."""
    path = labelled_path(name)
    if not path.is_file():
        raise DataError(f"{path}: labelled file not found (labelled)")
    rows, where, kind = [], [], None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{at}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{at}: expected a JSON object, got {type(row).__name__}")
        row_kind = _kind(row)
        if kind is not None and row_kind != kind:
            raise DataError(f"{at}: a {row_kind} row in a set whose first row is not (it is {kind})")
        kind = row_kind
        if kind == "listwise":
            _check_listwise(row, at)
        elif kind == "item":
            _check_item(row, at)
        else:
            _check_row(row, at, kind == "pairwise")
        row.setdefault("id", f"{path.stem}-{lineno}")
        rows.append(row)
        where.append(at)
    if not rows:
        raise DataError(f"{path}: no rows")
    with_split = [("split" in row) for row in rows]
    if any(with_split) and not all(with_split):
        at = where[with_split.index(not with_split[0])]
        raise DataError(f"{at}: every row needs a 'split' ({' or '.join(SPLITS)}) when any row has one")
    seen: set[str] = set()
    for row, at in zip(rows, where, strict=True):
        if str(row["id"]) in seen:
            raise DataError(f"{at}: duplicate id {row['id']!r}")
        seen.add(str(row["id"]))
    return LabelledSet(path, kind == "pairwise", rows, where, listwise=kind == "listwise", items=kind == "item")


def _kind(row: Mapping[str, Any]) -> str:
    if "responses" in row or "ranks" in row:
        return "listwise"
    if "item" in row or "met" in row:
        return "item"
    return "pairwise" if "preferred" in row or "response_a" in row else "pointwise"


def _check_shape(row: dict[str, Any], at: str, required: tuple[str, ...]) -> None:
    """What every kind of labelled row needs: its ``required`` fields, a non-empty prompt and a known split."""
    for key in required:
        if key not in row:
            raise DataError(f"{at}: missing required field {key!r} (a {{{', '.join(required)}}} row)")
    if not isinstance(row["prompt"], str) or not row["prompt"].strip():
        raise DataError(f"{at}: 'prompt' must be a non-empty string")
    if "split" in row and row["split"] not in SPLITS:
        raise DataError(f"{at}: 'split' must be {' or '.join(repr(s) for s in SPLITS)}, got {row['split']!r}")


def _check_listwise(row: dict[str, Any], at: str) -> None:
    _check_shape(row, at, _LISTWISE)
    responses, ranks = row["responses"], row["ranks"]
    if not isinstance(responses, list) or len(responses) < 2 or not all(isinstance(r, str) for r in responses):
        raise DataError(f"{at}: 'responses' must be a list of at least two strings")
    if (
        not isinstance(ranks, list)
        or len(ranks) != len(responses)
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in ranks)
    ):
        raise DataError(f"{at}: 'ranks' must be one integer >= 1 per response (1 = best), got {ranks!r}")
    if len(set(ranks)) < 2:
        raise DataError(f"{at}: 'ranks' must order the responses: all are ranked {ranks[0]}")


def _check_item(row: dict[str, Any], at: str) -> None:
    _check_shape(row, at, _ITEM)
    if not isinstance(row["response"], str):
        raise DataError(f"{at}: 'response' must be a string")
    if not isinstance(row["met"], bool):
        raise DataError(f"{at}: 'met' must be true or false, got {row['met']!r}")
    try:
        row_item(row, at)
    except RubricError as exc:
        raise DataError(str(exc)) from None


def _check_row(row: dict[str, Any], at: str, pairwise: bool) -> None:
    _check_shape(row, at, _PAIRWISE if pairwise else _POINTWISE)
    for key in ("response_a", "response_b") if pairwise else ("response",):
        if not isinstance(row[key], str):
            raise DataError(f"{at}: {key!r} must be a string")
    key, allowed = ("preferred", ("a", "b")) if pairwise else ("label", ("pass", "fail"))
    if row[key] not in allowed:
        raise DataError(f"{at}: {key!r} must be {' or '.join(repr(a) for a in allowed)}, got {row[key]!r}")
    if row.get("criterion") is not None and not isinstance(row["criterion"], str):
        raise DataError(f"{at}: 'criterion' must be a criterion id or null")


def select_split(labelled: LabelledSet, split: str) -> LabelledSet:
    """The rows of ``split`` (``dev``, ``test`` or ``all``). A file without split fields is used whole
    (``split`` is then ``"none"``, which the report names): there is nothing to hold out."""
    if split not in (*SPLITS, "all"):
        raise ConfigError(f"split: expected dev, test or all, got {split!r}")
    if split == "all" or "split" not in labelled.rows[0]:
        return replace(labelled, split="all" if "split" in labelled.rows[0] else "none")
    keep = [i for i, row in enumerate(labelled.rows) if row["split"] == split]
    if not keep:
        raise DataError(f"{labelled.path}: no row has split {split!r} (split)")
    return replace(
        labelled, rows=[labelled.rows[i] for i in keep], where=[labelled.where[i] for i in keep], split=split
    )


def check_compatible(labelled: LabelledSet, reward: Any) -> None:
    """The reward can grade this kind of set, and every ``criterion`` is one of its rubric's."""
    name = getattr(reward, "__name__", type(reward).__name__)
    if labelled.items:
        if not isinstance(reward, GradesRowRubrics):
            raise ConfigError(f"{labelled.path} is a set of rubric items: use reward=row_rubric (reward {name!r})")
        return
    if labelled.listwise:
        if not isinstance(reward, JudgesGroups):
            raise ConfigError(f"{labelled.path} is a listwise set: use reward=group (reward {name!r} judges no group)")
        return
    if labelled.pairwise and not isinstance(reward, ComparesAnswers):
        raise ConfigError(
            f"{labelled.path} is a pairwise set: use reward=preference or reward=group "
            f"(reward {name!r} grades one answer)"
        )
    if not labelled.pairwise and not isinstance(reward, GradesCriteria):
        raise ConfigError(f"{labelled.path} is a pointwise set: use a rubric reward (reward {name!r} is not one)")
    if labelled.pairwise:
        return
    ids = [c.id for c in reward.graded_rubric.criteria]
    for row, at in zip(labelled.rows, labelled.where, strict=True):
        if row.get("criterion") is not None and row["criterion"] not in ids:
            raise DataError(
                f"{at}: criterion {row['criterion']!r} is not in rubric {reward.graded_rubric.name!r} ({ids})"
            )


@dataclass
class JudgedItems:
    """What one judge said about each item of a labelled set (judge_eval compares it with the labels): a score
    (None on failure), its error, and for pairs both orders."""

    scores: list[float | None]
    errors: list[str | None]
    orders: list[tuple[float, float] | None]
    soft: bool = False  # some probability strictly between 0 and 1: log-probability verdicts
    seconds: float = 0.0
    # Listwise sets: each answer's score in each order judged (None: no verdict); ``scores`` then holds
    # Kendall's tau between the judged and the known order.
    groups: list[list[tuple[float, ...]] | None] = field(default_factory=list)

    def add(
        self, score: float | None, error: str | None, orders: tuple[float, float] | None = None, soft: bool = False
    ) -> None:
        self.scores.append(score)
        self.errors.append(error)
        self.orders.append(orders)
        self.soft |= soft


async def judge_items(
    reward: Any,
    rows: Sequence[Mapping[str, Any]],
    pairwise: bool,
    batch_size: int,
    what: str = "items",
    listwise: bool = False,
) -> JudgedItems:
    """Grade ``rows`` in batches of ``batch_size`` (each batch has its own judge deadline); never raises
    for a judge failure. Shows a progress bar (rlaif.runs.progress) and logs each batch as ``what``."""
    out = JudgedItems([], [], [])
    started = time.perf_counter()
    with progress(len(rows), f"judging {what}") as bar:
        for start in range(0, len(rows), batch_size):
            await _judge_batch(reward, rows[start : start + batch_size], pairwise, listwise, out)
            bar.update(len(rows[start : start + batch_size]))
            log.info("%s: %d/%d judged", what, len(out.scores), len(rows))
    out.seconds = time.perf_counter() - started
    return out


async def _judge_batch(
    reward: Any, chunk: Sequence[Mapping[str, Any]], pairwise: bool, listwise: bool, out: JudgedItems
) -> None:
    """One batch's verdicts appended to ``out``."""
    if listwise:
        for row, judged in zip(chunk, await asyncio.gather(*(_group(reward, row) for row in chunk)), strict=True):
            if isinstance(judged, str):
                out.add(None, judged)
                out.groups.append(None)
                continue
            means = [sum(s) / len(s) for s in judged]
            tau = kendall_tau(means, [-r for r in row["ranks"]])
            out.add(0.0 if tau is None else tau, None)  # None: every answer scored the same, no order
            out.groups.append(judged)
        return
    if pairwise:
        for result in await asyncio.gather(*(_orders(reward, row) for row in chunk)):
            if isinstance(result, str):
                out.add(None, result)
            else:
                out.add(sum(result) / 2, None, result, soft=any(0.0 < p < 1.0 for p in result))
        return
    refs = [reference_text(row.get("reference")) for row in chunk]
    if chunk and "item" in chunk[0] and "met" in chunk[0]:  # item rows: each graded as a one-item rubric
        extras = [item_extra(row) for row in chunk]
        grades = await reward.grade([r["prompt"] for r in chunk], [r["response"] for r in chunk], refs, extras)
        for grade in grades:
            met = (grade.verdicts or {}).get("i0", {}).get("met")  # the item's P(met), file criteria left out
            score = grade.score if met is None or grade.score is None else float(met)
            out.add(score, grade.error, soft=met is not None and 0.0 < met < 1.0)
        return
    grades = await reward.grade([r["prompt"] for r in chunk], [r["response"] for r in chunk], refs)
    for row, grade in zip(chunk, grades, strict=True):
        criterion = row.get("criterion")
        score = grade.score if criterion is None or grade.score is None else grade.passes.get(criterion, grade.score)
        out.add(score, grade.error, soft=any(0.0 < p < 1.0 for p in grade.passes.values()))


async def _group(reward: Any, row: Mapping[str, Any]) -> list[tuple[float, ...]] | str:
    try:
        return await reward.judge_group(row["prompt"], list(row["responses"]), reference_text(row.get("reference")))
    except VerdictError as exc:
        return str(exc)


async def _orders(reward: Any, row: Mapping[str, Any]) -> tuple[float, float] | str:
    try:
        ref = reference_text(row.get("reference"))
        first, second = await reward.judge_orders(row["prompt"], row["response_a"], row["response_b"], ref)
        return (float(first), float(second))
    except VerdictError as exc:
        return str(exc)
