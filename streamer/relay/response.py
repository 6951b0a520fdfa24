"""``Relay`` and its ASGI SSE response: one upstream per stream id, any number of browsers, resumable.

Raw ASGI only (no framework at run time). ``relay.response(stream_id, make_stream)`` returns an ASGI
app for one request, which Starlette and FastAPI also accept as a ``Response`` when they are loaded.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .. import sse
from ..errors import StreamError
from .encode import Encoder, error_data, text_deltas
from .fanout import Hub, Subscriber
from .store import Entry, MemoryStore, Store
from .upstream import MakeStream, Upstream

__all__ = ["Relay", "RelayResponse", "relay_response"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The most bytes of events put in one ``http.response.body`` (bounds what a slow client holds).
MAX_SEND = 64 * 1024

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Relay:
    """Relays upstream scanners to SSE clients through a store; one per application.

    ``heartbeat``: seconds between keep-alive comments on an idle response. ``buffer``: the most
    entries a subscriber may have waiting before it is dropped (see ``streamer.relay.fanout``).
    ``idle_timeout``: the upstream is cancelled when nobody has listened for this long.
    ``max_duration``: the upstream is cancelled after this long in any case. ``retain``: how long a
    finished stream stays resumable. ``retry_ms``: the reconnect delay suggested to browsers.
    ``describe_error``: the data of the final ``error`` event (default: ``error_data``).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        encode: Encoder = text_deltas,
        describe_error: Callable[[BaseException], str] = error_data,
        heartbeat: float = 15.0,
        buffer: int = 1024,
        idle_timeout: float = 30.0,
        max_duration: float = 600.0,
        retain: float = 300.0,
        retry_ms: int | None = 1000,
        page: int = 256,
    ) -> None:
        if buffer < 1 or page < 1 or heartbeat <= 0 or idle_timeout <= 0 or max_duration <= 0:
            raise ValueError("Relay: buffer and page must be >= 1; heartbeat, idle_timeout, max_duration > 0")
        self.store: Store = store if store is not None else MemoryStore()
        self.encode = encode
        self.describe_error = describe_error
        self.heartbeat = heartbeat
        self.buffer = buffer
        self.idle_timeout = idle_timeout
        self.max_duration = max_duration
        self.retain = retain
        self.retry_ms = retry_ms
        self.page = page
        #: How many subscribers were dropped for falling ``buffer`` entries behind.
        self.dropped = 0
        self._hubs: dict[str, Hub] = {}
        self._upstreams: dict[str, asyncio.Task[None]] = {}

    def response(self, stream_id: str, make_stream: MakeStream) -> RelayResponse:
        """The SSE response for ``stream_id``: starts ``make_stream()`` unless the stream already exists."""
        return _response_class()(self, stream_id, make_stream)

    async def start(self, stream_id: str, make_stream: MakeStream) -> bool:
        """Start the upstream for ``stream_id`` unless a relay on the store already has; True if started."""
        if not await self.store.claim(stream_id, self.max_duration + self.retain):
            return False
        upstream = Upstream(
            self.store,
            stream_id,
            make_stream,
            encode=self.encode,
            max_duration=self.max_duration,
            idle_timeout=self.idle_timeout,
            retain=self.retain,
            on_append=lambda entries: self._publish(stream_id, entries),
            describe_error=self.describe_error,
        )
        task = asyncio.ensure_future(upstream.run())
        self._upstreams[stream_id] = task
        task.add_done_callback(lambda _: self._upstreams.pop(stream_id, None))
        return True

    async def aclose(self) -> None:
        """Cancel this process's upstreams and hubs (each upstream still writes its final event)."""
        tasks = [*self._upstreams.values(), *(hub.task for hub in self._hubs.values())]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _subscribe(self, stream_id: str, after: int) -> tuple[Hub, Subscriber]:
        subscriber = Subscriber(self.buffer)
        hub = self._hubs.get(stream_id)
        if hub is None or hub.ended:
            every = min(self.heartbeat, self.idle_timeout / 3)
            hub = Hub(
                self.store,
                stream_id,
                after,
                poll=every,
                touch_every=every,
                touch_ttl=self.idle_timeout,
                page=self.page,
                on_end=self._hub_ended,
            )
            self._hubs[stream_id] = hub
        hub.subscribers.add(subscriber)
        return hub, subscriber

    def _publish(self, stream_id: str, entries: list[Entry]) -> None:
        hub = self._hubs.get(stream_id)
        if hub is not None and not hub.ended:
            hub.publish(entries)

    def _hub_ended(self, hub: Hub) -> None:
        if self._hubs.get(hub.stream_id) is hub:
            del self._hubs[hub.stream_id]

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, stream_id: str, make_stream: MakeStream
    ) -> None:
        """Answer one HTTP request with the stream, from after its ``Last-Event-ID`` if it has one."""
        header = _last_event_id(scope)
        if header and not (header.isascii() and header.isdigit() and len(header) <= 18):
            await _plain(send, 400, f"Last-Event-ID must be an event id (digits), got {header[:40]!r}")
            return
        after = int(header) if header else 0
        if after == 0:
            await self.start(stream_id, make_stream)
        elif not await self.store.exists(stream_id):
            await _plain(send, 404, f"stream {stream_id[:80]!r} is unknown or has expired")
            return
        else:
            try:
                seen = await self.store.read(stream_id, after - 1, 0, 1)
            except StreamError as exc:  # e.g. ResumeTooOld: say so in the stream, where a page sees it
                await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
                body = sse.encode(sse.Event("error", self.describe_error(exc)))
                await send({"type": "http.response.body", "body": body})
                return
            if not seen:
                await _plain(send, 400, f"stream {stream_id[:80]!r} has no event {after} (Last-Event-ID)")
                return
            if seen[0].last:  # the client has everything: 204 tells EventSource to stop
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        session = _Session(self, stream_id, after)
        writer = session.subscriber.writer = asyncio.ensure_future(session.run(send))
        watcher = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            session.hub.subscribers.discard(session.subscriber)
            if session.subscriber.dropped:
                self.dropped += 1
            for task in (writer, watcher):
                task.cancel()
            await asyncio.gather(writer, watcher, return_exceptions=True)
        error = None if writer.cancelled() else writer.exception()
        if error is not None and not isinstance(error, OSError):  # OSError: the client went away
            raise error


class _Session:
    """One response's progress through a stream: what it sent, and the hub it follows."""

    def __init__(self, relay: Relay, stream_id: str, after: int) -> None:
        self.relay = relay
        self.stream_id = stream_id
        self.sent = after
        #: Entries taken from the buffer or the store, in order, not yet sent.
        self.pending: list[Entry] = []
        self.hub, self.subscriber = relay._subscribe(stream_id, after)

    async def _send(self, send: Send, body: bytes, more: bool = True) -> None:
        self.subscriber.sending = True
        try:
            await send({"type": "http.response.body", "body": body, "more_body": more})
        finally:
            self.subscriber.sending = False

    async def run(self, send: Send) -> None:
        """Send entries after ``sent`` in order, each once; heartbeats while idle; end at the last."""
        relay = self.relay
        opening = sse.encode_comment("relay")
        if relay.retry_ms is not None:
            opening += f"retry: {relay.retry_ms}\n\n".encode()
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await self._send(send, opening)
        while True:
            hub, subscriber = self.hub, self.subscriber
            if subscriber.dropped:  # the stated policy: a laggard's response ends; it resumes later
                await self._send(send, b"", more=False)
                return
            if not self.pending:
                entries = [entry for entry in subscriber.take() if entry.id > self.sent]
                if (entries and entries[0].id > self.sent + 1) or (not entries and self.sent < hub.last_id):
                    # behind the hub (a resume, a late join, or a gap): catch up from the store
                    entries = await relay.store.read(self.stream_id, self.sent, 0, relay.page)
                self.pending = _contiguous(entries, self.sent)
            if self.pending:
                count, size = 0, 0
                for entry in self.pending:  # one send holds at most about MAX_SEND bytes
                    count += 1
                    size += len(entry.wire)
                    if size >= MAX_SEND:
                        break
                batch, self.pending = self.pending[:count], self.pending[count:]
                last = batch[-1]
                self.sent = last.id
                await self._send(send, b"".join(entry.wire for entry in batch), more=not last.last)
                if last.last:
                    return
                continue
            if hub.error is not None:
                body = sse.encode(sse.Event("error", relay.describe_error(hub.error)))
                await self._send(send, body, more=False)
                return
            if hub.final_id is not None and self.sent >= hub.final_id:
                await self._send(send, b"", more=False)
                return
            if hub.ended:  # the hub stopped before the end (nobody was left): follow with a new one
                hub.subscribers.discard(subscriber)
                self.hub, self.subscriber = relay._subscribe(self.stream_id, self.sent)
                self.subscriber.writer = subscriber.writer
                continue
            if not await subscriber.wake.wait(relay.heartbeat):
                await self._send(send, b":\n\n")


def _contiguous(entries: list[Entry], sent: int) -> list[Entry]:
    """The entries that follow ``sent`` without a gap."""
    out = []
    for entry in entries:
        if entry.id != sent + 1:
            break
        out.append(entry)
        sent = entry.id
    return out


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _last_event_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"last-event-id":
            return bytes(value).decode("latin-1").strip()
    return ""


async def _plain(send: Send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


class RelayResponse:
    """An ASGI app answering one request with a relayed stream (see ``Relay.response``)."""

    def __init__(self, relay: Relay, stream_id: str, make_stream: MakeStream) -> None:
        self.relay = relay
        self.stream_id = stream_id
        self.make_stream = make_stream
        # what Starlette/FastAPI read on a Response they did not build
        self.status_code = 200
        self.background: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request (the ASGI interface)."""
        await self.relay.serve(scope, receive, send, self.stream_id, self.make_stream)
        if self.background is not None:
            await self.background()


_starlette_class: type[RelayResponse] | None = None


def _response_class() -> type[RelayResponse]:
    """``RelayResponse``, made a Starlette ``Response`` too when the app has loaded Starlette."""
    global _starlette_class
    if "starlette.responses" not in sys.modules:
        return RelayResponse
    if _starlette_class is None:
        starlette_response = sys.modules["starlette.responses"].Response
        _starlette_class = type(
            "RelayResponse", (RelayResponse, starlette_response), {"__init__": RelayResponse.__init__}
        )
    return _starlette_class


_default: Relay | None = None


def relay_response(stream_id: str, make_stream: MakeStream, *, relay: Relay | None = None) -> RelayResponse:
    """The SSE response for ``stream_id`` from ``relay`` (default: one per process, on a ``MemoryStore``)."""
    global _default
    if relay is None:
        if _default is None:
            _default = Relay()
        relay = _default
    return relay.response(stream_id, make_stream)
