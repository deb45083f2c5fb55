"""Training prompts: Nova RFT JSONL (or any JSONL with ``messages``) into TRL prompt rows.

A row is ``{"id", "messages": [system/user turns], "reference_answer"?: any JSON, ...}``; some AWS
pages put ``reference_answer`` under ``"metadata"``, which is accepted too. The output is a
``datasets.Dataset`` with TRL's conversational ``prompt`` column, a string ``id`` and a string
``reference_answer`` (JSON text for structured references, "" when absent, so Arrow sees one type).
Every problem is reported as ``file:line: what is wrong``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

_ROLES = {"system", "user", "assistant"}


class DataError(ValueError):
    """A dataset file is malformed; the message names the file and line."""


def packaged_prompts(name: str = "default") -> Path:
    """Path of a prompt set shipped inside the package (``rlaif/prompts/<name>.jsonl``)."""
    return Path(str(files("rlaif") / "prompts" / f"{name}.jsonl"))


def resolve_path(path: str) -> Path:
    """``packaged:<name>`` means a prompt set shipped with rlaif; anything else is a file path."""
    if path.startswith("packaged:"):
        return packaged_prompts(path.removeprefix("packaged:"))
    return Path(path).expanduser()


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Parse and validate every line; raises :class:`DataError` naming ``file:line`` on the first problem."""
    file = resolve_path(str(path))
    if not file.is_file():
        raise DataError(f"{file}: dataset file not found (data.path)")
    rows = []
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            rows.append(_row(raw, f"{file}:{lineno}", default_id=f"{file.stem}-{lineno}"))
    if not rows:
        raise DataError(f"{file}: no rows")
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{file}: duplicate id {dup!r}")
    return rows


def _row(raw: Any, where: str, default_id: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    messages = raw.get("messages")
    if messages is None:
        raise DataError(f"{where}: missing required field 'messages'")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise DataError(f"{where}: messages[{k}] must be {{role: system|user|assistant, content: <string>}}")
    if messages[-1]["role"] != "user":
        raise DataError(f"{where}: the last message must be a user turn (the policy writes the answer)")
    metadata = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
    reference = raw.get("reference_answer", metadata.get("reference_answer"))
    return {
        "id": str(raw.get("id", default_id)),
        "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],
        "reference_answer": "" if reference is None else _as_text(reference),
    }


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def load_prompts(path: str, limit: int | None = None, seed: int = 0, shuffle: bool = True) -> Any:
    """The prompt rows as a ``datasets.Dataset`` ready for ``GRPOTrainer(train_dataset=...)``."""
    from datasets import Dataset

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"data.limit: expected a positive integer or null, got {limit!r}")
    rows = read_rows(path)
    dataset = Dataset.from_list(rows)
    if shuffle:
        dataset = dataset.shuffle(seed=seed)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset
