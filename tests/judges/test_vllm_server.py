"""VLLMServer lifecycle without vLLM: a fake ``vllm.entrypoints.openai.api_server`` that dies, never
gets ready, or serves (with an "engine worker" child), plus the CLI and the shell script around it.
The real server is exercised in tests/integration/test_vllm_judge.py."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rlaif.judges.serving.vllm_server import VLLMServer, VLLMServerError, main
from tests.judges._flaky_server import SERVE, fake_vllm, pid_alive


def fake_server(tmp_path: Path, body: str, **options: Any) -> VLLMServer:
    env = fake_vllm(tmp_path, body)
    log = str(tmp_path / "server.log")
    return VLLMServer(str(tmp_path), python=sys.executable, device="cpu", env=env, log_path=log, **options)


def test_command_uses_the_cpu_recipe(tmp_path: Path) -> None:
    server = VLLMServer("m", python="/venv/bin/python", device="cpu", port=8123, extra_args=["--max-model-len", "4096"])
    command = server.command("/models/m")
    assert command[:5] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/m"]
    assert "--enforce-eager" in command and command[-2:] == ["--max-model-len", "4096"]  # extra args win
    assert "--enforce-eager" not in VLLMServer("m", device="gpu").command("/models/m")
    assert server.base_url == "http://127.0.0.1:8123/v1"


def test_gpu_memory_share_is_passed_on_a_gpu_only() -> None:
    on_gpu = VLLMServer("m", device="gpu", gpu_memory_utilization=0.3).command("/models/m")
    assert on_gpu[on_gpu.index("--gpu-memory-utilization") + 1] == "0.3"
    assert "--gpu-memory-utilization" not in VLLMServer("m", device="cpu", gpu_memory_utilization=0.3).command("m")
    assert "--gpu-memory-utilization" not in VLLMServer("m", device="gpu").command("m")  # vLLM's own default
    with pytest.raises(ValueError, match="gpu_memory_utilization must be in"):
        VLLMServer("m", gpu_memory_utilization=1.5)


def test_serving_server_stops_with_its_whole_process_group(tmp_path: Path) -> None:
    with fake_server(tmp_path, SERVE) as server:
        pid = server.pid
        assert pid is not None
        child = int((tmp_path / "vllm/entrypoints/openai/child.pid").read_text())
        assert server.running and pid_alive(pid) and pid_alive(child)
    assert not pid_alive(pid) and not pid_alive(child) and server.pid is None


def test_server_that_dies_reports_its_log(tmp_path: Path) -> None:
    env = fake_vllm(tmp_path, "import sys; print('boom: no such model'); sys.exit(3)")
    server = VLLMServer(str(tmp_path), python=sys.executable, device="cpu", env=env, log_path=str(tmp_path / "s.log"))
    with pytest.raises(VLLMServerError, match=r"(?s)code 3.*boom: no such model"):
        server.start()
    assert server.pid is None


def test_a_dead_servers_address_is_free_again_at_once() -> None:
    """A server that closed its connections itself leaves them in TIME_WAIT; a restart there must work."""
    from rlaif.judges.serving.process_group import port_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first: its end goes to TIME_WAIT
            client.recv(1)
        assert not port_free("127.0.0.1", port)  # still listening
    assert port_free("127.0.0.1", port)


def test_server_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    env = fake_vllm(tmp_path, "import time; print('loading forever', flush=True); time.sleep(600)")
    log = str(tmp_path / "server.log")
    server = VLLMServer(
        str(tmp_path), python=sys.executable, device="cpu", env=env, startup_timeout_s=1.0, log_path=log
    )
    with pytest.raises(VLLMServerError, match=r"(?s)not ready.*loading forever"):
        server.start()
    assert server.pid is None and not server.running


def test_cli_and_script_start_and_stop_by_pid_file(tmp_path: Path, monkeypatch: Any) -> None:
    env = fake_vllm(tmp_path, SERVE)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    pid_file = tmp_path / "judge.pid"
    common = ["--model", str(tmp_path), "--python", sys.executable, "--device", "cpu", "--port", "0"]
    assert main(["start", *common, "--pid-file", str(pid_file), "--log-file", str(tmp_path / "cli.log")]) == 0
    pid = int(pid_file.read_text())
    assert pid_alive(pid)
    assert main(["stop", "--pid-file", str(pid_file)]) == 0
    assert not pid_alive(pid) and not pid_file.exists()

    script = Path(__file__).resolve().parents[2] / "scripts" / "serve_judge_vllm.sh"
    script_env = {**os.environ, "RLAIF_PYTHON": sys.executable, "RLAIF_VLLM_PYTHON": sys.executable}
    script_env |= {"PID_FILE": str(pid_file), "LOG_FILE": str(tmp_path / "script.log"), "PORT": "0", "DEVICE": "cpu"}
    subprocess.run(["bash", str(script), "start", str(tmp_path)], env=script_env, check=True, timeout=300)
    pid = int(pid_file.read_text())
    assert pid_alive(pid)
    subprocess.run(["bash", str(script), "stop"], env=script_env, check=True, timeout=120)
    assert not pid_alive(pid)


def test_script_names_the_fix_when_its_python_has_no_vllm(tmp_path: Path) -> None:
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("this python has vLLM: the error path cannot be shown with it")
    script = Path(__file__).resolve().parents[2] / "scripts" / "serve_judge_vllm.sh"
    pid_file = tmp_path / "judge.pid"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"RLAIF_PYTHON": sys.executable, "RLAIF_VLLM_PYTHON": sys.executable, "PID_FILE": str(pid_file)}
    result = subprocess.run(["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"{sys.executable} cannot import vllm" in result.stderr and "make judge-start" in result.stderr
    assert not pid_file.exists()


def test_port_in_use_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = fake_server(tmp_path, SERVE, port=busy.getsockname()[1])
        with pytest.raises(VLLMServerError, match="already in use"):
            server.start()
    assert server.pid is None


def test_cpu_recipe_picks_dtype_from_the_cpu_and_binds_the_cores_it_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlaif.judges.serving import vllm_server

    assert vllm_server.cpu_dtype(["sse4_2", "avx512f", "avx512_bf16"]) == "bfloat16"
    assert vllm_server.cpu_dtype(["sse4_2", "amx_bf16"]) == "bfloat16"
    assert vllm_server.cpu_dtype(["sse4_2", "avx2", "avx512f"]) == "float32"  # bf16 would take a slow path
    monkeypatch.setattr(vllm_server.os, "sched_getaffinity", lambda pid: {4, 5, 6}, raising=False)
    assert vllm_server.cpu_bind() == "4,5,6" and vllm_server.cpu_bind(1) == "4"

    server = VLLMServer("m", device="cpu", cpu_threads=2)
    command = server.command("/models/m")
    assert command[command.index("--dtype") + 1] == vllm_server.cpu_dtype()
    assert "--enable-prefix-caching" in command and command[command.index("--block-size") + 1] == "32"
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    assert server._environment()["VLLM_CPU_OMP_THREADS_BIND"] == "4,5"
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-1")  # the user's own binding wins
    assert server._environment()["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    assert "--enable-prefix-caching" in VLLMServer("m", device="gpu").command("/models/m")
