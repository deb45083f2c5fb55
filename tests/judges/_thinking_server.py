"""An OpenAI-compatible server on 127.0.0.1 that answers like a thinking judge (Qwen3, a DeepSeek-R1 distill).

``shape`` picks where the reasoning goes: ``"block"`` (a ``<think>...</think>`` block at the start of the
content, as a server without a reasoning parser sends it) or ``"field"`` (``reasoning_content`` beside the
content, as vLLM's reasoning parsers send it). Either way:

- a JSON-schema request (``reward.mode=json``) gets reasoning that holds a *decoy* verdict (every criterion
  failed), then the real one after it (every criterion passed), or, with ``cut=True``, reasoning cut off by
  ``max_tokens`` (an unclosed block / reasoning and no content, ``finish_reason: length``);
- a log-probability request (``reward.mode=logprob``, the pre-flight probe) gets a first token ``<think>``
  whose top-logprobs it dominates, the verdict words far below it (``finish_reason: length``).

``reasoning_tokens``: reported as ``usage.completion_tokens_details.reasoning_tokens`` (None: not reported, as
many servers do). ``bodies`` holds every request received. Run as a script (``--port N --shape S``) it serves
until killed.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the reasoning says: long enough to be cut in rewards.jsonl, with a decoy verdict inside.
REASONING_HEAD = "Let me check the answer against each criterion. A first draft of the verdict: "
REASONING_TAIL = " On reflection the draft is wrong: the answer is fine. " + "I double-check every criterion. " * 60
# The first token's top-logprobs of a thinking model asked for yes/no: "<think>" takes nearly everything.
THINKING_TOP = [("<think>", -0.004), ("So", -6.5), ("yes", -7.8), ("Okay", -8.0), ("no", -8.3)]


def verdict(schema: dict[str, Any], passed: bool) -> str:
    """A verdict over the criteria the request's JSON schema names."""
    criteria = list((schema.get("properties") or {}).keys())
    return json.dumps({c: {"reason": "decoy" if not passed else "meets it", "pass": passed} for c in criteria})


def completion(body: dict[str, Any], shape: str, cut: bool, reasoning_tokens: int | None) -> dict[str, Any]:
    fmt = body.get("response_format") or {}
    message: dict[str, Any] = {"role": "assistant"}
    finish = "stop"
    logprobs = None
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"]["schema"]
        reasoning = REASONING_HEAD + verdict(schema, passed=False) + REASONING_TAIL
        answer = verdict(schema, passed=True)
        if cut:
            reasoning, answer, finish = reasoning[:300], "", "length"
    else:  # a first-token question: thinking takes the token
        reasoning, answer, finish = "", "", "length"
        top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in THINKING_TOP[: body.get("top_logprobs") or 0]]
        logprobs = {"content": [{"token": "<think>", "logprob": -0.004, "bytes": None, "top_logprobs": top}]}
    if shape == "block":
        closed = "" if cut or not answer else "</think>\n\n"
        message["content"] = f"<think>\n{reasoning}\n{closed}{answer}" if reasoning or not logprobs else "<think>"
    else:
        message["content"] = answer or None
        message["reasoning_content"] = reasoning or None
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
    if logprobs is not None and body.get("logprobs"):
        choice["logprobs"] = logprobs
    usage: dict[str, Any] = {"prompt_tokens": 50, "completion_tokens": 400 if fmt else 1, "total_tokens": 450}
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return {"id": "chatcmpl-think", "object": "chat.completion", "created": 0, "model": body.get("model"),
            "choices": [choice], "usage": usage}  # fmt: skip


class ThinkingServer:
    """Threaded HTTP server on 127.0.0.1 (a free port unless ``port``); records the bodies it received."""

    def __init__(
        self, shape: str = "block", *, cut: bool = False, reasoning_tokens: int | None = None, port: int = 0
    ) -> None:
        assert shape in ("block", "field"), shape
        self.shape, self.cut, self.reasoning_tokens = shape, cut, reasoning_tokens
        self.bodies: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ThinkingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: ThinkingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            server.bodies.append(body)
            payload = json.dumps(completion(body, server.shape, server.cut, server.reasoning_tokens)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
