"""Two training processes on CPU (``accelerate launch --multi_gpu``, gloo) through the real entry point, both
ranks judged by one real vLLM server, one run folder: the distributed path without a GPU.

``accelerate launch --cpu --num_processes 2`` would silently run one process; ``--multi_gpu`` with
``grpo.use_cpu=true`` starts two CPU ranks that talk over gloo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rlaif.judges.serving.process_group import free_port
from rlaif.judges.serving.vllm_server import VLLMServer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REWARDS = {
    # With the judge's pre-flight evaluation, on a few labelled rows: the main process runs it, once.
    "rubric": (
        "reward=rubric",
        "preflight=true",
        "judge_eval.audit.enabled=false",
        "judge_eval.thresholds.min_auc=null",
    ),
    "preference_within_group": ("reward=preference", "reward.mode=within_group"),
}


@pytest.mark.parametrize("reward", sorted(REWARDS))
def test_two_cpu_ranks_share_one_run_folder_and_one_judge_server(
    vllm_server: VLLMServer, tmp_path: Path, reward: str
) -> None:
    run_dir = tmp_path / "run"
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(_few_labelled_rows())
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [
        str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port("127.0.0.1")),
        "-m", "rlaif.train", "debug=smoke", "+grpo.use_cpu=true", *REWARDS[reward],
        "judge=vllm", f"judge.base_url={vllm_server.base_url}", f"hydra.run.dir={run_dir}",
        f"judge_eval.labelled={labelled}",
    ]  # fmt: skip
    # Three CPU-heavy processes on 2 cores (two ranks, the server): one OpenMP thread per rank.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    served_before = _served(vllm_server)
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The judge totals are both ranks': every request the server completed (each rank's pre-flight probe is sent
    # outside the counters), and its prompt tokens; each rank kept its own running totals as it went.
    served = [after - before for after, before in zip(_served(vllm_server), served_before, strict=True)]
    totals = json.loads((run_dir / "judge_metrics.json").read_text())
    assert totals["failures"] == totals["retries"] == 0, totals
    assert totals["requests"] - totals["cache_hits"] + 2 == served[0], (totals, served)
    assert 0 < served[1] - totals["tokens_in"] < 200, (totals, served)  # the two probes' prompts
    ranks = sorted(p.name for p in (run_dir / "judge_totals").iterdir())
    assert ranks == ["rank0.attempt1.json", "rank1.attempt1.json"]
    assert all(json.loads((run_dir / "judge_totals" / r).read_text())["totals"]["requests"] > 0 for r in ranks)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["labelled.jsonl", "run"]  # one run folder
    evaluated = (result.stdout + result.stderr).count("the judge passed its evaluation")
    assert evaluated == (1 if "preflight=true" in REWARDS[reward] else 0)
    assert (run_dir / "judge_eval" / "report.md").is_file() == (evaluated == 1)
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["steps"] == 2 and summary["judge"].startswith(f"openai:{vllm_server.base_url}")
    # Each rank graded its own completions with the one server: 2 steps x 4 completions per rank.
    per_rank = {name: (run_dir / name).read_text().splitlines() for name in ("rewards.jsonl", "rewards.rank1.jsonl")}
    for name, lines in per_rank.items():
        rows = [json.loads(line) for line in lines]
        assert len(rows) == 8, name
        assert sum(row["score"] is not None for row in rows) >= 4, (name, [row["error"] for row in rows])
    prompts = [{json.loads(line)["prompt_id"] for line in lines} for lines in per_rank.values()]
    assert not prompts[0] & prompts[1]  # the ranks trained on different prompts


def _served(server: VLLMServer) -> tuple[float, float]:
    """(requests completed, prompt tokens) so far, from the server's own Prometheus counters."""
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    count = {"vllm:request_success_total": 0.0, "vllm:prompt_tokens_total": 0.0}
    for line in text.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in count:
            count[name] += float(line.rsplit(" ", 1)[1])
    return count["vllm:request_success_total"], count["vllm:prompt_tokens_total"]


def _few_labelled_rows(per_label: int = 3) -> str:
    """A few of the shipped polite rows, passing and failing: enough for the pre-flight to run, quickly."""
    from rlaif.evaluation.labelled_sets import labelled_path

    rows = [json.loads(line) for line in labelled_path("packaged:everyday_pointwise").read_text().splitlines()]
    polite = [row for row in rows if row["criterion"] == "polite"]
    picked: list[dict[str, object]] = []
    for label in ("pass", "fail"):
        picked += [row for row in polite if row["label"] == label][:per_label]
    return "".join(json.dumps(row) + "\n" for row in picked)
