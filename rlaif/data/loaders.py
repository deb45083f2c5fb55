"""Training prompts: Nova RFT JSONL, or any ``datasets.load_dataset`` source, into TRL prompt rows.

A JSONL row is ``{"id", "messages": [system/user turns], "reference_answer"?: any JSON, ...}``; some AWS
pages put ``reference_answer`` under ``"metadata"``, which is accepted too. The output is a
``datasets.Dataset`` with TRL's conversational ``prompt`` column, a string ``id``, a string
``reference_answer`` (JSON text for structured references, "" when absent, so Arrow sees one type) and
``extra``: every other field of the row (root and ``metadata``) as a JSON object in text, which rewards
receive and ``reward=nova_lambda`` passes through to a Nova reward function, as Nova does.
Every problem is reported as ``file:line: what is wrong``.

Other sources (``rlaif.data.sources``): a local parquet, CSV or JSON file, or ``hub:<dataset id>``, with
``data.columns`` naming the source's columns for ``messages`` or ``prompt``, ``reference_answer`` and ``id``.

Evaluation prompts (``rlaif.evaluate``) come from ``data.eval_path`` (a file whose questions training
never saw) or ``data.eval_fraction`` (a share of ``data.path``, chosen by row id, that training skips).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from rlaif.data.packaged import is_packaged, packaged_file, resolve
from rlaif.data.records import row_from_record
from rlaif.data.sources import read_source
from rlaif.errors import DataError, parse_settings

MIN_ROWS = 100  # AWS: "A minimum of 100 records in training dataset" for Nova RFT on Bedrock

log = logging.getLogger("rlaif.data.loaders")


def packaged_prompts(name: str = "default") -> Path:
    """Path of a prompt set shipped inside the package (``rlaif/data/prompts/<name>.jsonl``)."""
    return packaged_file("prompts", name)


def resolve_path(path: str) -> Path:
    """``packaged:<name>`` means a prompt set shipped with rlaif; anything else is a file path."""
    return resolve("prompts", path)


def read_rows(path: str | Path, key: str = "data.path") -> list[dict[str, Any]]:
    """Parse and validate every line; raises :class:`DataError` naming ``file:line`` on the first problem
    (and the config ``key`` that named a missing file)."""
    file = resolve_path(str(path))
    if not file.is_file():
        raise DataError(f"{file}: dataset file not found ({key})")
    rows = []
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            rows.append(row_from_record(raw, f"{file}:{lineno}", default_id=f"{file.stem}-{lineno}"))
    if not rows:
        raise DataError(f"{file}: no rows")
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{file}: duplicate id {dup!r}")
    return rows


def load_prompts(
    path: str,
    limit: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
    eval_path: str | None = None,
    eval_fraction: float | None = None,
    columns: Mapping[str, Any] | None = None,
    split: str = "train",
    subset: str | None = None,
) -> Any:
    """The training rows as a ``datasets.Dataset`` ready for ``GRPOTrainer(train_dataset=...)``.

    With ``eval_fraction`` (and no ``eval_path``) the held-out rows of :func:`split_held_out` are left
    out, so ``rlaif.evaluate`` can test on prompts training never saw; ``eval_path`` leaves training as is.
    A file of the user's with fewer than :data:`MIN_ROWS` rows gets AWS's warning for Nova RFT.
    """
    _check_keys(limit, eval_fraction)
    rows = load_rows(path, columns, split, subset)
    if not is_packaged(path) and len(rows) < MIN_ROWS:
        log.warning(
            "%s: %d rows. Amazon Nova RFT asks for at least %d training rows (Bedrock refuses fewer); with few "
            "prompts the reward mostly measures which prompts a step drew",
            path,
            len(rows),
            MIN_ROWS,
        )
    if _held_out_fraction(eval_path, eval_fraction) is not None:
        rows = split_held_out(rows, float(eval_fraction or 0), path)[0]
    return _as_dataset(rows, limit, seed, shuffle)


def load_eval_prompts(
    path: str,
    limit: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
    eval_path: str | None = None,
    eval_fraction: float | None = None,
    columns: Mapping[str, Any] | None = None,
    split: str = "train",
    subset: str | None = None,
) -> Any:
    """The held-out rows (same keys as ``cfg.data``): ``eval_path``'s file, or the ``eval_fraction`` of
    ``path`` that :func:`load_prompts` leaves out. Raises :class:`DataError` when neither is set, or when
    an ``eval_path`` question also appears in ``path`` (the model would be tested on what it trained on).
    """
    _check_keys(limit, eval_fraction)
    fraction = _held_out_fraction(eval_path, eval_fraction)
    if fraction is not None:
        rows = split_held_out(load_rows(path, columns, split, subset), fraction, path)[1]
    elif eval_path is not None:
        rows = read_rows(eval_path, key="data.eval_path")
        _check_unseen(rows, load_rows(path, columns, split, subset), eval_path, path)
    else:
        raise DataError("data.eval_path / data.eval_fraction: no eval split configured; set one of them")
    return _as_dataset(rows, limit, seed, shuffle)


def load_rows(
    path: str, columns: Mapping[str, Any] | None = None, split: str = "train", subset: str | None = None
) -> list[dict[str, Any]]:
    """Nova JSONL (``packaged:`` or ``.jsonl``, no column mapped) read strictly, else any datasets source."""
    mapped = {str(k): v for k, v in (columns or {}).items() if v is not None}
    rubric = mapped.pop("rubric", None)
    if not mapped and (is_packaged(path) or path.endswith(".jsonl")):
        # Read strictly, line by line: a rubric's items may mix shapes (strings and mappings), which Arrow cannot.
        rows = read_rows(path)
        return [_renamed(row, rubric, "rubric") for row in rows] if rubric else rows
    return read_source(path, columns, split, subset)


def _renamed(row: dict[str, Any], field: str, to: str) -> dict[str, Any]:
    """``row`` with its extra field ``field`` under the name ``to`` (what ``data.columns.<to>`` maps)."""
    extra = json.loads(row["extra"])
    if field in extra:
        extra[to] = extra.pop(field)
    return {**row, "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True)}


def row_origins(path: str, columns: Mapping[str, Any] | None = None) -> dict[str, str]:
    """``file:line`` of each row of a Nova JSONL ``path``, by row id (empty for other sources: their rows are named
    by id). For messages about a row found wrong after loading (its rubric)."""
    mapped = any(v is not None for k, v in (columns or {}).items() if k != "rubric")
    if mapped or not (is_packaged(path) or path.endswith(".jsonl")):
        return {}
    file = resolve_path(path)
    origins = {}
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():  # read_rows has parsed the file already: every line is a JSON object
                origins[str(json.loads(line).get("id", f"{file.stem}-{lineno}"))] = f"{file}:{lineno}"
    return origins


def split_held_out(
    rows: list[dict[str, Any]], fraction: float, path: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training rows, held-out rows): a row is held out when the hash of its id falls below ``fraction``.

    Decided per row by its id alone, so the split does not move with ``seed``, ``shuffle``, ``limit`` or
    rows appended later: a row that trained once never lands in the eval split. The held-out share is
    about ``fraction``, not exact.
    """
    train: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for row in rows:
        digest = hashlib.sha256(row["id"].encode("utf-8")).digest()
        (held if int.from_bytes(digest[:8], "big") / 2**64 < fraction else train).append(row)
    if not train or not held:
        side = "no training rows" if not train else "no held-out rows"
        raise DataError(
            f"{resolve_path(str(path))}: data.eval_fraction={fraction} leaves {side} of {len(rows)}; "
            "choose another fraction or set data.eval_path to a file"
        )
    return train, held


def _held_out_fraction(eval_path: str | None, eval_fraction: float | None) -> float | None:
    """``eval_fraction`` (checked with the other keys), or None when the eval split is not a share of the file."""
    if eval_fraction is None:
        return None
    if eval_path is not None:
        raise DataError(
            "data.eval_path and data.eval_fraction are both set: choose one "
            "(data.eval_path=null holds out a fraction of data.path)"
        )
    return float(eval_fraction)


def _check_unseen(rows: list[dict[str, Any]], train_rows: list[dict[str, Any]], eval_path: str, path: str) -> None:
    seen = {_question(r) for r in train_rows}
    repeated = [r["id"] for r in rows if _question(r) in seen]
    if repeated:
        shown = ", ".join(repr(i) for i in repeated[:5]) + (" ..." if len(repeated) > 5 else "")
        raise DataError(
            f"{resolve_path(str(eval_path))}: {len(repeated)} eval question(s) also in the training file "
            f"{resolve_path(str(path))} ({shown}); held-out prompts must be unseen (data.eval_path)"
        )


def _question(row: dict[str, Any]) -> str:
    # The user turns, case- and space-normalised: the same question under another system prompt is still seen.
    return " ".join(" ".join(m["content"] for m in row["prompt"] if m["role"] == "user").lower().split())


class _Keys(BaseModel):
    """The ``data`` keys checked here (the paths are checked by reading them)."""

    model_config = ConfigDict(strict=True)

    limit: PositiveInt | None = None
    eval_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None


def _check_keys(limit: Any, eval_fraction: Any) -> None:
    parse_settings(_Keys, {"limit": limit, "eval_fraction": eval_fraction}, "data")


def _as_dataset(rows: list[dict[str, Any]], limit: int | None, seed: int, shuffle: bool) -> Any:
    from datasets import Dataset

    dataset = Dataset.from_list(rows)
    if shuffle:
        dataset = dataset.shuffle(seed=seed)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset
