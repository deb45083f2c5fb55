"""A fake AWS Lambda on 127.0.0.1 speaking the Invoke wire format that real boto3 uses.

``POST /2015-03-31/functions/{FunctionName}/invocations`` with the JSON payload as the body. Success:
200 and the function's JSON result. A function that raises: 200 with ``X-Amz-Function-Error: Unhandled``
and ``{"errorMessage", "errorType"}``. Throttling: 429 with ``x-amzn-ErrorType: TooManyRequestsException``.
The function behind it is any Python callable ``(event, context)``; ``throttle`` answers that many
requests with 429 first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class LambdaServer:
    def __init__(self, function: Callable[[Any, Any], Any]) -> None:
        self.function = function
        self.throttle = 0
        self.invocations: list[tuple[str, Any]] = []  # (function name, event)
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LambdaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def _handler_for(server: LambdaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path.split("?", 1)[0].split("/")
            if len(parts) != 5 or parts[1] != "2015-03-31" or parts[2] != "functions" or parts[4] != "invocations":
                self._send(
                    404, {"message": f"no route for {self.path}"}, {"x-amzn-ErrorType": "ResourceNotFoundException"}
                )
                return
            with server._lock:
                throttled = server.throttle > 0
                server.throttle -= int(throttled)
            if throttled:
                server.statuses.append(429)
                self._send(
                    429,
                    {
                        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                        "Type": "User",
                        "message": "Rate Exceeded.",
                    },
                    {"x-amzn-ErrorType": "TooManyRequestsException"},
                )
                return
            event = json.loads(body or b"null")
            server.invocations.append((unquote(parts[3]), event))
            try:
                reply, headers = server.function(event, None), {"X-Amz-Executed-Version": "$LATEST"}
            except Exception as exc:  # what Lambda does with an unhandled exception
                reply = {"errorMessage": str(exc), "errorType": type(exc).__name__}
                headers = {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"}
            server.statuses.append(200)
            self._send(200, reply, headers)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
