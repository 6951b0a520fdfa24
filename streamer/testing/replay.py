"""A local OpenAI-compatible endpoint that replays recorded streams over real HTTP on loopback.

For the offline demo, the examples, ``streamer replay`` and tests (yours too). Two ways to script it:

- a list of :class:`Reply` objects: any request (``POST /v1/threads/runs``, ``/v1/chat/completions``,
  ...) gets the next one; a status, headers, and a body sent with chunked transfer encoding in
  pieces, with optional faults (a cut, a connection reset, a stall, a slow drip);
- a *responder*, a function from the :class:`Recorded` request to its :class:`Reply`, such as
  :class:`Recordings`, which serves recorded ``.sse`` files by the request path and the kind of each
  file: chat at ``/v1/chat/completions``, responses at ``/v1/responses``, assistants at
  ``/v1/threads/runs`` and ``/v1/threads/{id}/runs``. It also serves ``GET /v1/responses/{id}``
  with ``stream=true&starting_after=N`` and honours ``Last-Event-ID``, to resume a stream;
- :class:`EventSource`, a responder serving one recording at any path by the WHATWG EventSource
  rules: ``Last-Event-ID`` resumes after that event, and a resume with nothing left gets a 204.

Both cut streams at event boundaries or in the middle of an event, may cut resumed streams too, and
may start each stream with a ``retry:`` field, to test clients that resume.

It binds to 127.0.0.1 by default and uses nothing but the standard library and attrs.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from attrs import define, field

from .. import sse

__all__ = [
    "KINDS",
    "EventSource",
    "Faults",
    "Recorded",
    "Recording",
    "Recordings",
    "ReplayServer",
    "Reply",
    "error_reply",
    "kind_of_path",
    "sse_reply",
]


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


def error_reply(status: int, message: str, kind: str = "invalid_request_error", **headers: str) -> Reply:
    """A JSON error in the OpenAI API's shape: ``{"error": {"message", "type", "code"}}``."""
    body = json.dumps({"error": {"message": message, "type": kind, "code": None, "param": None}})
    return Reply(status, body.encode(), {"content-type": "application/json", **headers})


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
        if reply.status in (204, 304):  # no body, so no framing for one
            self.end_headers()
            self.wfile.flush()
            return
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


#: A function that picks the reply to a request.
Responder = Callable[[Recorded], Reply]


class ReplayServer:
    """Serve scripted replies on ``127.0.0.1`` in a background thread.

    ``with ReplayServer([sse_reply(path)]) as server: Client(base_url=server.base_url, ...)``.
    Replies are served in order; the last one repeats when the script runs out unless
    ``repeat_last=False``, in which case further requests get a 500. With ``responder``, each
    request gets ``responder(request)`` instead (``ReplayServer(responder=Recordings([...]))``).
    ``requests`` records what arrived. The socket is bound when the object is made (``port=0``:
    a free one); an address in use raises ``OSError`` then.
    """

    def __init__(
        self,
        replies: Sequence[Reply] | Iterable[Reply] = (),
        *,
        repeat_last: bool = True,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._replies = list(replies)
        self._repeat_last = repeat_last
        self._responder = responder
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = _Server((host, port), _Handler)
        self._server.replay = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    @property
    def base_url(self) -> str:
        """The base URL to give a client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def add(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._replies.extend(replies)

    def take(self, request: Recorded) -> Reply:
        """Record a request and return the reply it gets."""
        with self._lock:
            self.requests.append(request)
            if self._responder is not None:
                return self._responder(request)
            if len(self._replies) > 1 or (self._replies and not self._repeat_last):
                return self._replies.pop(0)
            if self._replies:
                return self._replies[0]
        message = {"error": {"message": "the replay script has no reply left", "type": "server_error"}}
        return Reply(500, json.dumps(message).encode(), {"content-type": "application/json"})

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``streamer replay``)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

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


# --- recorded streams, routed by request path ------------------------------------------------

#: The stream kinds a recording can be, and the request paths (after an optional ``/v1``) that get them.
KINDS: dict[str, str] = {
    "chat": "POST /v1/chat/completions",
    "responses": "POST /v1/responses (and GET /v1/responses/{id}?stream=true to resume)",
    "assistants": "POST /v1/threads/runs, /v1/threads/{id}/runs, .../runs/{id}/submit_tool_outputs",
}
_ASSISTANTS_PATH = re.compile(r"/threads(/[^/]+)?/runs(/[^/]+/submit_tool_outputs)?")
_RESPONSE_PATH = re.compile(r"/responses/(?P<id>[^/]+)")
_LINES = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def kind_of_path(method: str, path: str) -> str | None:
    """The stream kind a request path asks for (``"chat"``, ``"responses"``, ``"assistants"``), or None."""
    route = urlsplit(path).path.rstrip("/")
    route = route.removeprefix("/v1")
    if method == "POST" and route == "/chat/completions":
        return "chat"
    if method == "POST" and route == "/responses":
        return "responses"
    if method == "GET" and _RESPONSE_PATH.fullmatch(route):
        return "responses"
    if method == "POST" and _ASSISTANTS_PATH.fullmatch(route):
        return "assistants"
    return None


@define(frozen=True, slots=True)
class Recording:
    """A recorded SSE stream: its bytes, its events, where each event ends, and its kind."""

    path: Path
    body: bytes
    events: list[sse.Event]
    #: The byte offset just after each event's blank line.
    ends: list[int]
    kind: str

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read and decode a recording; ``ValueError`` says why a file is not one."""
        from ..openai.detect import kind_of

        path = Path(path)
        body = path.read_bytes()
        decoder = sse.Decoder()
        events: list[sse.Event] = []
        ends: list[int] = []
        offset = 0
        for match in _LINES.finditer(body):
            offset = match.end()
            for event in decoder.feed(match.group()):
                events.append(event)
                ends.append(offset)
        for event in decoder.close():
            events.append(event)
            ends.append(len(body))
        if not events:
            raise ValueError(f"{path} holds no server-sent events")
        return cls(path, body, events, ends, kind_of(events[0]))

    @property
    def response_id(self) -> str | None:
        """The response id of a Responses recording (from its first event)."""
        payload = _json(self.events[0].data)
        response = payload.get("response") if isinstance(payload, dict) else None
        return str(response["id"]) if isinstance(response, dict) and "id" in response else None

    def offset_after(self, count: int) -> int:
        """The byte offset just after the first ``count`` events (the whole body if there are fewer)."""
        if count <= 0:
            return 0
        return self.ends[min(count, len(self.ends)) - 1]

    def after(self, *, last_event_id: str | None = None, starting_after: int | None = None) -> bytes | None:
        """The events after ``Last-Event-ID`` or after ``sequence_number`` N, encoded; None if not found."""
        start = self.start_after(last_event_id=last_event_id, starting_after=starting_after)
        return None if start is None else b"".join(sse.encode(event) for event in self.events[start:])

    def start_after(
        self, *, last_event_id: str | None = None, starting_after: int | None = None
    ) -> int | None:
        """The index of the first event after ``Last-Event-ID`` / ``sequence_number`` N; None if not found."""
        start = 0
        if last_event_id is not None:
            ids = [event.id for event in self.events]
            if last_event_id not in ids:
                return None
            start = len(ids) - ids[::-1].index(last_event_id)
        if starting_after is not None:
            numbers = [_sequence(event) for event in self.events]
            start = next(
                (i for i, n in enumerate(numbers) if n is not None and n > starting_after), len(numbers)
            )
        return start

    def served(self, start: int = 0) -> tuple[bytes, list[int]]:
        """The body that serves the events from ``start`` on, and where each of its events ends.

        From the start that is the recorded bytes themselves; a resumed tail is re-encoded.
        """
        if start == 0:
            return self.body, list(self.ends)
        body = bytearray()
        ends = []
        for event in self.events[start:]:
            body += sse.encode(event)
            ends.append(len(body))
        return bytes(body), ends


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _sequence(event: sse.Event) -> int | None:
    payload = _json(event.data)
    number = payload.get("sequence_number") if isinstance(payload, dict) else None
    return number if isinstance(number, int) else None


@define(frozen=True, slots=True)
class Faults:
    """How a served stream misbehaves: cuts, stalls, a ``retry:`` field, a slow drip.

    ``cut_after`` ends the connection after that many events (no end of the chunked body), or in
    the middle of the next event with ``cut_within`` (halfway through its bytes); resumed streams
    are cut too, after that many of their own events, only with ``cut_resumes``. ``stall_after``
    pauses ``stall_for`` seconds after that many events. ``retry_ms`` starts each stream with a
    ``retry:`` field (the wait a client should make before reconnecting).
    """

    cut_after: int | None = None
    cut_within: bool = False
    cut_resumes: bool = False
    stall_after: int | None = None
    stall_for: float = 60.0
    retry_ms: int | None = None
    chunk_size: int = 4096
    delay: float = 0.0

    def reply(self, body: bytes, ends: list[int], *, resumed: bool) -> Reply:
        """The reply that serves ``body`` (whose events end at ``ends``) with these faults."""
        prefix = b"" if self.retry_ms is None else b"retry: %d\n\n" % self.retry_ms
        cut = stall = None
        if self.cut_after is not None and (self.cut_resumes or not resumed):
            cut = _offset(ends, self.cut_after)
            if self.cut_within and self.cut_after < len(ends):
                cut = (cut + ends[self.cut_after]) // 2
            cut += len(prefix)
        if self.stall_after is not None and not resumed:
            stall = _offset(ends, self.stall_after) + len(prefix)
        return Reply(
            body=prefix + body,
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
            chunk_size=self.chunk_size,
            delay=self.delay,
            cut_at=cut,
            stall_at=stall,
            stall_for=self.stall_for if stall is not None else 0.0,
        )


def _offset(ends: list[int], count: int) -> int:
    """The byte offset just after the first ``count`` events (the whole body if there are fewer)."""
    if count <= 0 or not ends:
        return 0
    return ends[min(count, len(ends)) - 1]


_NO_CONTENT = Reply(204, b"", {})


@define(slots=True)
class EventSource:
    """A responder serving one recording at any ``GET`` path by the WHATWG EventSource rules.

    ``Last-Event-ID`` resumes after that event (an id it does not know gets a 400); a resume with
    no event left gets ``204 No Content``, the server's way to tell a client to stop reconnecting.
    ``faults`` cut, stall or add ``retry:``; ``status`` answers with that status, once.
    """

    recording: Recording
    faults: Faults = field(factory=Faults)
    status: int | None = None

    def __call__(self, request: Recorded) -> Reply:
        """The reply to one request."""
        if self.status is not None:
            status, self.status = self.status, None
            return error_reply(status, f"scripted status {status}", "replay_fault")
        last = request.headers.get("last-event-id")
        start = self.recording.start_after(last_event_id=last) if last else 0
        if start is None:
            return error_reply(400, "Last-Event-ID names no event of the recording")
        if last and start >= len(self.recording.events):
            return _NO_CONTENT
        body, ends = self.recording.served(start)
        return self.faults.reply(body, ends, resumed=bool(last))


@define(slots=True)
class Recordings:
    """A responder serving recorded streams by the request path and each file's kind, with faults.

    Recordings of one kind are served in turn; the last one repeats. ``cut_after`` ends the
    connection after that many events (``cut_within``: in the middle of the next one;
    ``cut_resumes``: resumed streams too), ``stall_after`` pauses ``stall_for`` seconds after that
    many events, ``retry_ms`` starts each stream with a ``retry:`` field (see :class:`Faults`);
    ``status`` answers the first ``status_times`` requests (every one if 0) with that error status
    instead. A ``Last-Event-ID`` resume with no event left gets a 204. ``log`` is called with one
    line per request.
    """

    recordings: list[Recording]
    cut_after: int | None = None
    stall_after: int | None = None
    stall_for: float = 60.0
    status: int | None = None
    status_times: int = 0
    chunk_size: int = 4096
    delay: float = 0.0
    log: Callable[[str], None] | None = None
    cut_within: bool = False
    cut_resumes: bool = False
    retry_ms: int | None = None
    _served: dict[str, int] = field(factory=dict)
    _failed: int = 0

    @property
    def faults(self) -> Faults:
        """The faults every stream is served with."""
        return Faults(
            cut_after=self.cut_after,
            cut_within=self.cut_within,
            cut_resumes=self.cut_resumes,
            stall_after=self.stall_after,
            stall_for=self.stall_for,
            retry_ms=self.retry_ms,
            chunk_size=self.chunk_size,
            delay=self.delay,
        )

    @classmethod
    def load(cls, paths: Iterable[str | Path], **options: Any) -> Recordings:
        """Load every file (``ValueError`` for one that is not a recording)."""
        return cls([Recording.load(path) for path in paths], **options)

    def kinds(self) -> dict[str, list[Recording]]:
        """The recordings by kind, in the order given."""
        found: dict[str, list[Recording]] = {}
        for recording in self.recordings:
            found.setdefault(recording.kind, []).append(recording)
        return found

    def __call__(self, request: Recorded) -> Reply:
        """The reply to one request."""
        reply, what = self._reply(request)
        if self.log is not None:
            self.log(f"{request.method} {request.path} -> {reply.status} {what}")
        return reply

    def _reply(self, request: Recorded) -> tuple[Reply, str]:
        kind = kind_of_path(request.method, request.path)
        if kind is None:
            served = "; ".join(KINDS.values())
            return error_reply(404, f"the replay serves {served}; not {request.method} {request.path}"), ""
        choices = self.kinds().get(kind)
        if not choices:
            loaded = ", ".join(sorted(self.kinds())) or "none"
            message = f"no {kind} recording was given to the replay (it has: {loaded})"
            return error_reply(404, message, "not_found"), ""
        if self.status is not None and (self.status_times == 0 or self._failed < self.status_times):
            self._failed += 1
            headers = {"retry-after": "1"} if self.status in (429, 503) else {}
            return error_reply(self.status, f"scripted status {self.status}", "replay_fault", **headers), ""
        if isinstance(request.body, dict) and request.body.get("stream") is False:
            return error_reply(400, 'the replay serves streams only: send "stream": true'), ""
        if request.method == "GET":
            return self._resume(request, choices)
        turn = self._served.get(kind, 0)
        self._served[kind] = turn + 1
        recording = choices[min(turn, len(choices) - 1)]
        body, ends = recording.served()
        return self.faults.reply(body, ends, resumed=False), f"{kind} {recording.path.name}"

    def _resume(self, request: Recorded, choices: list[Recording]) -> tuple[Reply, str]:
        url = urlsplit(request.path)
        match = _RESPONSE_PATH.fullmatch(url.path.rstrip("/").removeprefix("/v1"))
        wanted = match.group("id") if match else None
        query = parse_qs(url.query)
        if query.get("stream", ["false"])[0].lower() != "true":
            return error_reply(400, "the replay serves streams only: add ?stream=true"), ""
        recording = next((r for r in choices if r.response_id == wanted), None)
        if recording is None:
            return error_reply(404, f"no recorded response with id {wanted!r}", "not_found"), ""
        after = query.get("starting_after", [None])[0]
        try:
            starting_after = None if after is None else int(after)
        except ValueError:
            return error_reply(400, f"starting_after must be a whole number, got {after!r}"), ""
        last = request.headers.get("last-event-id")
        start = recording.start_after(last_event_id=last, starting_after=starting_after)
        if start is None:
            return error_reply(400, "Last-Event-ID names no event of the recording"), ""
        if last and start >= len(recording.events):
            return _NO_CONTENT, f"responses {recording.path.name} (nothing after Last-Event-ID)"
        body, ends = recording.served(start)
        resumed = starting_after is not None or bool(last)
        return self.faults.reply(body, ends, resumed=resumed), f"responses {recording.path.name} (resumed)"
