"""A wedged judge server on 127.0.0.1: it accepts every connection, reads what is sent, and never answers
anything (no chat completion, no ``/health``, not even an HTTP status line), as a replica whose GPU hung does.

It counts the HTTP requests it received, telling the pre-flight request (:data:`rlaif.judges.preflight.PROBE`)
from judge requests, so a test can say how many attempts went to it, and when each arrived (``time.monotonic()``,
the clock of :class:`FlakyServer`'s ``times``): the order of events on two servers, never a duration.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from rlaif.judges.preflight import PROBE

_PROBE_TEXT = str(PROBE.messages[-1]["content"]).encode()


class HungServer:
    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._received: list[tuple[float, bytearray]] = []  # each request: when it came, its bytes so far
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _requests(self) -> list[tuple[float, bytes]]:
        with self._lock:
            return [(when, bytes(data)) for when, data in self._received]

    @property
    def probe_times(self) -> list[float]:
        """When each pre-flight request came (at start-up, and the pool's probes while it is out)."""
        return [when for when, request in self._requests() if _PROBE_TEXT in request]

    @property
    def probes(self) -> int:
        return len(self.probe_times)

    @property
    def judge_requests(self) -> int:
        """Every other request received: attempts to have an answer judged here."""
        return sum(1 for _, request in self._requests() if _PROBE_TEXT not in request)

    def start(self) -> HungServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        mine: bytearray | None = None  # the request this connection is sending
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                with self._lock:
                    if mine is None or chunk.startswith(b"POST "):  # never answered: one request per connection
                        mine = bytearray()
                        self._received.append((time.monotonic(), mine))
                    mine += chunk

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not, on Linux)
        self._sock.close()
        with self._lock:
            connections, self._connections = list(self._connections), []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def __enter__(self) -> HungServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
