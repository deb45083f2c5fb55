"""What one hung pool endpoint costs a training run: ``python -m rlaif.train debug=smoke judge=pool`` on a real vLLM
CPU server alone, against the same run with a second endpoint that accepts connections and never answers (a
wedged GPU server: no reply to anything, the pre-flight request included).

    RLAIF_VLLM_PYTHON=/path/to/vllm-venv/bin/python python benchmarks/hung_endpoint.py [--timeout-s 30] [--repeats 2]

The runs alternate (healthy alone, with the hung one, with the hung one, healthy alone, ...) on one server, each
in a fresh run folder and judge cache. For each it prints the wall time of the whole run, the judge requests
and pre-flight probes the hung endpoint received, and whether a verdict was lost (a ``None`` score in
``rewards.jsonl``); then the median extra time against the attempt timeout (``judge.endpoint.policy.timeout_s``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rlaif.data.models import packaged_model_dir
from rlaif.judges.preflight import PROBE
from rlaif.judges.serving.vllm_server import VLLMServer

_PROBE_TEXT = str(PROBE.messages[-1]["content"]).encode()


class Hung:
    """Accepts connections on 127.0.0.1 and reads them; never writes a byte."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.received = bytearray()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.sock.accept()
                self.connections.append(connection)
                threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                self.received += chunk

    def counts(self) -> tuple[int, int]:
        """(judge requests, probes) received so far."""
        requests = bytes(self.received).split(b"POST ")[1:]
        probes = sum(1 for r in requests if _PROBE_TEXT in r)
        return len(requests) - probes, probes

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.close()


def smoke(endpoints: list[str], timeout_s: float, folder: Path) -> tuple[float, bool]:
    """One smoke run; its wall time and whether every verdict arrived."""
    command = [
        sys.executable,
        "-m",
        "rlaif.train",
        "reward=rubric",
        "judge=pool",
        f"judge.endpoints=[{','.join(endpoints)}]",
        f"judge.endpoint.policy.timeout_s={timeout_s}",
        "debug=smoke",
        f"hydra.run.dir={folder}",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the run failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    lines = (folder / "rewards.jsonl").read_text().splitlines()
    return elapsed, all(json.loads(line)["score"] is not None for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout-s", type=float, default=30.0, help="judge.endpoint.policy.timeout_s")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side (order A B B A ...)")
    args = parser.parse_args()
    sides = {"healthy alone": False, "healthy + hung": True}
    times: dict[str, list[float]] = {side: [] for side in sides}
    order = [side for k in range(args.repeats) for side in (list(sides) if k % 2 == 0 else list(sides)[::-1])]
    with VLLMServer(str(packaged_model_dir()), cpu_threads=1) as server, tempfile.TemporaryDirectory() as tmp:
        for k, side in enumerate(order):
            hung = Hung() if sides[side] else None
            endpoints = [server.base_url] + ([hung.url] if hung else [])
            try:
                elapsed, complete = smoke(endpoints, args.timeout_s, Path(tmp) / f"run{k}")
                judged, probes = hung.counts() if hung else (0, 0)
            finally:
                if hung:
                    hung.stop()
            times[side].append(elapsed)
            print(
                f"{side}: {elapsed:.1f} s; hung endpoint got {judged} judge requests, {probes} probes; "
                f"every verdict arrived: {complete}",
                flush=True,
            )
    alone, both = (statistics.median(times[side]) for side in sides)
    print(
        f"attempt timeout {args.timeout_s:.0f} s, median of {args.repeats}: healthy alone {alone:.1f} s, "
        f"healthy + hung {both:.1f} s: the hung endpoint cost {both - alone:+.1f} s"
    )


if __name__ == "__main__":
    main()
