"""``rlaif.integrations.verl`` under verl's own code, where verl is installed (it is not a test dependency: verl 0.9.1
pins ``transformers<5.11`` and needs Ray; tests/test_integration_verl.py replays its call everywhere). To run it::

    pip install --no-deps --target /tmp/verl-extra verl==0.9.1 ray tensordict==0.10.0 codetiming dill pylatexenc \
        msgpack pyvers aiohttp multidict yarl propcache aiohappyeyeballs aiosignal frozenlist orjson
    PYTHONPATH=$PWD:/tmp/verl-extra python -m pytest tests/test_integration_verl_own.py

verl's ``RewardLoopWorker`` (the class its trainer runs as Ray actors, here in this process) loads rlaif's function
with its own ``load_reward_manager`` from ``reward.custom_reward_function.path=pkg://rlaif.integrations.verl`` and
scores a ``DataProto`` built as verl's agent loop builds it (``agent_loop.py`` lines 996-1022); its
``BatchRewardManager`` scores the same answers through ``compute_score_batch``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

verl = pytest.importorskip("verl")

import torch  # noqa: E402

from rlaif.integrations import verl as rlaif_verl  # noqa: E402

ANSWERS = ["The capital of France is Paris.", "I like turtles.", "A leap year has 366 days."]
QUESTIONS = ["What is the capital of France?", "What is the capital of France?", "How many days in a leap year?"]
REFERENCES = ["Paris", "Paris", "366"]


@pytest.fixture(autouse=True)
def fresh_process_reward() -> Iterator[None]:
    rlaif_verl.close()
    yield
    rlaif_verl.close()


def doc_blocks() -> list[list[str]]:
    """The verl command lines of docs/verl.md: each ``python -m verl.trainer.main_ppo ...`` block's overrides."""
    text = (Path(__file__).parents[1] / "docs" / "verl.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\npython -m verl.trainer.main_ppo \.\.\. \\\n(.*?)```", text, re.DOTALL)
    return [shlex.split(block.replace("\\\n", " ")) for block in blocks]


def verl_config(lines: list[str], model_dir: Path) -> Any:
    """verl 0.9.1's own trainer config (``verl/trainer/config/ppo_trainer.yaml``) with ``lines`` applied."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer/config"), version_base=None):
        return compose("ppo_trainer", overrides=[*lines, f"actor_rollout_ref.model.path={model_dir}"])


def agent_loop_batch(tokenizer: Any) -> Any:
    """The ``DataProto`` verl's agent loop sends a reward worker: left-padded prompts, right-padded responses."""
    prompts = [tokenizer(q)["input_ids"] for q in QUESTIONS]
    responses = [tokenizer(a)["input_ids"] + [tokenizer.eos_token_id] for a in ANSWERS]
    width_p, width_r = max(map(len, prompts)), max(map(len, responses))
    pad = tokenizer.pad_token_id or 0
    p = torch.tensor([[pad] * (width_p - len(x)) + x for x in prompts])
    r = torch.tensor([x + [pad] * (width_r - len(x)) for x in responses])
    mask = torch.tensor(
        [[0] * (width_p - len(x)) + [1] * len(x) + [1] * len(y) + [0] * (width_r - len(y))
         for x, y in zip(prompts, responses, strict=True)]
    )  # fmt: skip
    rows = {
        "data_source": np.array(["everyday"] * 3, dtype=object),
        "reward_model": np.array([{"ground_truth": g} for g in REFERENCES], dtype=object),
        "extra_info": np.array([{"index": i, "question": q} for i, q in enumerate(QUESTIONS)], dtype=object),
        "__num_turns__": np.array([2, 2, 2]),
        "tool_extra_fields": np.array([{}, {}, {}], dtype=object),
    }
    tensors = {"prompts": p, "responses": r, "attention_mask": mask, "input_ids": torch.cat([p, r], dim=1)}
    return verl.DataProto.from_dict(tensors=tensors, non_tensors=rows)


def test_verls_reward_loop_worker_and_batch_manager_score_with_rlaif() -> None:
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager import registry
    from verl.trainer.ppo.metric_utils import process_validation_metrics
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.utils import hf_tokenizer
    from verl.workers.reward_manager import BatchRewardManager

    from rlaif.data.models import packaged_model_dir

    default, with_overrides = doc_blocks()
    config = verl_config(with_overrides, packaged_model_dir())  # the documented lines, as verl's Hydra reads them
    settings = rlaif_verl.settings_from(config.reward.custom_reward_function.reward_kwargs)
    assert settings.overrides == ("judge=vllm", "judge.base_url=http://127.0.0.1:8000/v1", "rubric=helpfulness")
    assert settings.run_dir == "/data/runs/rlaif_reward"
    assert sorted(registry.REWARD_MANAGER) == ["dapo", "gdpo", "naive", "rate_limited", "remote"]

    config = verl_config(default, packaged_model_dir())
    assert (config.reward.reward_manager.name, config.reward.num_workers) == ("naive", 1)
    loop = asyncio.new_event_loop()  # a Ray async actor's loop: the worker's manager keeps the loop it was built on
    asyncio.set_event_loop(loop)
    try:
        worker = RewardLoopWorker(config)
        data = agent_loop_batch(worker.input_tokenizer)
        outputs = loop.run_until_complete(worker.compute_score_batch(data))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    scores = [o["reward_score"] for o in outputs]
    assert scores[1] == 0.0 and 0 < scores[0] <= 1 and 0 < scores[2] <= 1  # the off-topic answer is gated
    extras = {key: [o["reward_extra_info"][key] for o in outputs] for key in outputs[0]["reward_extra_info"]}
    assert extras["judge_failed"] == [0.0, 0.0, 0.0] and len(extras["rubric_on_topic_rationale"]) == 3
    metrics = process_validation_metrics(["everyday"] * 3, ["u0", "u0", "u1"], {"reward": scores, **extras})
    assert "mean@2" in metrics["everyday"]["judge_failed"] and "rubric_on_topic_rationale" not in metrics["everyday"]

    tokenizer = hf_tokenizer(str(packaged_model_dir()))
    compute = get_custom_reward_fn(verl_config([*default, "reward.custom_reward_function.name=compute_score_batch"],
                                               packaged_model_dir()))  # fmt: skip
    manager = BatchRewardManager(tokenizer, num_examine=0, compute_score=compute)
    out = manager(agent_loop_batch(tokenizer), return_dict=True)
    lengths = agent_loop_batch(tokenizer).batch["attention_mask"][:, -len(out["reward_tensor"][0]) :].sum(-1)
    batch_scores = [float(out["reward_tensor"][i, n - 1]) for i, n in enumerate(lengths.tolist())]
    assert batch_scores == pytest.approx(scores, abs=1e-5)  # the same reward either way
    assert out["reward_extra_info"]["judge_failed"] == [0.0, 0.0, 0.0]
    assert len(out["reward_extra_info"]["rubric_on_topic_rationale"]) == 3


def test_verls_reward_loop_manager_with_ray_actors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """verl's ``RewardLoopManager`` as its trainer runs it: two ``RewardLoopWorker`` Ray actors, each a process with
    its own judge and run folder; the environment's overrides reach them (a local Ray cluster inherits it)."""
    import ray
    from verl.experimental.reward_loop import RewardLoopManager
    from verl.utils import hf_tokenizer

    from rlaif.data.models import packaged_model_dir

    default, _ = doc_blocks()
    lines = [line for line in default if not line.startswith("reward.num_workers=")]
    lines += ["reward.num_workers=2", f"+reward.custom_reward_function.reward_kwargs.run_dir={tmp_path}"]
    monkeypatch.setenv(rlaif_verl.OVERRIDES_ENV, "monitor=off reward.name=from_env")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        manager = RewardLoopManager(verl_config(lines, packaged_model_dir()))
        out = manager.compute_rm_score(agent_loop_batch(hf_tokenizer(str(packaged_model_dir()))))
    finally:
        ray.shutdown()
    scores = out.batch["rm_scores"].sum(-1).tolist()
    assert scores[1] == 0.0 and 0 < scores[0] <= 1 and 0 < scores[2] <= 1
    assert out.meta_info["reward_extra_keys"] == ["score", "from_env_rationale", "judge_failed"]
    assert out.non_tensor_batch["judge_failed"].tolist() == [0.0, 0.0, 0.0]
    folders = sorted(tmp_path.iterdir())  # 3 answers padded to 4, two to each worker
    assert len(folders) == 2 and all((f / "rewards.jsonl").is_file() for f in folders)
    assert all(json.loads((f / "judge_metrics.json").read_text())["requests"] > 0 for f in folders)
