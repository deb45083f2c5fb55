"""Loading Nova RFT JSONL prompt rows, and the errors a user sees for bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlaif.data import DataError, load_prompts, packaged_prompts, read_rows


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**extra: object) -> str:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], **extra})


def test_packaged_prompts_are_valid_nova_rows() -> None:
    rows = read_rows(packaged_prompts())
    assert len(rows) >= 64
    assert all(r["prompt"][-1]["role"] == "user" and r["reference_answer"] for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_reference_answer_at_root_or_in_metadata_and_structured(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row(id="a", reference_answer="Paris"),
        row(id="b", metadata={"reference_answer": {"score": 5}}),
        row(id="c"),
    )
    rows = {r["id"]: r for r in read_rows(path)}
    assert rows["a"]["reference_answer"] == "Paris"
    assert json.loads(rows["b"]["reference_answer"]) == {"score": 5}
    assert rows["c"]["reference_answer"] == ""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"id": "x"}), "missing required field 'messages'"),
        (json.dumps({"messages": []}), "non-empty list"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}), "messages[0]"),
        (json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}), "last"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, row(id="ok"), line)
    with pytest.raises(DataError) as err:
        read_rows(path)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)


def test_duplicate_ids_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="duplicate id 'a'"):
        read_rows(write(tmp_path, row(id="a"), row(id="a")))
    with pytest.raises(DataError, match="not found"):
        read_rows(tmp_path / "nope.jsonl")


def test_load_prompts_gives_trl_conversational_rows() -> None:
    dataset = load_prompts("packaged:default", limit=5, seed=1)
    assert len(dataset) == 5
    assert set(dataset.column_names) == {"id", "prompt", "reference_answer"}
    assert dataset[0]["prompt"][0]["role"] == "system"
