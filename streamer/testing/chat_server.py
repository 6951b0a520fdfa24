"""A local OpenAI-compatible chat-completions server on 127.0.0.1 that streams canned answers.

Each POST to ``/v1/chat/completions`` takes the next scripted ``Reply`` (the last one repeats) and
streams it as ``chat.completion.chunk`` SSE events ending in ``data: [DONE]``. Requests are recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from attrs import define, field


@define(frozen=True, slots=True)
class Reply:
    """One canned answer: text content, or a tool call, or an error status; optionally cut short."""

    content: str = ""
    tool_name: str | None = None
    tool_arguments: str = ""
    status: int = 200
    done: bool = True
    chunk_size: int = 7
    delay: float = 0.0


@define(slots=True)
class ChatServer:
    """Serve scripted replies; ``url`` is the base URL to give a client (``.../v1``)."""

    replies: list[Reply]
    requests: list[dict[str, Any]] = field(factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _served: int = 0

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def next_reply(self, body: dict[str, Any]) -> Reply:
        """Record the request and pick the reply for it."""
        self.requests.append(body)
        reply = self.replies[min(self._served, len(self.replies) - 1)]
        self._served += 1
        return reply

    def start(self) -> ChatServer:
        """Listen on an ephemeral port of 127.0.0.1 in a daemon thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                reply = owner.next_reply(body)
                if reply.status != 200:
                    payload = json.dumps({"error": {"message": reply.content or "canned error", "type": "x"}})
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload.encode())
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in _chunks(reply, str(body.get("model", "canned"))):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    if reply.delay:
                        threading.Event().wait(reply.delay)
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chunks(reply: Reply, model: str) -> Iterator[bytes]:
    base = {"id": "chatcmpl-canned", "object": "chat.completion.chunk", "created": 0, "model": model}
    yield _event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    if reply.tool_name is not None:
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": reply.tool_name, "arguments": ""},
        }
        yield _event({**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
        args = reply.tool_arguments
        for i in range(0, len(args), reply.chunk_size):
            piece = {"index": 0, "function": {"arguments": args[i : i + reply.chunk_size]}}
            yield _event({**base, "choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
        finish = "tool_calls"
    else:
        text = reply.content
        for i in range(0, len(text), reply.chunk_size):
            yield _event(
                {**base, "choices": [{"index": 0, "delta": {"content": text[i : i + reply.chunk_size]}}]}
            )
        finish = "stop"
    if not reply.done:
        return
    yield _event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    yield b"data: [DONE]\n\n"
