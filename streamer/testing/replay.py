"""A local OpenAI-compatible endpoint that replays recorded streams over real HTTP on loopback.

For the offline demo, the examples and the tests: it answers any ``POST`` (``/v1/threads/runs``,
``/v1/threads/{id}/runs/{id}/submit_tool_outputs``, ``/v1/chat/completions``, ...) with the next
scripted :class:`Reply`: a status, headers, and a body sent with chunked transfer encoding in
pieces, with optional faults (a cut, a connection reset, a stall, a slow drip). It binds to
127.0.0.1 only and uses nothing but the standard library.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from attrs import define, field

__all__ = ["Recorded", "ReplayServer", "Reply", "sse_reply"]


@define(frozen=True, slots=True)
class Reply:
    """One scripted HTTP response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(factory=lambda: {"content-type": "text/event-stream"})
    #: Bytes per write (the body goes out with chunked transfer encoding, one HTTP chunk per write).
    chunk_size: int = 4096
    #: Seconds to sleep between writes (1 byte every millisecond: chunk_size=1, delay=0.001).
    delay: float = 0.0
    #: Stop after this many body bytes: ``"close"`` ends the connection cleanly mid-body (no last
    #: chunk), ``"reset"`` sends a TCP reset.
    cut_at: int | None = None
    cut_how: str = "close"
    #: Sleep this long after this many body bytes (an idle stall), then go on.
    stall_at: int | None = None
    stall_for: float = 0.0


def sse_reply(path: str | Path, **options: Any) -> Reply:
    """A 200 ``text/event-stream`` reply with a recorded body."""
    return Reply(body=Path(path).read_bytes(), **options)


@define(frozen=True, slots=True)
class Recorded:
    """What the server received: method, path, headers (lower-cased names) and JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and demos read their own output."""

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.replay.take(Recorded(self.command, self.path, headers, body))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        self._send_body(reply)

    def _send_body(self, reply: Reply) -> None:
        sent = 0
        body = reply.body
        limit = len(body) if reply.cut_at is None else min(reply.cut_at, len(body))
        stalled = False
        try:
            while sent < limit:
                if reply.stall_at is not None and not stalled and sent >= reply.stall_at:
                    stalled = True
                    time.sleep(reply.stall_for)
                end = min(sent + reply.chunk_size, limit)
                if reply.stall_at is not None and not stalled and sent < reply.stall_at < end:
                    end = reply.stall_at
                piece = body[sent:end]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                sent = end
                if reply.delay:
                    time.sleep(reply.delay)
            if reply.cut_at is not None:
                self._cut(reply.cut_how)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: nothing more to send

    def _cut(self, how: str) -> None:
        self.close_connection = True
        if how == "reset":
            # Linger 0: close() sends a TCP reset instead of a clean end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    replay: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (tests do, on purpose) is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class ReplayServer:
    """Serve scripted replies on ``127.0.0.1`` in a background thread.

    ``with ReplayServer([sse_reply(path)]) as server: Client(base_url=server.base_url, ...)``.
    Replies are served in order; the last one repeats when the script runs out unless
    ``repeat_last=False``, in which case further requests get a 500. ``requests`` records what
    arrived.
    """

    def __init__(self, replies: Sequence[Reply] | Iterable[Reply] = (), *, repeat_last: bool = True) -> None:
        self._replies = list(replies)
        self._repeat_last = repeat_last
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.replay = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The base URL to give a client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._replies.extend(replies)

    def take(self, request: Recorded) -> Reply:
        """Record a request and return the reply it gets."""
        with self._lock:
            self.requests.append(request)
            if len(self._replies) > 1 or (self._replies and not self._repeat_last):
                return self._replies.pop(0)
            if self._replies:
                return self._replies[0]
        message = {"error": {"message": "the replay script has no reply left", "type": "server_error"}}
        return Reply(500, json.dumps(message).encode(), {"content-type": "application/json"})

    def start(self) -> ReplayServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
