"""The server process group a judge owns: free ports, and stopping every process of the group, through psutil.

vLLM starts helper processes (the engine core, workers); the server is started in a session of its own, so
its PID is also its process-group id, and stopping the group stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from contextlib import suppress

import psutil

_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def free_port(host: str) -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Nothing listens on ``host:port``. SO_REUSEADDR as servers bind (uvicorn does): connections of a server
    that just died linger in TIME_WAIT for a minute, and must not stop its restart on the same address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def group_members(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for process in psutil.process_iter():
        with suppress(psutil.Error, ProcessLookupError, PermissionError):
            if os.getpgid(process.pid) == pgid and process.status() not in _GONE:
                members.append(process)
    return members


def command_line(pid: int) -> str:
    """The command line of ``pid`` ("" when there is no such process, or it cannot be read)."""
    with suppress(psutil.Error):
        return " ".join(psutil.Process(pid).cmdline())
    return ""


def terminate_group(pgid: int, grace_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group ``pgid``, wait up to ``grace_s`` for it to go, then SIGKILL what is left."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        if proc is not None:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(wait_s, 1.0))  # reap our child, so it is not a zombie member
        _, alive = psutil.wait_procs(group_members(pgid), timeout=wait_s)
        if not [p for p in alive if p.is_running() and p.status() not in _GONE]:
            break
    if proc is not None:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
