"""The adapter's model card and config: the base model by its hub id, and what was trained how."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlaif.data.models import PACKAGED_HUB_ID, PACKAGED_MODEL, hub_id
from rlaif.reporting.model_card import record_evaluation, write_model_card
from tests.reporting.synthetic_run import synthesise_run

RUBRIC = """rubric:
  name: everyday
  task: Grade a short answer.
  criteria:
  - id: polite
    question: Is the answer polite?
    weight: 0.25
  - id: concise
    question: Is the answer long?
    pass_on: false
    weight: 1.0
"""


def local_model(folder: Path, name_or_path: str | None) -> Path:
    folder.mkdir(parents=True)
    config = {"model_type": "llama"} | ({"_name_or_path": name_or_path} if name_or_path is not None else {})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_hub_id_of_the_packaged_model_a_hub_id_and_local_folders(tmp_path: Path) -> None:
    assert hub_id(PACKAGED_MODEL) == PACKAGED_HUB_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert hub_id("Qwen/Qwen3-0.6B") == "Qwen/Qwen3-0.6B"
    named = local_model(tmp_path / "named", "org/tiny-model")
    assert hub_id(str(named)) == "org/tiny-model"
    # A config that names a path (a model saved from a local folder) or nothing: the folder as given.
    pathy = local_model(tmp_path / "pathy", "/home/me/models/tiny")
    assert hub_id(str(pathy)) == str(pathy)
    assert hub_id(str(local_model(tmp_path / "bare", None))) == str(tmp_path / "bare")


@pytest.fixture
def trained_run(tmp_path: Path) -> Path:
    """A run folder with a real PEFT adapter of a tiny Llama, saved as TRL saves it (base named by local path)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    base_dir = tmp_path / "cache" / "tiny"
    LlamaForCausalLM(config).save_pretrained(base_dir)
    # What a model saved by transformers 4 from a hub download records (transformers 5 no longer writes it).
    saved_config = json.loads((base_dir / "config.json").read_text())
    (base_dir / "config.json").write_text(json.dumps(saved_config | {"_name_or_path": "org/tiny-llama"}))
    run = synthesise_run(tmp_path / "run", steps=4)
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], base_model_name_or_path=str(base_dir))
    peft_model = get_peft_model(LlamaForCausalLM.from_pretrained(base_dir), lora)
    peft_model.peft_config["default"].base_model_name_or_path = str(base_dir)  # this machine's path
    peft_model.save_pretrained(run / "adapter")
    saved = (run / ".hydra" / "config.yaml").read_text()
    saved = saved.replace("name_or_path: packaged:smollm2-135m-instruct", f"name_or_path: {base_dir}")
    (run / ".hydra" / "config.yaml").write_text(saved + RUBRIC)
    return run


def test_the_adapter_names_its_base_by_hub_id_and_still_loads(trained_run: Path, tmp_path: Path) -> None:
    from peft import PeftConfig, PeftModel
    from transformers import LlamaForCausalLM

    before = json.loads((trained_run / "adapter" / "adapter_config.json").read_text())
    assert before["base_model_name_or_path"].startswith(str(tmp_path))
    assert write_model_card(trained_run) == trained_run / "adapter" / "README.md"
    assert PeftConfig.from_pretrained(str(trained_run / "adapter")).base_model_name_or_path == "org/tiny-llama"
    base = LlamaForCausalLM.from_pretrained(tmp_path / "cache" / "tiny")
    model = PeftModel.from_pretrained(base, str(trained_run / "adapter"))  # the rewritten config still loads
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_the_card_says_what_was_trained_how_and_that_it_is_not_evaluated_yet(trained_run: Path) -> None:
    write_model_card(trained_run)
    card = (trained_run / "adapter" / "README.md").read_text()
    summary = json.loads((trained_run / "run_summary.json").read_text())
    assert card.startswith("---\nbase_model: org/tiny-llama\nlibrary_name: peft\n")
    assert 'PeftModel.from_pretrained(base, ".")' in card and 'from_pretrained("org/tiny-llama")' in card
    assert summary["judge"] in card and "RubricReward" in card
    assert "| `concise` | Is the answer long? | no | 1.0 |" in card and "| `polite` |" in card
    assert f"first step: {summary['first_reward']:.3f}; last step: {summary['last_reward']:.3f}" in card
    assert "Not evaluated yet" in card
    # The run folder's own README (TRL's card said "fine-tuned version of [None]") is the same card.
    top = (trained_run / "README.md").read_text()
    assert "[None]" not in top and 'PeftModel.from_pretrained(base, "adapter")' in top


def test_an_evaluation_lands_in_the_card(trained_run: Path, tmp_path: Path) -> None:
    tally = {"wins": 19, "ties": 1, "losses": 11, "failures": 1, "n": 32, "win_rate_decided": 19 / 30,
             "win_rate_interval": [0.46, 0.78], "judge": "local:packaged", "trained_the_policy": True}  # fmt: skip
    other = tally | {
        "wins": 12,
        "losses": 18,
        "win_rate_decided": 0.4,
        "judge": "vllm:big",
        "trained_the_policy": False,
    }
    summary = {**tally, "decided_by": "rubric", "judges": {"big": other}}
    report = tmp_path / "evaluate" / "report.html"
    assert record_evaluation(trained_run / "adapter", summary, report) is not None
    card = (trained_run / "adapter" / "README.md").read_text()
    assert "Not evaluated yet" not in card and str(report) in card
    assert "| training judge (`local:packaged`) | yes | 19 | 1 | 11 | 1 | 0.633 (0.460-0.780) |" in card
    assert "| big (`vllm:big`) | no | 12 |" in card
    write_model_card(trained_run)  # written again later (a resumed run finishing): the evaluation stays
    assert "| big (`vllm:big`) | no | 12 |" in (trained_run / "adapter" / "README.md").read_text()


def test_an_adapter_outside_a_run_folder_is_left_alone(tmp_path: Path) -> None:
    adapter = tmp_path / "somewhere" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "/x"}')
    assert record_evaluation(adapter, {"wins": 1}, tmp_path / "r.html") is None
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json"]
