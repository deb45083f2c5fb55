"""``python -m rlaif.serve`` started as a user starts it, on 127.0.0.1 and a free port, for the reward server tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A running ``python -m rlaif.serve``: its URL, run folder and process (its output in ``<run_dir>.log``)."""

    def __init__(self, run_dir: Path, *overrides: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.run_dir = run_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = run_dir.with_suffix(".log")
        command = [sys.executable, "-m", "rlaif.serve", f"port={self.port}", f"hydra.run.dir={run_dir}", *overrides]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
            )

    def wait_ready(self, timeout: float = 240.0) -> Served:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"rlaif.serve exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"rlaif.serve did not answer /health in {timeout} s:\n{self.log.read_text()}")

    def listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
