"""The launch scripts, images and accelerate configs a GPU user runs, checked without a GPU or a container engine.

The shell scripts and Dockerfiles are linted (shellcheck, hadolint: both from the dev extra); the launchers'
dry runs show which GPU and node does what; the compose file's trainer command composes with Hydra.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
DOCKERFILES = sorted(ROOT.glob("Dockerfile*"))


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} not found: it comes with the dev extra (pip install -e '.[dev]')"
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    result = subprocess.run([_tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_pass_hadolint(dockerfile: Path) -> None:
    result = subprocess.run([_tool("hadolint"), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gpu_image_installs_rlaif_with_vllm_and_trains_by_default() -> None:
    text = (ROOT / "Dockerfile.gpu").read_text()
    assert '".[vllm,bedrock,deepspeed]"' in text
    assert 'ENTRYPOINT ["python3", "-m", "rlaif.train"]' in text


def _dry_run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DRY_RUN": "1", **env},
        timeout=60,
    )


def _line(output: str, prefix: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(prefix))


def _table_row(output: str, first_header: str, name: str) -> dict[str, str]:
    """A markdown table's row ``name`` by its header's names (each cell's first word)."""

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header, row = cells(_line(output, f"| {first_header} |")), cells(_line(output, f"| {name} |"))
    return {key: value.split()[0] for key, value in zip(header, row, strict=True)}


def test_gpu_multi_launcher_gives_each_gpu_one_role() -> None:
    env = {"TRAIN_GPUS": "0,1,2", "ROLLOUT_GPUS": "3", "JUDGE_GPUS": "4,5", "ACCELERATE_CONFIG": "fsdp2"}
    result = _dry_run("launch_gpu_multi.sh", env, "grpo.max_steps=3")
    assert result.returncode == 0, result.stderr
    rollouts, judge, train = (_line(result.stdout, p) for p in ("rollouts:", "judge 0:", "train:"))
    assert (
        "CUDA_VISIBLE_DEVICES=3 " in rollouts and "trl vllm-serve" in rollouts and "--data_parallel_size 1" in rollouts
    )
    assert "CUDA_VISIBLE_DEVICES=4,5 " in judge and "--tensor-parallel-size 2" in judge
    assert "GPU_MEMORY_UTILIZATION=0.9" in judge  # the judge has its GPUs to itself
    assert "CUDA_VISIBLE_DEVICES=0,1,2 " in train and "--num_processes 3" in train
    assert "scripts/accelerate/fsdp2.yaml" in train and "experiment=gpu_multi" in train
    assert "hydra.run.dir=" in train and train.endswith("grpo.max_steps=3")
    assert "RLAIF_JUDGE_ENDPOINTS=http://127.0.0.1:8000/v1 " in train and "judge 1:" not in result.stdout


def test_gpu_multi_launcher_starts_judge_replicas_behind_a_pool() -> None:
    env = {
        "TRAIN_GPUS": "0,1,2",
        "ROLLOUT_GPUS": "3",
        "JUDGE_GPUS": "4,5,6,7",
        "JUDGE_REPLICAS": "2",
        "ROLLOUT_PORT": "8100",
    }
    result = _dry_run("launch_gpu_multi.sh", env)
    assert result.returncode == 0, result.stderr
    first, second, train = (_line(result.stdout, p) for p in ("judge 0:", "judge 1:", "train:"))
    assert "CUDA_VISIBLE_DEVICES=4,5 " in first and "PORT=8000 " in first and "judge-0.pid" in first
    assert "CUDA_VISIBLE_DEVICES=6,7 " in second and "PORT=8001 " in second and "judge-1.pid" in second
    assert all("--tensor-parallel-size 2" in line for line in (first, second))
    assert "RLAIF_JUDGE_ENDPOINTS=http://127.0.0.1:8000/v1,http://127.0.0.1:8001/v1 " in train


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JUDGE_REPLICAS": "3"}, "JUDGE_REPLICAS=3 does not divide the 2 JUDGE_GPUS"),
        ({"JUDGE_REPLICAS": "0"}, "JUDGE_REPLICAS=0: expected a whole number"),
        ({"JUDGE_REPLICAS": "2"}, "port 8001 is also a judge port (8000-8001)"),
        ({"TRAIN_GPUS": "0,1", "ROLLOUT_GPUS": "1"}, "GPU(s) 1 in more than one"),
        ({"ACCELERATE_CONFIG": "zero9"}, "ACCELERATE_CONFIG=zero9"),
        ({"JUDGE_GPUS": "six"}, "JUDGE_GPUS=six: expected GPU indices"),
    ],
)
def test_gpu_multi_launcher_refuses_a_bad_assignment(env: dict[str, str], message: str) -> None:
    result = _dry_run("launch_gpu_multi.sh", env)
    assert result.returncode == 2 and message in result.stderr and not result.stdout


def test_slurm_launcher_assigns_judge_rollout_and_training_nodes() -> None:
    result = _dry_run("slurm_multi_node.sh", {"RLAIF_NODES": "n1 n2 n3 n4 n5"}, "grpo.max_steps=5")
    assert result.returncode == 0, result.stderr
    judge, rollouts, train = (_line(result.stdout, p) for p in ("judge ", "rollouts ", "train "))
    assert (
        judge.startswith("judge    on n1: ")
        and "--tensor-parallel-size 8" in judge
        and "--served-model-name judge" in judge
    )
    assert rollouts.startswith("rollouts on n2:") and "--tensor_parallel_size 2 --data_parallel_size 4" in rollouts
    assert train.startswith("train    on n3,n4,n5:") and "--num_machines 3 --num_processes 24" in train
    assert "--main_process_ip n3" in train and "--machine_rank $SLURM_PROCID" in train
    assert "experiment=multi_node" in train and train.endswith("grpo.max_steps=5")
    assert "RLAIF_JUDGE_ENDPOINTS=http://n1:8000/v1 RLAIF_ROLLOUT_HOST=n2 RLAIF_ROLLOUT_PORT=8001" in result.stdout


def test_slurm_launcher_serves_the_judge_on_several_nodes_as_a_pool() -> None:
    result = _dry_run("slurm_multi_node.sh", {"RLAIF_NODES": "n1 n2 n3 n4 n5", "JUDGE_NODES": "2"})
    assert result.returncode == 0, result.stderr
    judge, rollouts, train = (_line(result.stdout, p) for p in ("judge ", "rollouts ", "train "))
    assert judge.startswith("judge    on n1,n2: ") and rollouts.startswith("rollouts on n3: ")
    assert train.startswith("train    on n4,n5: ") and "--num_machines 2 --num_processes 16" in train
    assert "RLAIF_JUDGE_ENDPOINTS=http://n1:8000/v1,http://n2:8000/v1 RLAIF_ROLLOUT_HOST=n3" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RLAIF_NODES": "n1 n2"}, "needs at least 3"),
        ({"RLAIF_NODES": "n1 n2 n3", "JUDGE_NODES": "2"}, "needs at least 4 (2 judge, rollouts, training)"),
        ({"RLAIF_NODES": "n1 n2 n3", "ROLLOUT_DP": "3"}, "ROLLOUT_TP x ROLLOUT_DP = 6"),
    ],
)
def test_slurm_launcher_refuses_a_bad_layout(env: dict[str, str], message: str) -> None:
    result = _dry_run("slurm_multi_node.sh", env)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("name", ["zero2", "zero3", "fsdp2"])
def test_accelerate_configs_load_in_accelerate(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(ROOT / "scripts" / "accelerate" / f"{name}.yaml"))
    assert config.mixed_precision == "bf16" and config.num_machines == 1
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])
    else:
        assert config.fsdp_config["fsdp_version"] == 2


def test_compose_runs_a_judge_service_and_a_trainer_on_one_network() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    judge, trainer = spec["services"]["judge"], spec["services"]["trainer"]
    assert judge["networks"] == trainer["networks"] == ["rlaif"]
    assert judge["image"] == trainer["image"] and judge["build"]["dockerfile"] == "Dockerfile.gpu"
    assert trainer["depends_on"]["judge"]["condition"] == "service_healthy"
    assert "--served-model-name=judge" in judge["command"] and "--port=8000" in judge["command"]
    gpus = [s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for s in (judge, trainer)]
    assert gpus[0] != gpus[1]  # by default each service has a GPU of its own

    # The trainer's command is a list of Hydra overrides: it composes, against the judge service by name.
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=trainer["command"])
    assert cfg.judge.base_url == "http://judge:8000/v1" and cfg.judge.launch is None
    assert cfg.judge.model == "judge" and cfg.grpo.use_vllm


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _gpu_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "check"), **env},
        cwd=tmp_path,
        timeout=900,
    )


@pytest.mark.skipif(_has_cuda(), reason="checks the refusal on a machine without a GPU")
def test_gpu_check_refuses_to_run_without_a_gpu(tmp_path: Path) -> None:
    result = _gpu_check(tmp_path)
    assert result.returncode == 2 and "torch sees no CUDA GPU (ALLOW_CPU=1" in result.stderr
    assert not (tmp_path / "check").exists()


@pytest.mark.slow
def test_gpu_check_prints_the_step_split_of_a_real_run(tmp_path: Path) -> None:
    # The script's own logic on the CPU: the same rlaif.train run as on a GPU, fp32, 2 steps of 8 tokens.
    result = _gpu_check(tmp_path, ALLOW_CPU="1", BF16="false", STEPS="2", TOKENS="8")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # Read by the header's names, not positions: a column added to the table (guards s) must not shift the others.
    row = _table_row(result.stdout, "run", "local")
    for column in ("step s", "generation s", "judge s (share)", "optimisation s", "rollout tokens/s"):
        assert float(row[column]) > 0, (column, row)
    assert float(row["judge requests/s"]) > 0 and float(row["guards s"]) >= 0, row  # guards: step 1, left out
    assert (tmp_path / "check" / "step_split.md").read_text().strip() in result.stdout
    # Run again into the same folder: refused, nothing overwritten.
    again = _gpu_check(tmp_path, ALLOW_CPU="1")
    assert again.returncode == 2 and "exists" in again.stderr


def _memory_plan() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_memory_plan", ROOT / "scripts" / "gpu_memory_plan.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_scaling_pages_memory_table_is_the_scripts_output() -> None:
    page = (ROOT / "docs" / "scaling.md").read_text()
    block = page.split("<!-- gpu_memory_plan.py -->\n")[1].split("\n<!-- /gpu_memory_plan.py -->")[0]
    assert block == _memory_plan().table()


def test_memory_plan_grows_with_the_models_and_backs_the_gpu_single_shares() -> None:
    plan: Any = _memory_plan()
    sizes = [plan.QWEN[name] for name in ("0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B")]
    for small, big in itertools.pairwise(sizes):
        assert plan.judge_gb(small) < plan.judge_gb(big) and plan.training_gb(small) < plan.training_gb(big)
        assert plan.rollouts_gb(small) < plan.rollouts_gb(big)
    assert plan.training_gb(plan.QWEN["7B"], shards=4) < plan.training_gb(plan.QWEN["7B"])
    # gpu_single on a 40 GB GPU: the two vLLM shares hold their models' weights, and training fits in the rest.
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=["experiment=gpu_single"])
    policy, judge, gpu_gb = plan.QWEN["0.5B"], plan.QWEN["3B"], 40.0
    assert cfg.policy.name_or_path.endswith("0.5B-Instruct") and cfg.judge.launch.model.endswith("3B-Instruct")
    assert cfg.judge.launch.gpu_memory_utilization * gpu_gb > judge.weights_gb + plan.OVERHEAD_GB
    assert cfg.grpo.vllm_gpu_memory_utilization * gpu_gb > plan.rollouts_gb(policy)
    shares = cfg.judge.launch.gpu_memory_utilization + cfg.grpo.vllm_gpu_memory_utilization
    assert (1 - shares) * gpu_gb > plan.training_gb(policy)
