"""Loading Nova RFT JSONL prompt rows, and the errors a user sees for bad lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rlaif.data.loaders import load_eval_prompts, load_prompts, packaged_prompts, read_rows
from rlaif.errors import DataError, InputError


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
    assert set(dataset.column_names) == {"id", "prompt", "reference_answer", "extra"}
    assert dataset[0]["prompt"][0]["role"] == "system"


def test_packaged_eval_prompts_are_held_out_from_the_training_set() -> None:
    train = read_rows(packaged_prompts())
    held = read_rows(packaged_prompts("default_eval"))
    assert len(held) >= 24 and all(r["reference_answer"] for r in held)
    questions = {r["prompt"][-1]["content"].lower() for r in train}
    assert not [r["id"] for r in held if r["prompt"][-1]["content"].lower() in questions]
    assert {r["prompt"][0]["content"] for r in held} == {r["prompt"][0]["content"] for r in train}
    dataset = load_eval_prompts("packaged:default", limit=3, eval_path="packaged:default_eval")
    assert len(dataset) == 3 and set(dataset["id"]) <= {r["id"] for r in held}


def test_eval_fraction_holds_rows_out_of_training_whatever_the_seed_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path, *(row(id=f"q{i}", reference_answer=str(i)) for i in range(40)))
    held = set(load_eval_prompts(str(path), eval_fraction=0.25)["id"])
    assert 0 < len(held) < 40
    for seed, limit in [(0, None), (7, None), (3, 5)]:
        train = set(load_prompts(str(path), seed=seed, limit=limit, eval_fraction=0.25)["id"])
        assert not train & held
    assert len(set(load_prompts(str(path), eval_fraction=0.25)["id"])) + len(held) == 40
    # Without a held-out fraction, training keeps every row (an eval file does not touch training).
    assert len(load_prompts(str(path), eval_path="packaged:default_eval")) == 40
    assert set(load_eval_prompts(str(path), seed=5, shuffle=True, eval_fraction=0.25)["id"]) == held


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"eval_fraction": 1.5}, "data.eval_fraction: input should be less than 1, got 1.5"),
        ({"eval_fraction": 0.1, "eval_path": "x.jsonl"}, "data.eval_path and data.eval_fraction are both set"),
        ({}, "no eval split configured"),
        ({"eval_path": "nope.jsonl"}, "nope.jsonl: dataset file not found (data.eval_path)"),
        ({"eval_fraction": 0.001}, "leaves no held-out rows"),
    ],
)
def test_bad_eval_split_settings_name_the_key(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    path = write(tmp_path, row(id="a"), row(id="b"))
    with pytest.raises(InputError) as err:  # DataError for the files, ConfigError for the keys
        load_eval_prompts(str(path), **options)
    assert message in str(err.value)


def test_an_eval_file_that_repeats_training_questions_is_refused(tmp_path: Path) -> None:
    train = write(tmp_path, row(id="a"), json.dumps({"messages": [{"role": "user", "content": "Other?"}]}))
    evals = tmp_path / "eval.jsonl"
    evals.write_text(json.dumps({"id": "e1", "messages": [{"role": "user", "content": "  HI "}]}) + "\n")
    with pytest.raises(DataError, match=r"1 eval question\(s\) also in the training file .*'e1'"):
        load_eval_prompts(str(train), eval_path=str(evals))


def test_extra_fields_of_a_row_are_kept_for_the_rewards(tmp_path: Path) -> None:
    # Nova passes a row's other fields through to the reward function: root ones and metadata's alike.
    path = write(
        tmp_path,
        row(id="a", task="qa", metadata={"reference_answer": "4", "source": "wiki"}),
        row(id="b", reference_answer={"x": 1}),
    )
    rows = {r["id"]: r for r in read_rows(path)}
    assert json.loads(rows["a"]["extra"]) == {"task": "qa", "source": "wiki"} and rows["a"]["reference_answer"] == "4"
    assert json.loads(rows["b"]["extra"]) == {} and rows["b"]["reference_answer"] == '{"x": 1}'


def test_a_small_user_file_gets_awss_dataset_size_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, *(row(id=str(i)) for i in range(12)))
    with caplog.at_level("WARNING", logger="rlaif.data.loaders"):
        load_prompts(str(path))
    assert "12 rows. Amazon Nova RFT asks for at least 100 training rows" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="rlaif.data.loaders"):
        load_prompts("packaged:default")  # the shipped demo set is small on purpose: no warning
    assert "Nova RFT" not in caplog.text


QA = [
    {"question": "What is 2 + 2?", "answer": "4", "qid": "q1", "topic": "math"},
    {"question": "Capital of France?", "answer": "Paris", "qid": "q2", "topic": "geo"},
]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_local_files_of_any_datasets_format_map_onto_prompt_rows(tmp_path: Path, fmt: str) -> None:
    from datasets import Dataset

    path = tmp_path / f"qa.{fmt}"
    getattr(Dataset.from_list(QA), f"to_{fmt}")(str(path))
    columns = {"prompt": "question", "reference_answer": "answer", "id": "qid"}
    dataset = load_prompts(str(path), columns=columns, shuffle=False)
    assert list(dataset["id"]) == ["q1", "q2"] and list(dataset["reference_answer"]) == ["4", "Paris"]
    assert dataset[0]["prompt"] == [{"role": "user", "content": "What is 2 + 2?"}]
    assert json.loads(dataset[1]["extra"]) == {"topic": "geo"}  # unmapped columns ride along


def test_a_messages_column_in_csv_is_json_text(tmp_path: Path) -> None:
    from datasets import Dataset

    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    path = tmp_path / "chat.csv"
    Dataset.from_list([{"turns": json.dumps(turns), "gold": "Hello."}]).to_csv(str(path))
    dataset = load_prompts(str(path), columns={"messages": "turns", "reference_answer": "gold"})
    assert dataset[0]["prompt"] == turns and dataset[0]["reference_answer"] == "Hello."


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"prompt": "nope"}, "data.columns.prompt='nope' is not a column (columns: ['question', 'answer', 'qid'"),
        ({"prompt": "question", "messages": "question"}, "set exactly one of messages"),
        ({"reference_answer": "answer"}, "set exactly one of messages"),
        ({"prompt": "question", "answr": "answer"}, "data.columns: unknown key(s) ['answr']"),
        ({"messages": "question"}, "[row 0]: the messages column (data.columns.messages) is text but not JSON"),
    ],
)
def test_a_bad_column_mapping_names_the_key(tmp_path: Path, columns: dict[str, str], message: str) -> None:
    from datasets import Dataset

    path = tmp_path / "qa.parquet"
    Dataset.from_list(QA).to_parquet(str(path))
    with pytest.raises(DataError) as err:
        load_prompts(str(path), columns=columns)
    assert message in str(err.value)


def test_unknown_format_and_offline_hub_ids_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "qa.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"unknown format '\.xlsx'"):
        load_prompts(str(tmp_path / "qa.xlsx"), columns={"prompt": "q"})
    with pytest.raises(DataError, match=r"hub:nobody/no-such-set \(split train\): datasets.load_dataset failed"):
        load_prompts("hub:nobody/no-such-set", columns={"prompt": "q"})


def test_the_shipped_contract_review_set_is_valid_nova_rows() -> None:
    rows = read_rows(packaged_prompts("contract_review"))
    assert len(rows) == 12 and all("Contract excerpt:" in r["prompt"][-1]["content"] for r in rows)
    assert all(json.loads(r["reference_answer"])["clauses"] for r in rows)
    assert {json.loads(r["extra"])["task"] for r in rows} == {"contract_review"}
