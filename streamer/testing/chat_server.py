"""A local OpenAI-compatible chat-completions server on 127.0.0.1 that streams canned answers.

For tests and examples of code that asks a model (the ``*-generate`` commands, your own): each
request takes the next scripted :class:`Reply` (the last one repeats) and gets it streamed as
``chat.completion.chunk`` SSE events ending in ``data: [DONE]``. It is a :class:`ReplayServer`
whose replies are written from text instead of read from a recording; requests are recorded::

    with ChatServer([Reply("12.5")]) as server:
        ModelConfig("any-model", server.url) ...
        server.requests[0]["messages"]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from attrs import define, field

from .replay import Recorded, ReplayServer, error_reply
from .replay import Reply as HTTPReply

__all__ = ["ChatServer", "Reply", "chat_sse"]


@define(frozen=True, slots=True)
class Reply:
    """One canned answer: text content, or a tool call, or an error status; optionally cut short."""

    content: str = ""
    tool_name: str | None = None
    tool_arguments: str = ""
    status: int = 200
    #: False: no finish chunk and no ``[DONE]``, as if the model's stream was cut.
    done: bool = True
    #: Characters of content (or of tool arguments) per chunk.
    chunk_size: int = 7
    #: Seconds between HTTP writes.
    delay: float = 0.0


@define(slots=True)
class ChatServer:
    """Serve scripted replies; ``url`` is the base URL to give a client (``.../v1``)."""

    replies: list[Reply]
    #: The JSON bodies of the requests, in order.
    requests: list[dict[str, Any]] = field(factory=list)
    _server: ReplayServer | None = None
    _served: int = 0
    _lock: threading.Lock = field(factory=threading.Lock)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        assert self._server is not None, "start the server first"
        return self._server.base_url

    def next_reply(self, body: dict[str, Any]) -> Reply:
        """Record the request and pick the reply for it."""
        with self._lock:
            self.requests.append(body)
            reply = self.replies[min(self._served, len(self.replies) - 1)]
            self._served += 1
            return reply

    def _respond(self, request: Recorded) -> HTTPReply:
        body = request.body if isinstance(request.body, dict) else {}
        reply = self.next_reply(body)
        if reply.status != 200:
            return error_reply(reply.status, reply.content or "canned error", "x")
        sse = b"".join(chat_sse(reply, str(body.get("model", "canned"))))
        return HTTPReply(body=sse, chunk_size=256, delay=reply.delay)

    def start(self) -> ChatServer:
        """Listen on an ephemeral port of 127.0.0.1 in a daemon thread."""
        self._server = ReplayServer(responder=self._respond).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def chat_sse(reply: Reply, model: str = "canned") -> Iterator[bytes]:
    """The SSE events of a chat completion stream that says ``reply``, one ``bytes`` per event."""
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
