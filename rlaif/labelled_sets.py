"""Labelled sets for judge evaluation: pointwise ``{prompt, response, label: pass|fail, criterion?,
reference?, kind?}`` or pairwise ``{prompt, response_a, response_b, preferred: a|b, reference?, kind?}``
JSONL rows, read and checked with every problem named as ``file:line``. ``packaged:NAME`` is a set
shipped with rlaif (``rlaif/labelled/NAME.jsonl``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from rlaif.config_checks import ConfigError
from rlaif.data import DataError

_POINTWISE = ("prompt", "response", "label")
_PAIRWISE = ("prompt", "response_a", "response_b", "preferred")


@dataclass
class LabelledSet:
    """The labelled rows as written (extra fields kept), with where each came from."""

    path: Path
    pairwise: bool
    rows: list[dict[str, Any]]
    where: list[str]  # "file:line" per row

    def truth(self, i: int) -> str:
        return str(self.rows[i]["preferred" if self.pairwise else "label"])


def labelled_path(name: str) -> Path:
    """``packaged:NAME`` is a set shipped with rlaif (``rlaif/labelled/NAME.jsonl``); else a file path."""
    if name.startswith("packaged:"):
        return Path(str(files("rlaif") / "labelled" / f"{name.removeprefix('packaged:')}.jsonl"))
    return Path(name).expanduser()


def load_labelled(name: str) -> LabelledSet:
    """Read and check every row; raises :class:`DataError` naming ``file:line`` on the first problem."""
    path = labelled_path(name)
    if not path.is_file():
        raise DataError(f"{path}: labelled file not found (labelled)")
    rows, where, pairwise = [], [], None
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
        is_pair = "preferred" in row or "response_a" in row
        if pairwise is not None and is_pair != pairwise:
            raise DataError(f"{at}: a {'pairwise' if is_pair else 'pointwise'} row in a set whose first row is not")
        pairwise = is_pair
        _check_row(row, at, is_pair)
        row.setdefault("id", f"{path.stem}-{lineno}")
        rows.append(row)
        where.append(at)
    if not rows:
        raise DataError(f"{path}: no rows")
    seen: set[str] = set()
    for row, at in zip(rows, where, strict=True):
        if str(row["id"]) in seen:
            raise DataError(f"{at}: duplicate id {row['id']!r}")
        seen.add(str(row["id"]))
    return LabelledSet(path, bool(pairwise), rows, where)


def _check_row(row: dict[str, Any], at: str, pairwise: bool) -> None:
    required = _PAIRWISE if pairwise else _POINTWISE
    for key in required:
        if key not in row:
            shape = "{prompt, response_a, response_b, preferred}" if pairwise else "{prompt, response, label}"
            raise DataError(f"{at}: missing required field {key!r} (a {shape} row)")
    if not isinstance(row["prompt"], str) or not row["prompt"].strip():
        raise DataError(f"{at}: 'prompt' must be a non-empty string")
    for key in ("response_a", "response_b") if pairwise else ("response",):
        if not isinstance(row[key], str):
            raise DataError(f"{at}: {key!r} must be a string")
    key, allowed = ("preferred", ("a", "b")) if pairwise else ("label", ("pass", "fail"))
    if row[key] not in allowed:
        raise DataError(f"{at}: {key!r} must be {' or '.join(repr(a) for a in allowed)}, got {row[key]!r}")
    if row.get("criterion") is not None and not isinstance(row["criterion"], str):
        raise DataError(f"{at}: 'criterion' must be a criterion id or null")


def check_compatible(labelled: LabelledSet, reward: Any) -> None:
    """The reward can grade this kind of set, and every ``criterion`` is one of its rubric's."""
    name = getattr(reward, "__name__", type(reward).__name__)
    if labelled.pairwise and not hasattr(reward, "judge_orders"):
        raise ConfigError(
            f"{labelled.path} is a pairwise set: use reward=preference (reward {name!r} grades one answer)"
        )
    if not labelled.pairwise and not hasattr(reward, "rubric"):
        raise ConfigError(f"{labelled.path} is a pointwise set: use a rubric reward (reward {name!r} is not one)")
    if labelled.pairwise:
        return
    ids = [c.id for c in reward.rubric.criteria]
    for row, at in zip(labelled.rows, labelled.where, strict=True):
        if row.get("criterion") is not None and row["criterion"] not in ids:
            raise DataError(f"{at}: criterion {row['criterion']!r} is not in rubric {reward.rubric.name!r} ({ids})")
