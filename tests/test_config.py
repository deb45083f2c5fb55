"""Every option of every config group composes, and every ``_target_`` instantiates offline.

No model is loaded and nothing is contacted: constructors are cheap by design (house rule 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

import rlaif
from rlaif.errors import ConfigError
from rlaif.judges.base import Judge
from rlaif.judges.jury import Jury
from rlaif.judges.pool import JudgePool
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.monitoring.guard import GuardedReward
from rlaif.runs.config_checks import check_grpo_keys, check_one_judge_server, check_rows
from rlaif.runs.step_timing import StepTimer

CONF = Path(rlaif.__file__).parent / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and not p.name.startswith("_"))
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]


class _NoCallTransport:
    identity = "test:no-calls"

    async def send(self, request: JudgeRequest) -> TransportResult:
        raise AssertionError("configs must not call the judge when they are built")

    async def aclose(self) -> None:
        pass


def _compose(*overrides: str) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _instantiate_all(cfg: Any, tmp_path: Path) -> dict[str, Any]:
    judge = instantiate(cfg.judge, _convert_="all")
    # A jury: each member; a pool: each endpoint.
    parts = judge.members if isinstance(judge, Jury) else judge.endpoints if isinstance(judge, JudgePool) else None
    judges = list(parts.values()) if parts is not None else [judge]
    assert judge.identity and all(isinstance(j, Judge) and j.identity for j in judges)
    reward = instantiate(cfg.reward, judge=Judge(_NoCallTransport()), log_path=str(tmp_path / "r.jsonl"))
    assert callable(reward) and reward.__name__
    args = instantiate(cfg.grpo, output_dir=str(tmp_path), _convert_="all")
    peft = instantiate(cfg.peft, _convert_="all")
    return {"judge": judge, "judges": judges, "reward": reward, "args": args, "peft": peft}


def test_there_are_options_in_every_expected_group() -> None:
    assert {"policy", "peft", "grpo", "judge", "reward", "rubric", "data", "experiment", "debug"} <= set(GROUPS)
    assert {"local", "vllm", "openai", "bedrock"} <= {o for g, o in OPTIONS if g == "judge"}


def test_the_configuration_page_lists_every_judge_policy_key() -> None:
    from dataclasses import fields

    from rlaif.judges.limits import JudgePolicy

    page = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    listed = page[page.index("Every judge accepts the shared limits under `judge.policy.*`") :].split("\n\n", 1)[0]
    assert [f.name for f in fields(JudgePolicy) if f"`{f.name}`" not in listed] == []


def test_the_configuration_pages_table_lists_every_option_of_each_group() -> None:
    page = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = page[page.index("| group | options | pick with |") :].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        group, options = (cell.strip() for cell in row.split("|")[1:3])
        listed = {word.strip("` ").removesuffix(" (default)").strip("`") for word in options.split(",")}
        assert listed == {o for g, o in OPTIONS if g == group.strip("`")}, group


# What scripts/slurm_multi_node.sh exports; experiment=multi_node refuses to resolve without it.
MULTI_NODE_ENV = {
    "RLAIF_JUDGE_ENDPOINTS": "http://judge-1:8000/v1,http://judge-2:8000/v1",
    "RLAIF_ROLLOUT_HOST": "rollout-node",
    "RLAIF_ROLLOUT_PORT": "8001",
}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates_offline(
    group: str, option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in MULTI_NODE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # judge=openai names it, and set-up refuses a variable not set
    overrides = [f"{group}={option}"]
    if _compose(*overrides).grpo.bf16 and not _has_cuda():
        # GRPOConfig itself refuses bf16 without a GPU; everything else in the file is still checked.
        overrides.append("grpo.bf16=false")
    cfg = _compose(*overrides)
    OmegaConf.resolve(cfg)
    built = _instantiate_all(cfg, tmp_path)
    assert built["args"].output_dir == str(tmp_path)
    assert all(j.transport is not None for j in built["judges"])


def test_gpu_single_shares_one_gpu_between_judge_rollouts_and_training(tmp_path: Path) -> None:
    cfg = _compose("experiment=gpu_single")
    assert cfg.grpo.use_vllm and cfg.grpo.vllm_mode == "colocate" and cfg.grpo.bf16
    assert cfg.judge.launch.device == "gpu" and cfg.policy.dtype == "auto"
    vllm_shares = cfg.judge.launch.gpu_memory_utilization + cfg.grpo.vllm_gpu_memory_utilization
    assert vllm_shares <= 0.5, "the two vLLM engines must leave half the GPU to training"
    # The judge server is started by this process: one training process only (refused under several).
    with pytest.raises(ConfigError, match=r"judge\.launch: 4 training processes"):
        check_one_judge_server(cfg.judge, world_size=4)
    check_one_judge_server(cfg.judge, world_size=1)


def test_a_launching_part_of_a_judge_is_refused_under_several_processes() -> None:
    pool = _compose("judge=pool", "+judge/launch@judge.endpoint.launch=vllm").judge
    jury = _compose("judge=jury").judge
    with open_dict(jury):
        jury.members[1].launch = {"model": "packaged:smollm2-135m-instruct"}
    for judge, key in ((pool, r"judge\.endpoint\.launch"), (jury, r"judge\.members\[1\]\.launch")):
        with pytest.raises(ConfigError, match=key + ": 2 training processes"):
            check_one_judge_server(judge, world_size=2)
        check_one_judge_server(judge, world_size=1)
    check_one_judge_server(_compose("judge=pool").judge, world_size=2)  # URLs only: nothing is launched


@pytest.mark.parametrize("experiment", ["gpu_multi", "multi_node"])
def test_multi_gpu_experiments_use_shared_servers_from_the_environment(
    experiment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in MULTI_NODE_ENV.items():
        monkeypatch.setenv(key, value)
    cfg = _compose(f"experiment={experiment}")
    OmegaConf.resolve(cfg)
    assert cfg.grpo.use_vllm and cfg.grpo.vllm_mode == "server" and cfg.judge.get("launch") is None
    judge = instantiate(cfg.judge, _convert_="all")  # a pool of the judge servers the launch script started
    assert [e.transport.base_url for e in judge.endpoints.values()] == [
        "http://judge-1:8000/v1",
        "http://judge-2:8000/v1",
    ]
    assert cfg.grpo.vllm_server_host == "rollout-node" and cfg.grpo.vllm_server_port == 8001
    check_grpo_keys(cfg.grpo)  # the port arrives as an int, as GRPOConfig's type check wants


def test_multi_node_without_its_environment_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in MULTI_NODE_ENV:
        monkeypatch.delenv(key, raising=False)
    cfg = _compose("experiment=multi_node")
    with pytest.raises(Exception, match=r"RLAIF_JUDGE_ENDPOINTS|RLAIF_ROLLOUT_HOST"):
        OmegaConf.resolve(cfg)


def test_default_grpo_values_are_cpu_sane(tmp_path: Path) -> None:
    args = _instantiate_all(_compose(), tmp_path)["args"]
    assert args.bf16 is False and args.activation_checkpointing is False
    assert args.per_device_train_batch_size % args.num_generations == 0
    assert args.max_completion_length <= 64 and args.logging_steps == 1


def test_smoke_overlay_shrinks_the_run() -> None:
    cfg = _compose("debug=smoke")
    assert cfg.grpo.max_steps == 2 and cfg.data.limit == 8


@pytest.mark.parametrize("reward", ["rubric_on_topic", "rubric_with_checks"])
def test_a_rubric_shown_references_refuses_rows_without_one(reward: str, tmp_path: Path) -> None:
    from datasets import Dataset

    def rubric_reward(*overrides: str) -> Any:
        built = instantiate(_compose(f"reward={reward}", *overrides).reward, judge=Judge(_NoCallTransport()))
        # As rlaif.train hands it to TRL: guarded and timed, the rubric reward two wrappers deep.
        return StepTimer(judge=None, path=None).timed(GuardedReward(built, []))

    rows = Dataset.from_list([{"id": f"q{i}", "reference_answer": "Tokyo." if i == 1 else ""} for i in range(3)])
    reference_qa = rubric_reward("rubric=reference_qa")
    assert reference_qa.rubric.show_reference
    with pytest.raises(ConfigError) as refused:
        check_rows(reference_qa, rows, "data/qa.jsonl")
    assert str(refused.value).startswith("data/qa.jsonl: 2 of 3 rows have no reference_answer ('q0', 'q2')")
    assert "rubric 'reference_qa'" in str(refused.value)

    every_row = Dataset.from_list([{"id": f"q{i}", "reference_answer": "Tokyo."} for i in range(3)])
    check_rows(reference_qa, every_row, "data/qa.jsonl")
    # The way out the message offers, and a rubric that never shows the reference (the default's).
    check_rows(rubric_reward("rubric=reference_qa", "++rubric.show_reference=false"), rows, "data/qa.jsonl")
    check_rows(rubric_reward("rubric=everyday"), rows, "data/qa.jsonl")


@pytest.mark.parametrize("path", sorted(CONF.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONF)))
def test_every_config_file_starts_with_the_command_that_uses_it(path: Path) -> None:
    comments = [line for line in path.read_text().splitlines()[:2] if line.startswith("#")]
    commands = (
        "python -m rlaif.train",
        "python -m rlaif.evaluate",
        "python -m rlaif.judge_eval",
        "python -m rlaif.serve",
    )
    assert any(c in line for line in comments for c in commands), f"{path}: first lines must show the command"


def test_no_secret_values_in_configs() -> None:
    for path in CONF.rglob("*.yaml"):
        data = OmegaConf.to_container(OmegaConf.load(path))
        for key, value in _walk(data):
            assert not (
                any(s in key.lower() for s in ("secret", "password", "token")) and isinstance(value, str) and value
            ), f"{path}: {key} looks like a secret; read it from the environment instead"


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _walk(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [kv for k, v in data.items() for kv in _walk(v, f"{prefix}.{k}")]
    return [(prefix, data)]


def test_the_judges_pages_bedrock_pool_composes_and_builds_offline(tmp_path: Path) -> None:
    page = (Path(rlaif.__file__).parent.parent / "docs" / "judges.md").read_text()
    marker = "# conf/judge/my_bedrock_pool.yaml"
    block = page.split(marker)[1].split("```")[0]
    (tmp_path / "judge").mkdir()
    (tmp_path / "judge" / "my_bedrock_pool.yaml").write_text(marker + block)
    cfg = _compose("judge=my_bedrock_pool", f"hydra.searchpath=[file://{tmp_path}]")
    pool = instantiate(cfg.judge, _convert_="all")
    assert isinstance(pool, JudgePool) and list(pool.endpoints) == ["us_east_1", "eu_west_1"]
    limits = [(e.policy.max_rpm, e.policy.max_tpm) for e in pool.endpoints.values()]
    assert limits == [(200, 400000), (100, 200000)]
    assert [e.transport.region for e in pool.endpoints.values()] == ["us-east-1", "eu-west-1"]
