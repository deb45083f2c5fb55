"""``python -m rlaif.ENTRY ...`` for the tests, without paying TRL's import every time.

``rlaif.train`` imports torch, transformers, PEFT and TRL before it checks its config (~5 s of a bad-input test's
~7 s), and ``rlaif.evaluate`` and ``rlaif.judge_eval`` import them for any real run: paid again by each run. A
fork server (the idea of multiprocessing's ``forkserver``) imports them once per pytest process; each run is a
child forked from it that then runs the entry point exactly as ``python -m`` does
(:func:`runpy._run_module_as_main`, the function ``python -m`` calls): its own process and session, arguments,
environment and working directory, stdout and stderr to files, its real exit status. It imports nothing of
rlaif before the fork, so every run imports the checkout's rlaif fresh.

A run whose environment changes what the preloaded libraries read at import (``HF_*``, thread counts,
``PYTHONPATH``, ...) or that is not a plain ``python -m rlaif.X`` runs as a fresh process instead, as does every
run with ``RLAIF_TESTS_FRESH_PROCESSES=1``. Runs a test must signal or stream (kill -9, a hung judge) use
``subprocess.Popen`` themselves, and the default smoke run starts from the installed wheel: fresh interpreters
still prove the real start-up.

    python -m tests._forkserver   # started by :func:`run`, one per pytest process, stopped when it exits
"""

from __future__ import annotations

import atexit
import json
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# What the server imports before it forks: the libraries every entry point imports first.
PRELOAD = ("torch", "transformers", "peft", "datasets", "accelerate", "trl", "hydra", "omegaconf", "httpx", "openai")
# Environment variables the preloaded libraries (or the interpreter) read at import: a run that sets any of
# them to another value than the server's needs a fresh interpreter.
READ_AT_IMPORT = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "OMP_", "MKL_", "OPENBLAS_",
                  "TOKENIZERS_", "PYTHON", "LD_", "XDG_", "TRL_", "ACCELERATE_")  # fmt: skip
# The entry points that import them (rlaif.monitor and rlaif.report never do: a fresh interpreter starts them faster).
ENTRY_POINTS = ("rlaif.train", "rlaif.evaluate", "rlaif.judge_eval")
FRESH = "RLAIF_TESTS_FRESH_PROCESSES"


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)``, forked
    from the server when that is the same run; raises ``subprocess.TimeoutExpired`` as it does."""
    env = dict(os.environ if env is None else env)
    if _forkable(command, env):
        server = _Server.get()
        if server.same_imports(env):
            return server.run(list(command), env, str(Path(cwd or os.getcwd()).resolve()), timeout)
    return subprocess.run(list(command), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def _forkable(command: Sequence[str], env: Mapping[str, str]) -> bool:
    if os.environ.get(FRESH) == "1" or env.get(FRESH) == "1":
        return False
    return len(command) >= 3 and command[0] == sys.executable and command[1] == "-m" and command[2] in ENTRY_POINTS


class _Server:
    """The client side: one server per pytest process, started on first use, one run at a time."""

    _this: _Server | None = None

    @classmethod
    def get(cls) -> _Server:
        if cls._this is None or cls._this.process.poll() is not None:
            cls._this = cls()
        return cls._this

    def __init__(self) -> None:
        self.env = dict(os.environ)  # what it imports under, and what its runs inherit unless they say otherwise
        self.home = Path(tempfile.mkdtemp(prefix="rlaif-forkserver-"))  # its cwd: nothing importable there
        root = str(Path(__file__).resolve().parents[1])  # for python -m tests._forkserver; runs see their own env
        path = os.pathsep.join(p for p in (root, self.env.get("PYTHONPATH")) if p)
        with open(self.home / "server.log", "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests._forkserver"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.home,
                env={**self.env, "PYTHONPATH": path},
            )
        self.pending = b""
        self.ready = False
        atexit.register(self.close)

    def same_imports(self, env: Mapping[str, str]) -> bool:
        keys = {k for k in {*env, *self.env} if k.startswith(READ_AT_IMPORT)}
        return all(env.get(k) == self.env.get(k) for k in keys)

    def _reply(self, timeout: float | None) -> dict[str, Any] | None:
        """The server's next line, or None after ``timeout`` seconds (read unbuffered: select sees the pipe)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            if not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                log = (self.home / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the test fork server exited with {self.process.wait()}: {log}")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(
        self, command: list[str], env: dict[str, str], cwd: str, timeout: float | None
    ) -> subprocess.CompletedProcess[str]:
        if not self.ready:  # the first run waits for the imports
            assert self._reply(None) == {"ready": True}
            self.ready = True
        with tempfile.TemporaryDirectory(prefix="rlaif-run-") as folder:
            out, err = Path(folder, "stdout"), Path(folder, "stderr")
            request = {"argv": command[2:], "env": env, "cwd": cwd, "stdout": str(out), "stderr": str(err)}
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            started = self._reply(60)
            assert started is not None and "pid" in started, started
            done = self._reply(timeout)
            if done is None:  # as subprocess.run: kill it (here its whole session, with what it started), then raise
                try:
                    os.killpg(started["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    os.kill(started["pid"], signal.SIGKILL)
                self._reply(None)
                raise subprocess.TimeoutExpired(command, timeout or 0, _read(out), _read(err))
            return subprocess.CompletedProcess(command, done["returncode"], _read(out), _read(err))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def _read(path: Path) -> str:
    # As subprocess.run(text=True) decodes: the locale's encoding, universal newlines.
    text = path.read_bytes().decode(locale.getpreferredencoding(False)) if path.exists() else ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- the server (python -m tests._forkserver) ----------------------------------------------------------------


def serve() -> dict[str, Any]:
    """Import :data:`PRELOAD`, then fork a child per request line; return (in the child) the request to run.
    The parent answers each request with {"pid"} and then {"returncode"}, as subprocess's returncode."""
    import gc
    import importlib

    control_in, control_out = os.fdopen(os.dup(0)), os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # the libraries' prints never reach the control channel
    for name in PRELOAD:
        importlib.import_module(name)
    importlib.import_module("trl").GRPOTrainer  # noqa: B018 - TRL loads its trainers lazily: load the one used
    # Out of the collector's sight: a child's exit (which collects, and would walk the ~0.5M objects these imports
    # made) takes 0.5 s instead of 2.2 s, and its collections leave the pages it shares with the server alone.
    gc.freeze()
    print(json.dumps({"ready": True}), file=control_out, flush=True)
    for line in control_in:
        request = json.loads(line)
        sys.stdout.flush()  # nothing of the server's buffered output may reach a child's stdout
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control_in.close()
            control_out.close()
            return request  # type: ignore[no-any-return]
        print(json.dumps({"pid": pid}), file=control_out, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), file=control_out, flush=True)
    sys.exit(0)


def run_as_main(request: dict[str, Any]) -> None:
    """In the forked child: become ``python -m MODULE ARGS`` run in ``cwd`` with ``env``, output to the files."""
    import runpy

    os.setsid()  # its own session: a timeout kills it and whatever it started (a judge server)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    module, *args = request["argv"]
    sys.argv = [module, *args]  # runpy puts the module's file first, as python -m does
    sys.path[0] = request["cwd"]  # python -m: the working directory first
    runpy._run_module_as_main(module)  # type: ignore[attr-defined]  # what python -m runs


if __name__ == "__main__":
    run_as_main(serve())
