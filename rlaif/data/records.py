"""The Nova RFT row rule: one record (a JSONL line, a mapped dataset row or a reward-Lambda sample) as a
training row. The lowest layer of the data package: loaders and sources both build on it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rlaif.errors import DataError

_ROLES = {"system", "user", "assistant"}
# The columns of every training row rlaif builds (row_from_record): a row's other fields are in ``extra``.
ROW_COLUMNS = ("id", "prompt", "reference_answer", "extra")


def row_from_record(raw: Any, where: str, default_id: str) -> dict[str, Any]:
    """One Nova-shaped record (a JSONL line or a mapped source's row) as a training row; errors name ``where``."""
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
    reference, extra = nova_fields(raw, raw["metadata"] if isinstance(raw.get("metadata"), dict) else {})
    return {
        "id": str(raw.get("id", default_id)),
        "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],
        "reference_answer": "" if reference is None else _as_text(reference),
        "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
    }


def nova_fields(raw: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A Nova record's ``reference_answer`` (at the root, else under ``metadata``) and its other fields:
    ``metadata``'s, then the root's, which win. The same rule for training rows and reward-Lambda samples."""
    reference = raw["reference_answer"] if "reference_answer" in raw else metadata.get("reference_answer")
    extra = {str(k): v for k, v in metadata.items() if k != "reference_answer"}
    extra.update({str(k): v for k, v in raw.items() if k not in ("id", "messages", "reference_answer", "metadata")})
    return reference, extra


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
