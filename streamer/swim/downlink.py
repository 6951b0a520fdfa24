"""SwimOS downlinks as scanners: ``DownlinkScanner`` and ``AsyncDownlinkScanner``.

A transport thread receives WARP messages and puts typed updates into a bounded buffer; the
consumer takes them with ``next()``. The buffer's policy is explicit: a value lane conflates to the
latest value when the consumer is slow (``conflated`` counts what was skipped); map and event lanes
never drop: a full buffer blocks the transport for up to ``overflow_timeout`` seconds, then the
scanner fails with :class:`~streamer.errors.BufferOverflow`.

Two transports: ``"warp"`` (the default: websockets and our own Recon reader, so values arrive
intact) and ``"swimos"`` (the ``swimos`` client, one client per scanner, its errors captured; its
Recon reader turns numbers with an exponent into None, see the README).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from attrs import define

from ..errors import BufferOverflow, Disconnected, LinkFailed, SyncTimeout, WarpProtocolError
from ..scanner import AsyncScanner, Scanner
from .recon import ABSENT, Attr, ReconError, Record, to_python
from .warp import Envelope, parse_envelope

__all__ = ["AsyncDownlinkScanner", "DownlinkScanner", "Update", "open_downlink"]

KINDS = ("value", "map", "event")
TRANSPORTS = ("warp", "swimos")


@define(frozen=True, slots=True)
class Update:
    """One downlink update: plain Python data, in order (``seq``), with its receive time."""

    node: str
    lane: str
    value: Any
    seq: int
    received_at: float
    #: The lane's previous value (value lanes), or the key's previous value (map lanes).
    previous: Any = None
    #: For map lanes: the key, and whether it was updated or removed.
    key: Any = None
    action: str = "set"


class _Buffer:
    """The bounded hand-off between the transport thread and the consumer."""

    def __init__(self, capacity: int, conflate: bool, overflow_timeout: float) -> None:
        self._items: collections.deque[Update] = collections.deque()
        self._capacity = capacity
        self._conflate = conflate
        self._overflow_timeout = overflow_timeout
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._closed = False
        self.conflated = 0

    def put(self, item: Update) -> None:
        with self._cond:
            if self._closed or self._error is not None:
                return
            if self._conflate:
                if len(self._items) >= self._capacity:
                    self._items.popleft()
                    self.conflated += 1
            else:
                deadline = time.monotonic() + self._overflow_timeout
                while len(self._items) >= self._capacity and not self._closed and self._error is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._error = BufferOverflow(
                            f"the consumer of {item.node} {item.lane} fell {self._capacity} updates behind "
                            f"for {self._overflow_timeout:g} s; no update was dropped: the stream ends here"
                        )
                        self._cond.notify_all()
                        return
                    self._cond.wait(remaining)
            self._items.append(item)
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            if self._error is None and not self._closed:
                self._error = error
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Update | None:
        """The next update; None if ``timeout`` passed; raises the stored error or StopIteration."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._error is not None:
                    raise self._error
                if self._closed:
                    raise StopIteration
                # Short waits keep Ctrl+C responsive in the consumer's thread.
                wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            item = self._items.popleft()
            self._cond.notify_all()
            return item


_OPEN: weakref.WeakSet[_Transport] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # a safety net: no transport thread keeps the interpreter alive
    for transport in list(_OPEN):
        transport.close()


class _Transport:
    """Common state of a transport: the link, the buffer, the sync handshake, the counters."""

    def __init__(
        self, host: str, node: str, lane: str, kind: str, buffer: _Buffer, sync_timeout: float
    ) -> None:
        self.host = host
        self.node = node
        self.lane = lane
        self.kind = kind
        self.buffer = buffer
        self.sync_timeout = sync_timeout
        self.synced = threading.Event()
        self.seq = 0
        self.previous: Any = None
        self.map_values: dict[Any, Any] = {}
        self._link_error: BaseException | None = None
        _OPEN.add(self)

    def where(self) -> str:
        return f"{self.node} {self.lane} on {self.host}"

    def wait_synced(self) -> None:
        if not self.synced.wait(self.sync_timeout) and self._link_error is None:
            self.close()
            raise SyncTimeout(f"{self.where()} did not sync within {self.sync_timeout:g} s")
        if self._link_error is not None:
            self.close()
            raise self._link_error

    def link_failed(self, error: BaseException) -> None:
        self._link_error = error
        self.synced.set()
        self.buffer.fail(error)

    def deliver(self, value: Any, *, key: Any = None, action: str = "set") -> None:
        """Turn a received value into an Update (plain data) and hand it to the buffer."""
        self.seq += 1
        now = time.time()
        if self.kind == "map":
            previous = self.map_values.get(key)
            if action == "remove":
                self.map_values.pop(key, None)
            else:
                self.map_values[key] = value
            self.buffer.put(Update(self.node, self.lane, value, self.seq, now, previous, key, action))
        elif self.kind == "value":
            previous, self.previous = self.previous, value
            self.buffer.put(Update(self.node, self.lane, value, self.seq, now, previous))
        else:
            self.buffer.put(Update(self.node, self.lane, value, self.seq, now, action="event"))

    def close(self) -> None:
        raise NotImplementedError


class _WarpTransport(_Transport):
    """Our own WARP client: websockets (its sync client) and the Recon reader in this package."""

    def __init__(self, *args: Any, reconnect: int) -> None:
        super().__init__(*args)
        self._reconnect = reconnect
        self._closing = threading.Event()
        self._ws: Any = None
        self._thread = threading.Thread(target=self._run, name=f"warp {self.node} {self.lane}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from websockets.sync.client import connect

        attempts = 0
        tag = "link" if self.kind == "event" else "sync"
        while not self._closing.is_set():
            try:
                ws = connect(self.host, open_timeout=self.sync_timeout, compression=None, max_size=1 << 24)
            except Exception as exc:
                if self._retry(attempts, exc):
                    attempts += 1
                    continue
                return
            attempts = 0
            try:
                with ws:
                    self._ws = ws
                    if self._closing.is_set():
                        return
                    ws.send(Envelope(tag, self.node, self.lane).encode())
                    self._receive(ws)
            except Exception as exc:
                if self._closing.is_set():
                    return
                if isinstance(exc, WarpProtocolError) or not self._retry(attempts, exc):
                    if isinstance(exc, WarpProtocolError):
                        self.buffer.fail(exc)
                    return
                attempts += 1

    def _retry(self, attempts: int, exc: BaseException) -> bool:
        """After a failure: True to try again (reconnect budget left), else report and stop."""
        if self._closing.is_set():
            return False
        if attempts < self._reconnect and self.synced.is_set():
            time.sleep(min(2.0, 0.1 * 2**attempts))
            return True
        if not self.synced.is_set():
            self.link_failed(LinkFailed(f"cannot link {self.where()}: {type(exc).__name__}: {exc}"))
        else:
            self.buffer.fail(
                Disconnected(f"lost the connection to {self.host} ({type(exc).__name__}: {exc})")
            )
        return False

    def _receive(self, ws: Any) -> None:
        for message in ws:
            if isinstance(message, bytes):
                continue
            try:
                envelope = parse_envelope(message)
            except ReconError as exc:
                raise WarpProtocolError(f"{self.host} sent a message that is not WARP: {exc}") from exc
            if envelope.node != self.node or envelope.lane != self.lane:
                continue
            self._on(envelope)
        raise Disconnected("the server closed the connection")

    def _on(self, envelope: Envelope) -> None:
        tag = envelope.tag
        if tag == "event":
            body = envelope.body
            if self.kind == "map" and isinstance(body, Record) and body and isinstance(body[0], Attr):
                head = body[0]
                key = to_python(head.value.get("key") if isinstance(head.value, Record) else head.value)
                rest = Record(body[1:])
                value = to_python(rest[0] if len(rest) == 1 and not isinstance(rest[0], Attr) else rest)
                self.deliver(
                    value if rest else None, key=key, action="remove" if head.name == "remove" else "update"
                )
            else:
                self.deliver(to_python(body))
        elif tag == "synced" or (tag == "linked" and self.kind == "event"):
            self.synced.set()
        elif tag == "unlinked":
            reasons = [a.name for a in envelope.body.attrs()] if isinstance(envelope.body, Record) else []
            reason = " and ".join(reasons) or "the server unlinked it"
            error = LinkFailed(f"cannot link {self.where()}: {reason}")
            if self.synced.is_set():
                self.buffer.fail(Disconnected(f"{self.where()}: {reason}"))
                self._closing.set()
            else:
                self.link_failed(error)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):  # a connection already gone has nothing to unlink
                ws.send(Envelope("unlink", self.node, self.lane).encode())
            ws.close()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.buffer.close()


class _SwimosTransport(_Transport):
    """The ``swimos`` client, made safe: one client per scanner, errors captured, always stopped."""

    def __init__(self, *args: Any, reconnect: int) -> None:
        super().__init__(*args)
        from swimos import SwimClient
        from swimos.client import IntervalStrategy

        self._client = SwimClient(retry_strategy=IntervalStrategy(retries_limit=reconnect, delay=0.5))
        # swimos only warns about errors (and forces warnings on); send them to the scanner instead.
        self._client._handle_exception = self._on_error
        self._start_daemon()
        self._stopped = False
        view: Any
        if self.kind == "map":
            view = self._client.downlink_map()
            view.did_update(lambda key, new, old: self.deliver(_plain(new), key=_plain(key), action="update"))
            view.did_remove(lambda key, old: self.deliver(None, key=_plain(key), action="remove"))
        elif self.kind == "value":
            view = self._client.downlink_value()
            view.did_set(lambda new, old: self.deliver(_plain(new)))
        else:
            view = self._client.downlink_event()
            view.on_event(lambda event: self.deliver(_plain(event)))
            view.did_link(lambda: self.synced.set())
        if self.kind != "event":
            view.did_sync(lambda: self.synced.set())
        try:
            view.set_host_uri(self.host).set_node_uri(self.node).set_lane_uri(self.lane)
        except TypeError as exc:
            self.close()
            raise LinkFailed(f"bad host {self.host!r}: {exc}") from None
        self._view = view
        view.open()

    def _start_daemon(self) -> None:
        """``SwimClient.start()``, except that the loop thread is a daemon (its own is not, so a
        program that forgets ``stop()`` never exits) and the caller's event loop is left alone."""
        client = self._client
        client._loop = asyncio.new_event_loop()
        client._loop_thread = threading.Thread(
            target=client._SwimClient__start_event_loop, name=f"swimos {self.node} {self.lane}", daemon=True
        )
        client._loop_thread.start()
        client._has_started = True

    def _on_error(self, exc: BaseException, tb: Any = None) -> None:
        message = str(exc)
        if "not found" in message.lower() or not self.synced.is_set():
            self.link_failed(LinkFailed(f"cannot link {self.where()}: {message}"))
        else:
            self.buffer.fail(Disconnected(f"{self.where()}: {message}"))

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            with contextlib.suppress(Exception):  # a view that never opened has nothing to close
                self._view.close()
        finally:
            self._client.stop()
            self._abort_sockets()
            self.buffer.close()

    def _abort_sockets(self) -> None:
        """``SwimClient.stop()`` leaves its sockets open (the server sees no disconnect): close them."""
        pool = getattr(self._client, "_SwimClient__connection_pool", None)
        connections = getattr(pool, "_ConnectionPool__connections", {}) or {}
        for connection in list(connections.values()):
            transport = getattr(getattr(connection, "websocket", None), "transport", None)
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.abort()


def _plain(value: Any) -> Any:
    """swimos values as plain data: its absent and extant placeholders become None, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if type(value).__name__ in ("_Absent", "_Extant") or value is ABSENT:
        return None
    return value


def _updates(buffer: _Buffer) -> Iterator[Update]:
    while True:
        try:
            item = buffer.get()
        except StopIteration:
            return
        if item is not None:
            yield item


class _DownlinkState:
    _transport: _Transport
    _buffer: _Buffer

    @property
    def conflated(self) -> int:
        """How many value-lane updates were skipped because the consumer was slower than the feed."""
        return self._buffer.conflated

    @property
    def received(self) -> int:
        """How many updates arrived from the server."""
        return self._transport.seq


def _open(
    host: str,
    node: str,
    lane: str,
    *,
    kind: str,
    transport: str,
    sync_timeout: float,
    capacity: int | None,
    overflow_timeout: float,
    reconnect: int,
) -> tuple[_Transport, _Buffer]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
    if not host.startswith(("ws://", "wss://", "warp://", "warps://")):
        raise LinkFailed(f"bad host {host!r}: use ws://HOST:PORT or wss://HOST")
    host = host.replace("warps://", "wss://", 1).replace("warp://", "ws://", 1)
    buffer = _Buffer(capacity or (1 if kind == "value" else 1024), kind == "value", overflow_timeout)
    cls = _WarpTransport if transport == "warp" else _SwimosTransport
    instance = cls(host, node, lane, kind, buffer, sync_timeout, reconnect=reconnect)
    instance.wait_synced()
    return instance, buffer


class DownlinkScanner(_DownlinkState, Scanner[Update]):
    """A scanner of a SwimOS lane's updates. Opening waits until the link is synced."""

    def __init__(
        self,
        host: str,
        node: str,
        lane: str,
        *,
        kind: str = "value",
        transport: str = "warp",
        sync_timeout: float = 10.0,
        capacity: int | None = None,
        overflow_timeout: float = 5.0,
        reconnect: int = 0,
    ) -> None:
        self._transport, self._buffer = _open(
            host,
            node,
            lane,
            kind=kind,
            transport=transport,
            sync_timeout=sync_timeout,
            capacity=capacity,
            overflow_timeout=overflow_timeout,
            reconnect=reconnect,
        )
        super().__init__(_updates(self._buffer), on_close=self._transport.close)


class AsyncDownlinkScanner(_DownlinkState, AsyncScanner[Update]):
    """The async twin of :class:`DownlinkScanner`; build it with :meth:`open`."""

    def __init__(self, transport: _Transport, buffer: _Buffer) -> None:
        self._transport, self._buffer = transport, buffer
        super().__init__(self._aupdates(), on_close=self._aclose_transport)

    @classmethod
    async def open(cls, host: str, node: str, lane: str, **options: Any) -> AsyncDownlinkScanner:
        """Open and sync the downlink without blocking the event loop."""
        transport, buffer = await asyncio.to_thread(
            lambda: _open(host, node, lane, **{**_DEFAULTS, **options})
        )
        return cls(transport, buffer)

    async def _aupdates(self) -> Any:
        while True:
            try:
                item = await asyncio.to_thread(self._buffer.get, 0.5)
            except StopIteration:
                return
            if item is not None:
                yield item

    async def _aclose_transport(self) -> None:
        await asyncio.to_thread(self._transport.close)


_DEFAULTS: dict[str, Any] = {
    "kind": "value",
    "transport": "warp",
    "sync_timeout": 10.0,
    "capacity": None,
    "overflow_timeout": 5.0,
    "reconnect": 0,
}


def open_downlink(host: str, node: str, lane: str, **options: Any) -> DownlinkScanner:
    """Open a synced downlink scanner (see :class:`DownlinkScanner` for the options)."""
    return DownlinkScanner(host, node, lane, **options)
