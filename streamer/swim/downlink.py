"""SwimOS downlinks as scanners: ``DownlinkScanner`` and ``AsyncDownlinkScanner``.

A transport thread receives WARP messages and puts typed updates into a bounded buffer; the
consumer takes them with ``next()``. The buffer's policy is explicit: a value lane conflates to the
latest value when the consumer is slow (``conflated`` counts what was skipped); map and event lanes
never drop: a full buffer blocks the transport for up to ``overflow_timeout`` seconds, then the
scanner fails with :class:`~streamer.errors.BufferOverflow`.

Two transports: ``"warp"`` (the default: websockets and our own Recon reader, so values arrive
intact) and ``"swimos"`` (the ``swimos`` client, one client per scanner, its errors and warnings
captured; its Recon reader turns numbers with an exponent into None, see the README).

Lifetime: ``close()`` returns within about a second from any thread and in any state; a scanner
dropped without ``close()`` is closed by a ``weakref.finalize`` when it is garbage collected, and
every thread it runs is a daemon that ends with its link.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import random
import socket
import threading
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

import attrs
from attrs import define

from ..errors import BufferOverflow, Disconnected, LinkFailed, SyncTimeout, UsageError, WarpProtocolError
from ..scanner import AsyncScanner, Scanner
from .recon import ABSENT, Attr, ReconError, Record, to_python
from .warp import Envelope, flat_event_data, parse_envelope

__all__ = ["AsyncDownlinkScanner", "DownlinkScanner", "Update", "open_downlink"]

KINDS = ("value", "map", "event")
TRANSPORTS = ("warp", "swimos")

#: A reconnected link counts as restored (the run of failed attempts starts again from zero) only
#: once it has been synced and stayed open this long, in seconds.
HEALTHY_AFTER = 2.0
#: Reconnect backoff: attempt ``n`` waits a random time in ``[0, min(CAP, BASE * 2**(n-1))]``.
BACKOFF_BASE = 0.25
BACKOFF_CAP = 5.0
#: Keep-alive of the warp transport: a ping every KEEPALIVE s, answered within KEEPALIVE s.
KEEPALIVE = 5.0
#: The largest WebSocket message the warp transport accepts (a larger one is a WarpProtocolError).
MAX_FRAME = 1 << 24
#: How often the warp transport's thread looks at its flags (close, sync deadline) while idle.
_POLL = 0.1


@define(frozen=True, slots=True)
class Update:
    """One downlink update: plain Python data, in order (``seq``), with its receive time."""

    node: str
    lane: str
    value: Any
    seq: int
    received_at: float
    #: Value lanes: the value before this one in what this scanner hands out (when updates were
    #: conflated, the last value you were given, not a skipped one). Map lanes: the key's previous value.
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
        #: Set once a put has had to wait for the consumer (the buffer was full).
        self.blocked = threading.Event()

    def put(self, item: Update) -> None:
        with self._cond:
            if self._closed or self._error is not None:
                return
            if self._conflate:
                if len(self._items) >= self._capacity:
                    skipped = self._items.popleft()
                    self.conflated += 1
                    # The consumer never sees the skipped value: what follows it takes over its
                    # ``previous``, the value the consumer was handed last.
                    if self._items:
                        self._items[0] = attrs.evolve(self._items[0], previous=skipped.previous)
                    else:
                        item = attrs.evolve(item, previous=skipped.previous)
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
                    self.blocked.set()
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


def backoff(attempt: int) -> float:
    """The wait before reconnect attempt ``attempt`` (1, 2, ...): full jitter, capped."""
    return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        self.sync_deadline = time.monotonic() + sync_timeout
        self.synced = threading.Event()
        self.seq = 0
        self.previous: Any = None
        self.map_values: dict[Any, Any] = {}
        self._link_error: BaseException | None = None
        self._close_lock = threading.RLock()
        self._closed = False
        _OPEN.add(self)

    def where(self) -> str:
        return f"{self.node} {self.lane} on {self.host}"

    def wait_synced(self) -> None:
        """Wait until synced, or until the initial state fills the buffer (the consumer must read
        for the sync to go on; :meth:`check_sync` then keeps the deadline). Raises SyncTimeout."""
        while not self.synced.wait(min(0.05, max(0.0, self.sync_deadline - time.monotonic()))):
            if self.buffer.blocked.is_set():
                return
            self.check_sync()
        if self._link_error is not None:
            self.close()
            raise self._link_error

    def check_sync(self) -> None:
        """Past the sync deadline and still not synced: close, and raise SyncTimeout."""
        if not self.synced.is_set() and time.monotonic() >= self.sync_deadline:
            self.close()
            raise SyncTimeout(f"{self.where()} did not sync within {self.sync_timeout:g} s")

    def link_failed(self, error: BaseException) -> None:
        if self._link_error is None:
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
        """Stop the link; returns within about a second, from any thread, in any state."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.buffer.close()  # first: a transport blocked on a full buffer lets go at once
        self._shutdown()

    def _shutdown(self) -> None:
        raise NotImplementedError


class _WarpTransport(_Transport):
    """Our own WARP client: websockets (its sync client) and the Recon reader in this package.

    Reconnects (``reconnect=N``): after a drop, up to N attempts in a row, each after a full-jitter
    backoff; an attempt counts as a success only once the link has been synced for
    :data:`HEALTHY_AFTER` seconds. A protocol error or an ``@unlinked`` is never retried.
    """

    def __init__(self, *args: Any, reconnect: int) -> None:
        super().__init__(*args)
        self._reconnect = reconnect
        self._closing = threading.Event()
        self._sock: socket.socket | None = None
        self._synced_at: float | None = None  # when the current connection synced
        self._thread = threading.Thread(target=self._run, name=f"warp {self.node} {self.lane}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        attempts = 0  # reconnect attempts since the link was last healthy
        while True:
            try:
                self._session(reconnecting=attempts > 0)
                return  # closed on purpose
            except WarpProtocolError as exc:  # the server's data is broken: reconnecting repeats it
                if not self._closing.is_set():
                    self.link_failed(exc) if not self.synced.is_set() else self.buffer.fail(exc)
                return
            except Exception as exc:
                if self._closing.is_set():
                    return
                if not self.synced.is_set():  # the first connection never synced: opening fails
                    self.link_failed(LinkFailed(f"cannot link {self.where()}: {_describe(exc)}"))
                    return
                synced_at = self._synced_at
                if synced_at is not None and time.monotonic() - synced_at >= HEALTHY_AFTER:
                    attempts = 0  # it was healthy: this drop starts a new run of attempts
                if attempts >= self._reconnect:
                    tried = f" after {attempts} reconnect attempt{'s' * (attempts != 1)}" if attempts else ""
                    self.buffer.fail(
                        Disconnected(
                            f"lost the connection to {self.host}{tried} ({_describe(exc)})",
                            attempts=attempts,
                            cause=exc,
                        )
                    )
                    return
                attempts += 1
                if self._closing.wait(backoff(attempts)):
                    return

    def _connect_socket(self) -> socket.socket:
        parts = urlsplit(self.host)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        sock = socket.create_connection((parts.hostname or "", port), timeout=self.sync_timeout)
        self._sock = sock
        if self._closing.is_set():  # close() ran while connecting and found no socket to stop
            sock.close()
            raise ConnectionAbortedError("closed while connecting")
        return sock

    def _session(self, *, reconnecting: bool) -> None:
        """One connection: connect, link, receive until closed (returns) or lost (raises)."""
        from websockets.sync.client import connect

        self._synced_at = None
        started = time.monotonic()
        sock = self._connect_socket()
        try:
            ws = connect(
                self.host,
                sock=sock,
                open_timeout=self.sync_timeout,
                close_timeout=0.5,
                compression=None,
                max_size=MAX_FRAME,
                ping_interval=KEEPALIVE,
                ping_timeout=KEEPALIVE,
            )
        except BaseException:
            sock.close()
            raise
        with ws:
            ws.send(Envelope("link" if self.kind == "event" else "sync", self.node, self.lane).encode())
            self._receive(ws, started + self.sync_timeout if reconnecting else None)
            if self._closing.is_set():
                with contextlib.suppress(Exception):  # a connection already gone has nothing to unlink
                    ws.send(Envelope("unlink", self.node, self.lane).encode())

    def _receive(self, ws: Any, sync_deadline: float | None) -> None:
        """Messages until the scanner closes (returns) or the connection ends (raises)."""
        from websockets.exceptions import ConnectionClosed

        while not self._closing.is_set():
            try:
                message = ws.recv(timeout=_POLL)
            except TimeoutError:
                if sync_deadline is not None and self._synced_at is None and time.monotonic() > sync_deadline:
                    raise TimeoutError(f"the relink did not sync within {self.sync_timeout:g} s") from None
                continue
            except ConnectionClosed as exc:
                if exc.sent is not None and exc.sent.code == 1009:
                    raise WarpProtocolError(
                        f"{self.host} sent a message larger than {MAX_FRAME} bytes for {self.where()}"
                    ) from None
                if self._closing.is_set():
                    return
                raise ConnectionError(
                    "the server closed the connection" if exc.rcvd is not None else "the connection was lost"
                ) from None
            if isinstance(message, bytes):
                continue
            flat = flat_event_data(message)  # the commonest message, read without a Recon tree
            if flat is not None:
                if flat[0] == self.node and flat[1] == self.lane:
                    self.deliver(flat[2])
                continue
            try:
                envelope = parse_envelope(message)
            except ReconError as exc:
                raise WarpProtocolError(f"{self.host} sent a message that is not WARP: {exc}") from exc
            if envelope.node != self.node or envelope.lane != self.lane:
                continue
            self._on(envelope)

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
            self._synced_at = time.monotonic()
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

    def _shutdown(self) -> None:
        self._closing.set()
        if self._thread is threading.current_thread():
            return  # closed from a callback or a finalizer on this thread: it sees the flag and ends
        self._thread.join(0.5)  # time to unlink and close politely
        if self._thread.is_alive():  # stuck connecting or sending: cut the socket under it
            sock = self._sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._thread.join(0.4)


_SWIMOS_OWNERS: weakref.WeakKeyDictionary[threading.Thread, _SwimosTransport] = weakref.WeakKeyDictionary()
_SWIMOS_HOOKED = threading.Lock()


def _hook_swimos_warnings() -> None:
    """Route swimos's ``exception_warn`` from our own client threads to their transport.

    swimos reports a lost connection only as ``warnings.warn`` (after forcing warnings on
    globally). On a thread that belongs to a scanner, the warning becomes that scanner's last
    cause instead; on any other thread (someone's own SwimClient) swimos behaves as it always did.
    """
    from swimos.client import _connections

    with _SWIMOS_HOOKED:
        original = _connections.exception_warn
        if getattr(original, "_streamer_hook", False):
            return

        def exception_warn(exc_value: Any) -> None:
            owner = _SWIMOS_OWNERS.get(threading.current_thread())
            if owner is None:
                original(exc_value)
            else:
                owner.last_cause = exc_value

        exception_warn._streamer_hook = True  # type: ignore[attr-defined]
        _connections.exception_warn = exception_warn


class _SwimosTransport(_Transport):
    """The ``swimos`` client, made safe: one client per scanner, errors captured, always stopped."""

    def __init__(self, *args: Any, reconnect: int) -> None:
        super().__init__(*args)
        from swimos import SwimClient
        from swimos.client import RetryStrategy

        transport = self

        class _ReportLoss(RetryStrategy):  # type: ignore[misc]
            """swimos asks its strategy whether to reconnect exactly when a connection is lost."""

            async def retry(self) -> bool:
                transport.connection_lost()
                return False

        _hook_swimos_warnings()
        self.last_cause: Any = None
        self._client = SwimClient(retry_strategy=_ReportLoss())
        # swimos only warns about errors (and forces warnings on); send them to the scanner instead.
        self._client._handle_exception = self._on_error
        self._start_daemon()
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
        self._view = view
        try:
            view.set_host_uri(self.host).set_node_uri(self.node).set_lane_uri(self.lane)
        except TypeError as exc:
            self.close()
            raise LinkFailed(f"bad host {self.host!r}: {exc}") from None
        view.open()

    def _start_daemon(self) -> None:
        """``SwimClient.start()``, except that the loop thread is a daemon (its own is not, so a
        program that forgets ``stop()`` never exits) and the caller's event loop is left alone."""
        client = self._client
        client._loop = asyncio.new_event_loop()
        client._loop_thread = threading.Thread(
            target=client._SwimClient__start_event_loop, name=f"swimos {self.node} {self.lane}", daemon=True
        )
        _SWIMOS_OWNERS[client._loop_thread] = self
        client._loop_thread.start()
        client._has_started = True

    def connection_lost(self) -> None:
        """swimos lost (or could not open) the connection; it will not retry."""
        cause, self.last_cause = self.last_cause, None
        if cause is None:  # a connect that failed: swimos raises it next, and _on_error reports it
            return
        detail = f" ({_describe(cause)})" if isinstance(cause, BaseException) else ""
        if self.synced.is_set():
            self.buffer.fail(
                Disconnected(f"lost the connection to {self.host}{detail}", attempts=0, cause=cause)
            )
        else:
            self.link_failed(LinkFailed(f"cannot link {self.where()}: the connection was lost{detail}"))

    def _on_error(self, exc: BaseException, tb: Any = None) -> None:
        from websockets.exceptions import WebSocketException

        message = _describe(exc)
        if isinstance(exc, (OSError, asyncio.TimeoutError, WebSocketException)):
            error: BaseException = LinkFailed(f"cannot link {self.where()}: {message}")
            if self.synced.is_set():
                error = Disconnected(f"lost the connection to {self.host} ({message})", cause=exc)
        elif type(exc) is Exception and ("not found" in str(exc) or "unlinked" in str(exc)):
            error = LinkFailed(f"cannot link {self.where()}: {exc}")
            if self.synced.is_set():
                error = Disconnected(f"{self.where()}: {exc}", cause=exc)
        else:  # its receive loop died on a message it could not read (TypeError, RecursionError...)
            error = WarpProtocolError(
                f"{self.host} sent a message the swimos client could not read ({message}); "
                "the warp transport reads all of Recon"
            )
        if self.synced.is_set():
            self.buffer.fail(error)
        else:
            self.link_failed(error)

    def _shutdown(self) -> None:
        client = self._client
        loop: asyncio.AbstractEventLoop | None = getattr(client, "_loop", None)
        thread: threading.Thread | None = getattr(client, "_loop_thread", None)
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            asyncio.run_coroutine_threadsafe(self._stop_loop(), loop)
        if thread is not threading.current_thread():
            # Not ``client.stop()``: it joins with no timeout and leaves the socket open.
            thread.join(0.9)
            if not thread.is_alive():
                loop.close()
        client._has_started = False

    async def _stop_loop(self) -> None:
        """On the loop: abort the sockets (the server sees the disconnect), cancel, stop."""
        pool = getattr(self._client, "_SwimClient__connection_pool", None)
        connections = getattr(pool, "_ConnectionPool__connections", {}) or {}
        for connection in list(connections.values()):
            connection.status = _swimos_closed()
            transport = getattr(getattr(connection, "websocket", None), "transport", None)
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.abort()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().stop()


def _swimos_closed() -> Any:
    from swimos.client._connections import _ConnectionStatus

    return _ConnectionStatus.CLOSED


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


def _next_update(transport: _Transport, buffer: _Buffer, timeout: float | None) -> Update | None:
    """The next update (None if ``timeout`` passed); keeps the sync deadline while not yet synced."""
    if transport.synced.is_set():
        return buffer.get(timeout)  # raises StopIteration at the end
    transport.check_sync()
    return buffer.get(0.1 if timeout is None else min(timeout, 0.1))


_END: Any = object()


def _next_or_end(transport: _Transport, buffer: _Buffer) -> Any:
    """:func:`_next_update` for a worker thread: StopIteration cannot cross into an asyncio future."""
    try:
        return _next_update(transport, buffer, 0.5)
    except StopIteration:
        return _END


class _Updates:
    """The scanner's source: updates from the buffer. ``close()`` is safe from any thread, also
    while another thread is blocked in ``__next__`` (a generator would raise "already executing")."""

    __slots__ = ("_buffer", "_transport")

    def __init__(self, transport: _Transport, buffer: _Buffer) -> None:
        self._transport = transport
        self._buffer = buffer

    def __iter__(self) -> _Updates:
        return self

    def __next__(self) -> Update:
        while True:
            item = _next_update(self._transport, self._buffer, None)
            if item is not None:
                return item

    def close(self) -> None:
        self._buffer.close()


class _AsyncUpdates:
    """The async scanner's source; ``aclose()`` is safe while another task awaits ``__anext__``
    (an async generator would raise "already running")."""

    __slots__ = ("_buffer", "_transport")

    def __init__(self, transport: _Transport, buffer: _Buffer) -> None:
        self._transport = transport
        self._buffer = buffer

    def __aiter__(self) -> _AsyncUpdates:
        return self

    async def __anext__(self) -> Update:
        while True:
            item = await asyncio.to_thread(_next_or_end, self._transport, self._buffer)
            if item is _END:
                raise StopAsyncIteration
            if item is not None:
                return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self._buffer.close()


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
    if isinstance(reconnect, bool) or not isinstance(reconnect, int) or reconnect < 0:
        raise UsageError(f"reconnect must be a whole number of attempts, 0 or more, not {reconnect!r}")
    if reconnect and transport == "swimos":
        raise UsageError(
            f"reconnect={reconnect} is not supported with transport='swimos' (the swimos client relinks "
            "only the last downlink of a connection and counts attempts from each TCP connect); "
            "use transport='warp' for reconnects"
        )
    if not host.startswith(("ws://", "wss://", "warp://", "warps://")):
        raise LinkFailed(f"bad host {host!r}: use ws://HOST:PORT or wss://HOST")
    host = host.replace("warps://", "wss://", 1).replace("warp://", "ws://", 1)
    buffer = _Buffer(capacity or (1 if kind == "value" else 1024), kind == "value", overflow_timeout)
    cls = _WarpTransport if transport == "warp" else _SwimosTransport
    instance = cls(host, node, lane, kind, buffer, sync_timeout, reconnect=reconnect)
    try:
        instance.wait_synced()
    except BaseException:  # SyncTimeout, LinkFailed, or Ctrl+C while waiting: nothing is left running
        instance.close()
        raise
    return instance, buffer


class DownlinkScanner(_DownlinkState, Scanner[Update]):
    """A scanner of a SwimOS lane's updates. Opening waits until the link is synced.

    (When a map lane's initial state alone fills the buffer, opening returns early so that you can
    read it; the ``sync_timeout`` deadline still holds and ends the scanner with SyncTimeout.)
    """

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
        super().__init__(_Updates(self._transport, self._buffer), on_close=self._transport.close)
        # Dropped without close(): the link closes when the scanner is garbage collected.
        weakref.finalize(self, self._transport.close)


class AsyncDownlinkScanner(_DownlinkState, AsyncScanner[Update]):
    """The async twin of :class:`DownlinkScanner`; build it with :meth:`open`."""

    def __init__(self, transport: _Transport, buffer: _Buffer) -> None:
        self._transport, self._buffer = transport, buffer
        super().__init__(_AsyncUpdates(transport, buffer), on_close=self._aclose_transport)
        weakref.finalize(self, transport.close)

    @classmethod
    async def open(cls, host: str, node: str, lane: str, **options: Any) -> AsyncDownlinkScanner:
        """Open and sync the downlink without blocking the event loop."""
        transport, buffer = await asyncio.to_thread(
            lambda: _open(host, node, lane, **{**_DEFAULTS, **options})
        )
        return cls(transport, buffer)

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
