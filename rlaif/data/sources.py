"""Prompt rows from where users keep them: any ``datasets.load_dataset`` source, mapped onto rlaif's columns.

``data.path`` is a local ``.parquet``, ``.csv``, ``.json`` or ``.jsonl`` file, or ``hub:<dataset id>`` (with
``data.subset`` and ``data.split``; offline, only what the hub cache holds). ``data.columns`` names the
source's columns:

- ``messages``: a list of ``{role, content}`` turns (in a CSV, its JSON text), or
- ``prompt``: a plain question, which becomes one user turn;
- ``reference_answer`` and ``id``: optional;
- ``rubric``: a per-row rubric's items (``reward=row_rubric``), kept in the row's ``extra`` as ``rubric``.

Every other column is kept in the row's ``extra`` (as Nova passes extra fields through). Each row is then
checked like a Nova JSONL row; errors name the source, the row and the ``data.columns`` key at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlaif.data.records import row_from_record
from rlaif.errors import DataError

MAPPED = ("messages", "prompt", "reference_answer", "id", "rubric")
_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}


def read_source(
    path: str, columns: Mapping[str, Any] | None, split: str = "train", subset: str | None = None
) -> list[dict[str, Any]]:
    """The rows of ``path`` with ``columns`` mapped; raises ``DataError`` naming what is wrong."""

    mapping = _mapping(columns)
    dataset, source = _load(path, split, subset)
    available = list(dataset.column_names)
    defaulted = "prompt" not in mapping and not (columns or {}).get("messages")
    if defaulted and "messages" not in available:
        raise DataError(
            f"{source}: no 'messages' column; set exactly one of messages (chat turns) and prompt (a plain question) "
            f"in data.columns (columns: {available})"
        )
    for key, column in mapping.items():
        if column not in available:
            raise DataError(f"{source}: data.columns.{key}={column!r} is not a column (columns: {available})")
    rows = []
    for index, record in enumerate(dataset):
        where = f"{source}[row {index}]"
        raw: dict[str, Any] = {k: v for k, v in record.items() if k not in mapping.values()}
        if "messages" in mapping:
            raw["messages"] = _messages(record[mapping["messages"]], where)
        else:
            question = record[mapping["prompt"]]
            if not isinstance(question, str) or not question.strip():
                raise DataError(f"{where}: column {mapping['prompt']!r} (data.columns.prompt) must be non-empty text")
            raw["messages"] = [{"role": "user", "content": question}]
        if "reference_answer" in mapping and record[mapping["reference_answer"]] is not None:
            raw["reference_answer"] = record[mapping["reference_answer"]]
        if "id" in mapping:
            raw["id"] = record[mapping["id"]]
        if "rubric" in mapping:
            raw["rubric"] = record[mapping["rubric"]]
        rows.append(row_from_record(raw, where, default_id=f"{Path(path.removeprefix('hub:')).stem}-{index}"))
    if not rows:
        raise DataError(f"{source}: no rows")
    return rows


def _mapping(columns: Mapping[str, Any] | None) -> dict[str, str]:

    given = {str(k): v for k, v in (columns or {}).items() if v is not None}
    unknown = sorted(set(given) - set(MAPPED))
    if unknown:
        raise DataError(f"data.columns: unknown key(s) {unknown} (known: {list(MAPPED)})")
    if "messages" in given and "prompt" in given:
        raise DataError("data.columns: set exactly one of messages (chat turns) and prompt (a plain question)")
    if "prompt" not in given:  # a source with a messages column needs no mapping for it (checked when read)
        given.setdefault("messages", "messages")
    for key, value in given.items():
        if not isinstance(value, str) or not value:
            raise DataError(f"data.columns.{key}: expected a column name, got {value!r}")
    return given


def _load(path: str, split: str, subset: str | None) -> tuple[Any, str]:
    from datasets import load_dataset

    if path.startswith("hub:"):
        source = f"{path} (subset {subset}, split {split})" if subset else f"{path} (split {split})"
        try:
            return load_dataset(path.removeprefix("hub:"), subset, split=split), source
        except Exception as exc:  # offline, unknown id, unknown split: say which and why
            raise DataError(
                f"{source}: datasets.load_dataset failed (data.path, data.subset, data.split): {exc}"
            ) from None
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{file}: dataset file not found (data.path)")
    builder = _BUILDERS.get(file.suffix.lower())
    if builder is None:
        raise DataError(f"{file}: unknown format {file.suffix!r} (data.path: .parquet, .csv, .json, .jsonl or hub:ID)")
    try:
        return load_dataset(builder, data_files=str(file), split="train"), str(file)
    except Exception as exc:
        raise DataError(f"{file}: datasets could not read it as {builder}: {exc}") from None


def _messages(value: Any, where: str) -> Any:
    if isinstance(value, str):  # a CSV keeps the turns as JSON text
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"{where}: the messages column (data.columns.messages) is text but not JSON") from None
    return value
