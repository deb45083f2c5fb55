"""A misbehaving OpenAI-compatible server on 127.0.0.1 for judge resilience tests.

Each POST to ``/v1/chat/completions`` takes the next action of a script (then ``default``):

- ``ok``: a valid chat completion (logprobs when asked, the first choice when choices are asked)
- ``hang``: never answer (until the server stops)
- ``close``: drop the connection without a response
- ``500``, ``503``, ``400``: an error status with an OpenAI-style error body
- ``429``: rate limited, with a ``Retry-After`` header (``retry_after``)
- ``garbage``: status 200 with a body that is not JSON
- ``no_choices``, ``empty``: well-formed JSON with no choices / empty content
- ``not_completion``, ``json_list``: status 200, valid JSON that is no chat completion (an object, a list)
- ``429_bare``: rate limited without a ``Retry-After`` header
- ``slow``: ``ok`` after 0.2 s, so that concurrent requests overlap on the server
- ``reply:<text>``: ``ok`` with ``<text>`` as the content
- ``top:<JSON object>``: ``ok`` whose first token's top-logprobs are that ``{token: logprob}`` object
  (``NaN`` allowed); its first entry is the reply's token and content
- ``usage:<prompt>:<completion>``: ``ok`` reporting that usage (prompt and completion tokens)

``times`` holds each request's receive time (``time.monotonic()``), in the order of ``bodies``: rate tests
measure their windows on the server's own clock.

Run as a script (``python _flaky_server.py --port N``) it serves ``ok`` forever: :func:`fake_vllm`
writes a ``vllm.entrypoints.openai.api_server`` module that does that, for the server lifecycle tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import textwrap
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

TOP_LOGPROBS = [("yes", -0.2), (" yes", -2.0), ("no", -1.9), ("Yes", -3.0), ("maybe", -4.5)]


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion answering ``body`` the way vLLM would shape it."""
    choices = (body.get("structured_outputs") or {}).get("choice")
    if choices:
        text = choices[0]
    elif body.get("response_format", {}).get("type") == "json_schema":
        text = '{"verdict": "pass"}'
    else:
        text = "ok: " + str(body["messages"][-1]["content"])
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if body.get("logprobs"):
        top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in TOP_LOGPROBS[: body.get("top_logprobs") or 0]]
        choice["logprobs"] = {"content": [{"token": "yes", "logprob": -0.2, "bytes": None, "top_logprobs": top}]}
    return {
        "id": "chatcmpl-flaky",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "judge"),
        "choices": [choice],
        "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
    }


class FlakyServer:
    """Threaded HTTP server on 127.0.0.1 (a free port unless ``port``: a restart on the same address) that
    follows a script; records what it received."""

    def __init__(self, script: Sequence[str] = (), default: str = "ok", retry_after: str = "0", port: int = 0) -> None:
        self.script, self.default, self.retry_after = list(script), default, retry_after
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.in_flight = self.max_in_flight = 0
        self.released = threading.Event()
        self.connections: set[socket.socket] = set()  # open keep-alive connections, cut by stop()
        self._lock = threading.Lock()
        self._httpd = _Listener(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def hits(self) -> int:
        with self._lock:
            return len(self.bodies)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def next_action(self, body: dict[str, Any], headers: dict[str, str]) -> str:
        with self._lock:
            index = len(self.bodies)
            self.bodies.append(body)
            self.headers.append(headers)
            self.times.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.script[index] if index < len(self.script) else self.default

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def start(self) -> FlakyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop as a killed server does: the listening socket and every open connection are closed."""
        self.released.set()  # let hanging handlers finish
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections, self.connections = set(self.connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FlakyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Listener(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a burst of new connections past it has its SYNs dropped and
    # retried a second later, which would show as a client-side delay in the rate tests' receive times.
    request_queue_size = 128


def _handler_for(server: FlakyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real server: the client pool is exercised

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server.connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server.connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def _reply(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            action = server.next_action(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                self._act(action, body)
            finally:
                server.done()

        def _act(self, action: str, body: dict[str, Any]) -> None:
            error = json.dumps({"error": {"message": f"scripted {action}", "type": "test"}}).encode()
            if action == "ok":
                self._reply(200, json.dumps(completion(body)).encode())
            elif action == "hang":
                server.released.wait(60.0)
                self.close_connection = True
            elif action == "close":
                self.close_connection = True
            elif action == "429":
                self._reply(429, error, {"Retry-After": server.retry_after})
            elif action in ("400", "500", "503"):
                self._reply(int(action), error)
            elif action == "garbage":
                self._reply(200, b"{this is not json")
            elif action == "no_choices":
                self._reply(200, json.dumps({**completion(body), "choices": []}).encode())
            elif action == "empty":
                reply = completion(body)
                reply["choices"][0]["message"]["content"] = ""
                self._reply(200, json.dumps(reply).encode())
            elif action == "not_completion":
                self._reply(200, json.dumps({"object": "list", "data": []}).encode())
            elif action == "json_list":
                self._reply(200, b"[]")
            elif action == "429_bare":
                self._reply(429, error)
            elif action == "slow":
                server.released.wait(0.2)
                self._reply(200, json.dumps(completion(body)).encode())
            elif action.startswith("reply:"):
                reply = completion(body)
                reply["choices"][0]["message"]["content"] = action.removeprefix("reply:")
                self._reply(200, json.dumps(reply).encode())
            elif action.startswith("usage:"):
                prompt, completion_tokens = (int(n) for n in action.removeprefix("usage:").split(":"))
                reply = completion(body)
                reply["usage"] = {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt + completion_tokens,
                }
                self._reply(200, json.dumps(reply).encode())
            elif action.startswith("top:"):
                self._reply(
                    200, json.dumps(_with_top(completion(body), json.loads(action.removeprefix("top:")))).encode()
                )
            else:
                raise ValueError(f"unknown action {action!r}")

    return Handler


def _with_top(reply: dict[str, Any], top: dict[str, float]) -> dict[str, Any]:
    """``reply`` with the first token's top-logprobs replaced by ``top`` (its first entry is the token)."""
    token, logprob = next(iter(top.items()))
    alternatives = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top.items()]
    reply["choices"][0]["message"]["content"] = token
    reply["choices"][0]["logprobs"] = {
        "content": [{"token": token, "logprob": logprob, "bytes": None, "top_logprobs": alternatives}]
    }
    return reply


# -- a fake vLLM entry point ------------------------------------------------------------------


def fake_vllm(tmp_path: Path, body: str) -> dict[str, str]:
    """A ``vllm.entrypoints.openai.api_server`` module in tmp_path; returns the env that finds it."""
    module = tmp_path / "vllm" / "entrypoints" / "openai" / "api_server.py"
    module.parent.mkdir(parents=True)
    module.write_text(textwrap.dedent(body).format(flaky=Path(__file__).resolve()))
    # Regular packages, not namespace ones: an installed vllm (a regular package) would win over a
    # namespace package whatever PYTHONPATH says.
    for package in (tmp_path / "vllm", tmp_path / "vllm/entrypoints", module.parent):
        (package / "__init__.py").touch()
    return {"PYTHONPATH": str(tmp_path)}


SERVE = """
    import runpy, subprocess, sys
    # an engine worker in the same process group, as vLLM has
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(sys.argv[0].replace("api_server.py", "child.pid"), "w").write(str(child.pid))
    sys.argv = ["{flaky}", *sys.argv[1:]]
    runpy.run_path("{flaky}", run_name="__main__")
"""


def pid_alive(pid: int) -> bool:
    """A live process (not a zombie), asked of psutil as rlaif's process handling is."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args()  # ignore the vLLM arguments the fake entry point passes on
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), _handler_for(FlakyServer()))
    print(f"flaky server on port {args.port}", flush=True)
    httpd.serve_forever()
