"""The Lambda deployment zip, unpacked into a clean venv that has only boto3, scores a payload.

What the Lambda runtime has is Python and boto3; the zip brings the rest. The zip is built for this
interpreter's Python version (LAMBDA_PYTHON), the judge is the loopback Converse endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.judges.converse_server import ConverseServer, RecordedRequest, Reply
from tests.nova.payloads import LONG, POLITE_SHORT, bedrock_sample, evaluation_sample, judge_reply, request_text

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "numpy", "openai", "httpx")

RUN_HANDLER = f"""
import json, sys
from rlaif.nova.lambda_handler import handler
results = handler(json.loads(sys.argv[1]), None)
print(json.dumps({{"results": results, "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


@pytest.mark.slow
def test_the_zip_alone_with_boto3_scores_a_payload(tmp_path: Path, aws_dummy_env: None) -> None:
    zip_path = tmp_path / "lambda.zip"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build = subprocess.run(
        [str(ROOT / "scripts" / "package_nova_lambda.sh"), str(zip_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "LAMBDA_PYTHON": version, "PYTHON": sys.executable},
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    with zipfile.ZipFile(zip_path) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
        archive.extractall(tmp_path / "task")  # the Lambda's /var/task
    assert "rlaif" in top and "hydra" in top and not top & set(HEAVY)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q", "install", "boto3"]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]

    with ConverseServer() as server:

        def respond(request: RecordedRequest) -> Reply:
            return Reply.ok(judge_reply(request_text(request.body)))

        server.responder = respond
        event = [bedrock_sample("a", POLITE_SHORT), evaluation_sample("b", LONG), {"id": "c"}]
        env = {
            key: value
            for key, value in os.environ.items()
            if key.startswith("AWS_") or key in ("PATH", "HOME", "LANG", "TMPDIR")
        }
        env |= {"PYTHONPATH": str(tmp_path / "task"), "RLAIF_NOVA_OVERRIDES": f"judge.endpoint_url={server.url}"}
        run = subprocess.run(
            [str(venv / "bin" / "python"), "-s", "-c", RUN_HANDLER, json.dumps(event)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path / "task",
            timeout=300,
        )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    reply = json.loads(run.stdout.strip().splitlines()[-1])
    scores = {r["id"]: r["aggregate_reward_score"] for r in reply["results"]}
    assert scores == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.0})
    assert reply["results"][2]["metrics_list"] == [{"name": "error", "value": 1.0, "type": "Metric"}]
    assert reply["loaded"] == []  # the handler's import path pulled in none of the heavy libraries
    assert server.count() == 4
