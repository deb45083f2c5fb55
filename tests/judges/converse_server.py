"""A fake Amazon Bedrock Runtime on 127.0.0.1 speaking the Converse wire format that real boto3 uses.

``POST /model/{modelId, URL-encoded}/converse`` with a JSON body; a success is the Converse JSON reply, an
error is its HTTP status, an ``x-amzn-ErrorType: <Code>:<namespace>`` header and ``{"message": ...}``.
Each test scripts the replies in order; once the script runs out every request gets a plain success, or
what ``responder(recorded_request)`` returns when a test sets one (replies that depend on the request).
Every request is recorded (credentials left out), and the most requests ever handled at once is kept
in ``max_in_flight``, so a test can check a client's concurrency cap from the server's side.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

# HTTP status per error code, as in botocore's bedrock-runtime service model (2023-09-30).
ERROR_STATUS = {
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceUnavailableException": 503,
    "InternalServerException": 500,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
}
_SECRET_HEADERS = {"authorization", "x-amz-security-token"}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a success (``text``), an error (``code``), optionally after hanging."""

    text: str = "ok"
    code: str | None = None
    status: int = 200
    message: str = ""
    hang_s: float = 0.0
    input_tokens: int = 11
    output_tokens: int = 3
    reasoning: str | None = None  # a reasoning model's reasoningContent block, sent before the text

    @classmethod
    def ok(
        cls, text: str = "ok", input_tokens: int = 11, output_tokens: int = 3, reasoning: str | None = None
    ) -> Reply:
        return cls(text=text, input_tokens=input_tokens, output_tokens=output_tokens, reasoning=reasoning)

    @classmethod
    def error(cls, code: str, status: int | None = None, message: str | None = None) -> Reply:
        return cls(code=code, status=status or ERROR_STATUS.get(code, 400), message=message or f"scripted {code}")

    @classmethod
    def hang(cls, seconds: float, then: str = "late") -> Reply:
        """Say nothing for ``seconds`` (or until the server stops), then answer ``then``."""
        return cls(text=then, hang_s=seconds)


@dataclass
class RecordedRequest:
    """What reached the server: the raw path, the decoded model id, the JSON body, headers minus secrets."""

    path: str
    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    signed: bool = False


class ConverseServer:
    """Threaded HTTP server on 127.0.0.1 (port 0); use as a context manager or ``start()`` / ``stop()``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self.in_flight = self.max_in_flight = 0
        self.responder: Callable[[RecordedRequest], Reply] | None = None
        self._lock = threading.Lock()
        self._released = threading.Event()  # ends every hang at shutdown
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> ConverseServer:
        """Queue replies, answered in arrival order."""
        with self._lock:
            self._script.extend(replies)
        return self

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> ConverseServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-bedrock", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ConverseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ----------------------------------------------------------------------

    def _next(self, recorded: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._script:
                return self._script.popleft()
        return self.responder(recorded) if self.responder is not None else Reply.ok()

    def _hang(self, seconds: float) -> None:
        self._released.wait(seconds)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler_for(server: ConverseServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = self.path.split("?", 1)[0].split("/")
            if len(parts) != 4 or parts[1] != "model" or parts[3] != "converse":
                self._send(404, {"message": f"no route for {self.path}"}, "UnknownOperationException")
                return
            recorded = RecordedRequest(
                path=self.path,
                model_id=unquote(parts[2]),
                body=json.loads(raw or b"{}"),
                headers={k: v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS},
                signed="authorization" in {k.lower() for k in self.headers},
            )
            reply = server._next(recorded)
            server._enter()
            try:
                if reply.hang_s:
                    server._hang(reply.hang_s)
                if reply.code is not None:
                    self._send(reply.status, {"message": reply.message}, reply.code)
                else:
                    self._send(200, _success_body(reply))
            finally:
                server._leave()

        def _send(self, status: int, body: dict[str, Any], error_code: str | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if error_code is not None:
                    # AWS appends the error namespace after a colon; botocore keeps what precedes it.
                    self.send_header(
                        "x-amzn-ErrorType", f"{error_code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
                    )
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a judge timeout): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

    return Handler


def _success_body(reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    if reply.reasoning is not None:
        content.insert(0, {"reasoningContent": {"reasoningText": {"text": reply.reasoning, "signature": "sig"}}})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "end_turn" if reply.text else "max_tokens",
        "usage": {
            "inputTokens": reply.input_tokens,
            "outputTokens": reply.output_tokens,
            "totalTokens": reply.input_tokens + reply.output_tokens,
        },
        "metrics": {"latencyMs": 5},
    }
