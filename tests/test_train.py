"""``python -m rlaif.train`` as a user runs it: a real 2-step run, and bad input."""

from __future__ import annotations

import json
import math
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from rlaif.data.models import packaged_model_dir
from tests._entry_point import run_train, sha256
from tests.browser import open_page
from tests.judges._flaky_server import SERVE, fake_vllm

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_every_file_the_package_reads(installed_wheel: tuple[Path, Path]) -> None:
    wheel, _ = installed_wheel
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "rlaif"
    files = [p.relative_to(ROOT).as_posix() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files and sorted(set(files) - shipped) == []
    # Every package-data pattern names something: a stale one (a folder that moved) ships nothing, silently.
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rlaif"]
    assert [pattern for pattern in patterns if not list(package.glob(pattern))] == []


@pytest.mark.slow
def test_smoke_run_trains_lora_only_and_leaves_a_complete_run_folder(smoke_run: tuple[Path, str]) -> None:
    run_dir, base_before = smoke_run
    base_weights = packaged_model_dir() / "model.safetensors"

    # The adapter: LoRA tensors only, and they moved from their initial values (lora_B starts at 0).
    from safetensors.torch import load_file

    adapter = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert adapter and all("lora_A" in k or "lora_B" in k for k in adapter)
    lora_b = [t for k, t in adapter.items() if "lora_B" in k]
    assert lora_b and any(float(t.abs().max()) > 0 for t in lora_b)
    # The base model on disk was not touched.
    assert sha256(base_weights) == base_before

    # rewards.jsonl: one line per judged completion (2 steps x 4 completions), scores in [0, 1] or null.
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4
    for line in lines:
        assert line["score"] is None or 0.0 <= line["score"] <= 1.0
        assert line["prompt_id"] and "verdicts" in line and "rationale" in line
    assert {line["step"] for line in lines} == {1, 2}  # TRL's step numbers, as in step_timing.jsonl below
    assert json.loads((run_dir / "run_info.json").read_text())["step_numbering"] == "trl"

    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["steps"] == 2 and math.isfinite(summary["last_reward"])
    assert (run_dir / "reward_curve.png").stat().st_size > 1000
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert list((run_dir / "runs").rglob("events.out.tfevents.*")), "TensorBoard metrics missing"
    judge_metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert judge_metrics["requests"] >= 8 and judge_metrics["failures"] == 0
    assert not (run_dir / "FAILED").exists()
    # What docs/failures.md says the summary holds, and the judge cache docs/run_folder.md's table lists.
    assert summary["adapter"] == str(run_dir / "adapter") and summary["judge"].startswith("local:")
    assert summary["judge_requests"] == judge_metrics["requests"] and (run_dir / "judge_cache").is_dir()

    # Where each step's time went: one row per step, the parts adding up to the step, the judge's requests seen.
    timing = [json.loads(line) for line in (run_dir / "step_timing.jsonl").read_text().splitlines()]
    assert [row["step"] for row in timing] == [1, 2]
    for row in timing:
        parts = row["generation_s"] + row["judge_s"] + row["guard_s"] + row["optimisation_s"]
        assert row["generation_s"] > 0 and row["judge_s"] > 0 and parts == pytest.approx(row["step_s"])
        assert row["rollout_tokens"] > 0 and row["judge_requests"] > 0
    assert summary["step_time"]["steps_timed"] == 1 and 0 < summary["step_time"]["judge_share"] < 1

    # The hacking alarm watched every step (docs/monitoring.md): a monitor.jsonl line per step, monitor/* in
    # TensorBoard, its time apart from the judge's; two steps are too few for its rule (min_steps).
    monitor = [json.loads(line) for line in (run_dir / "monitor.jsonl").read_text().splitlines()]
    assert [line["step"] for line in monitor] == [1, 2] and all(line["rollouts"] == 4 for line in monitor)
    assert all(0.0 <= line["on_topic"] <= 1.0 and line["reward_z"] is None for line in monitor)
    events = b"".join(p.read_bytes() for p in (run_dir / "runs").rglob("events.out.tfevents.*"))
    assert b"monitor/on_topic" in events and b"monitor/all_equal_groups" in events
    assert b"rewards/rubric_on_topic/mean" in events  # the default reward's name, as docs/run_folder.md's table says
    assert b"completions" in events and b"rationale / error" in events  # each step's answers, table in TensorBoard
    assert all(row["guard_s"] > 0 for row in timing) and not (run_dir / "alarms.jsonl").exists()
    # The canaries' second opinion (docs/judging.md, "Second opinions"): debug=smoke's canaries.second_opinion.sample
    # (4 rows, not the default 16), checked before step 1 against the judge's own first check (the first_* keys).
    assert len(json.loads((run_dir / "canaries_first.json").read_text())["rows"]) == 4
    (check,) = [json.loads(line) for line in (run_dir / "canaries.jsonl").read_text().splitlines()]
    assert check["step"] == 1 and {"first_agreement", "first_kappa", "first_spearman"} <= set(check)

    # The baseline check ran before training: the base policy's reward, drawn as the curve's first point.
    baseline = json.loads((run_dir / "baseline.json").read_text())
    assert baseline["prompts"] == 2 and len(baseline["answers"]) == 2
    assert baseline["scored"] + baseline["failures"] == 2
    assert baseline["mean_reward"] is None or 0.0 <= baseline["mean_reward"] <= 1.0
    assert summary["baseline_reward"] == baseline["mean_reward"]

    # An adapter another machine can load: the base model by its hub id, and a card saying how it was trained.
    adapter_config = json.loads((run_dir / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (run_dir / "adapter" / "README.md").read_text()
    assert card.startswith("---\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n") and "| `concise` |" in card
    assert "[None]" not in (run_dir / "README.md").read_text()

    # What the report reads: TRL's metrics per step (the same reward as the summary) and where the run ran.
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rewards_logged = [m["reward"] for m in metrics if "reward" in m]
    assert rewards_logged[0] == summary["first_reward"] and rewards_logged[-1] == summary["last_reward"]
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["versions"]["trl"].startswith("1.16") and info["machine"]["cpus"] >= 1


@pytest.mark.slow
def test_the_smoke_runs_report_opens_in_a_browser_and_shows_the_summarys_rewards(
    smoke_run: tuple[Path, str], chromium: str, tmp_path: Path
) -> None:
    run_dir, _ = smoke_run
    report = run_dir / "report.html"
    assert 10_000 < report.stat().st_size <= 2_000_000  # written at the end of the run; the bound: 2 MB
    summary = json.loads((run_dir / "run_summary.json").read_text())
    with open_page(chromium, report) as (page, problems):
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        first = float(page.inner_text("[data-testid=first-reward]"))
        last = float(page.inner_text("[data-testid=last-reward]"))
        status = page.inner_text("[data-testid=status]")
        answers = page.locator("table.answers tbody tr").count()
    assert problems == []
    assert first == pytest.approx(summary["first_reward"], abs=5e-5)  # shown with 4 decimals
    assert last == pytest.approx(summary["last_reward"], abs=5e-5)
    assert status == "finished" and answers >= 2  # two steps: at least one answer each
    assert (tmp_path / "report.png").stat().st_size > 20_000


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "a", "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [("{broken", ":2: not valid JSON"), (json.dumps({"id": "b"}), ":2: missing required field 'messages'")],
)
def test_bad_dataset_exits_nonzero_naming_file_and_line(tmp_path: Path, second_line: str, expected: str) -> None:
    data = write_jsonl(tmp_path / "bad.jsonl", [GOOD, second_line])
    run_dir = tmp_path / "run"
    result = run_train(f"data.path={data}", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"{data}{expected}" in output
    assert not run_dir.exists()


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train("grpo.max_stepz=3", f"hydra.run.dir={run_dir}")
    assert result.returncode != 0 and "max_stepz" in result.stdout + result.stderr
    assert not run_dir.exists()

    result = run_train("+grpo.max_stepz=3", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "grpo: unknown GRPOConfig field(s) ['max_stepz']" in output
    assert not run_dir.exists()


def test_a_judge_launched_per_process_is_refused_under_several_processes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    launch = ("judge=vllm", "+judge/launch=vllm", f"hydra.run.dir={run_dir}")
    result = run_train(*launch, env={"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"})
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "judge.launch: 2 training processes would each start" in output
    assert "judge.base_url" in output and not run_dir.exists()


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(_has_cuda(), reason="the refusal is for machines without a GPU")
def test_vllm_rollouts_without_a_gpu_are_refused_before_anything_loads(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train("grpo=gpu", "grpo.bf16=false", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "grpo.use_vllm: vLLM rollouts (vllm_mode=colocate) need an NVIDIA GPU" in output
    assert not run_dir.exists()


def test_a_mapped_source_with_a_wrong_column_exits_2_naming_the_key(tmp_path: Path) -> None:
    from datasets import Dataset

    data = tmp_path / "qa.parquet"
    Dataset.from_list([{"question": "What is 2 + 2?", "answer": "4"}]).to_parquet(str(data))
    run_dir = tmp_path / "run"
    result = run_train(f"data.path={data}", "data.columns.prompt=questoin", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "data.columns.prompt='questoin' is not a column" in output
    assert not run_dir.exists()


def test_bad_reward_setting_names_the_key(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train("reward.mode=vibes", "debug=smoke", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "reward" in output and "vibes" in output
    assert not run_dir.exists()


def test_a_bad_report_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    # The report is written at the run's end; its settings are checked before anything is built.
    run_dir = tmp_path / "run"
    result = run_train("report.prices.input_per_million=-1", "debug=smoke", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "report.prices.input_per_million" in output, output[-2000:]
    assert not run_dir.exists()


SECRETS = {
    "OPENAI_API_KEY": "sk-test-Op3nAiKey000111",
    "AWS_ACCESS_KEY_ID": "AKIATESTSECRETID0001",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMItestSECRET0001",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEtestSESSIONtoken0001",
}
LAUNCH_TOKEN = "hf_SeCrEtLaunchToken0001"


@pytest.mark.slow
def test_secrets_never_reach_the_run_folder_or_the_output(tmp_path: Path) -> None:
    fake = fake_vllm(tmp_path / "fake", SERVE)  # a launched "vLLM" that answers every request
    run_dir = tmp_path / "run"
    result = run_train(
        "debug=smoke",
        "judge=vllm",
        "+judge/launch=vllm",
        f"judge.launch.python={sys.executable}",
        f"judge.launch.model={tmp_path}",
        "judge.launch.device=cpu",
        f"+judge.launch.env.PYTHONPATH={fake['PYTHONPATH']}",
        f"+judge.launch.env.HF_TOKEN={LAUNCH_TOKEN}",
        "judge.api_key_env=OPENAI_API_KEY",  # the key is sent to the server, never written anywhere
        f"hydra.run.dir={run_dir}",
        env=SECRETS,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "HF_TOKEN=***" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 10
    for secret in [*SECRETS.values(), LAUNCH_TOKEN]:
        assert secret not in result.stdout + result.stderr
        leaks = [p for p in files if secret.encode() in p.read_bytes()]
        assert not leaks, f"{secret[:6]}... found in {leaks}"


def test_preflight_refuses_to_train_on_a_judge_that_fails_its_evaluation(tmp_path: Path) -> None:
    concise, polite = "concise", "polite"
    padded = "Many people ask this. It is a good thing to know. Let me explain. 2 + 2 is 4. I hope this helps you."
    rows = [
        {"prompt": "What is 2 + 2?", "response": "2 + 2 is 4.", "label": "pass", "criterion": concise},
        {"prompt": "What is 2 + 2?", "response": padded, "label": "fail", "criterion": concise},
        {"prompt": "How do I boil an egg?", "response": "Boil it for 9 minutes.", "label": "pass", "criterion": polite},
        {"prompt": "How do I boil an egg?", "response": "Boil it, idiot.", "label": "fail", "criterion": polite},
    ]
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps({"id": f"r{i}", **r}) + "\n" for i, r in enumerate(rows)))
    run_dir = tmp_path / "run"
    result = run_train(
        "preflight=true",
        f"judge_eval.labelled={labelled}",
        "judge_eval.audit.per_category=2",
        "+judge_eval.thresholds.min_agreement=1.0",  # the 135M judge never passes all four: the gate closes
        "grpo.max_steps=1",
        f"hydra.run.dir={run_dir}",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output[-3000:]
    assert "failed its evaluation" in output and "agreement" in output
    summary = json.loads((run_dir / "judge_eval" / "summary.json").read_text())
    assert summary["n"] == 4 and (run_dir / "judge_eval" / "report.md").is_file()
    assert not (run_dir / "baseline.json").exists() and not (run_dir / "runs").exists()  # stopped before the policy
