"""A streaming response's body as chunks of bytes: the one piece of the client that reads a socket.

``SyncBody`` / ``AsyncBody`` iterate the body, turn every httpx fault into a ``StreamError``
(through :mod:`._http_errors`) and enforce the total deadline. Their ``close()``:

* once its stream has reached its end marker (``Scanner.ended``; a body with no stream attached
  counts as ended), drains what is left of the body, at most :data:`DRAIN_BYTES` within
  :data:`DRAIN_SECONDS`, so that the connection goes back to the pool for the next request (the
  chunked terminator follows the last event at once); a body that does not end within those
  bounds, or a stream closed early, has its connection closed at once instead;
* is safe from any thread (sync): when another thread is blocked reading, it shuts the socket down
  under that read, which then ends the body quietly; the reading thread releases the response.

A body dropped without ``close()`` closes its response when it is freed (async: httpx's body
generator, which asyncio finalizes, releases it) and emits a ``ResourceWarning``, as files do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx

from ..errors import StreamError, StreamTimeout
from ._http_errors import HTTPX_ERRORS, TimeoutFor, translate

__all__ = ["DRAIN_BYTES", "DRAIN_SECONDS", "AsyncBody", "Deadline", "SyncBody", "log"]

#: Most bytes read after a stream's end to return its connection to the pool.
DRAIN_BYTES = 64 * 1024
#: Longest wait for the rest of a body after a stream's end.
DRAIN_SECONDS = 0.5

#: The client's logger: requests, retries and stream ends at DEBUG. Never keys or bodies.
log = logging.getLogger("streamer.client")


class Deadline:
    """The stream's total deadline and how to name a timeout (pure; shared by both bodies)."""

    __slots__ = ("ends_at", "started", "timeout_for", "total", "url")

    def __init__(self, url: str, started: float, total: float | None, timeout_for: TimeoutFor) -> None:
        self.url = url
        self.started = started
        self.total = total
        self.timeout_for = timeout_for
        #: The ``time.monotonic()`` at which the total deadline passes (None: no total deadline).
        self.ends_at = None if total is None else started + total

    def remaining(self) -> float | None:
        """Seconds left before the total deadline (None: no total deadline)."""
        if self.total is None:
            return None
        return self.total - (time.monotonic() - self.started)

    def check(self) -> None:
        """Raise ``StreamTimeout("total")`` once the total deadline has passed."""
        if self.ends_at is not None and time.monotonic() > self.ends_at:
            raise StreamTimeout("total", self.total or 0.0, self.url)

    def error(self, exc: Exception) -> StreamError:
        """The typed error for an httpx exception raised while reading the body."""
        return translate(exc, self.url, mid_stream=True, timeout_for=self.timeout_for)


def _dropped(response: httpx.Response, url: str) -> None:
    warnings.warn(
        f"unclosed stream from {url}: close() it or use it in a with block; its connection is closed now",
        ResourceWarning,
        stacklevel=2,
    )
    log.debug("stream from %s dropped without close(); closing its connection", url)
    response.close()


def _socket_of(response: httpx.Response) -> Any:
    """The socket under a response from httpx's own transports (None for other transports)."""
    stream = response.extensions.get("network_stream")
    get_extra_info: Callable[[str], Any] | None = getattr(stream, "get_extra_info", None)
    return get_extra_info("socket") if get_extra_info is not None else None


def _shutdown(response: httpx.Response) -> None:
    """Shut a response's socket down: a read blocked on it returns at once (end of stream)."""
    sock = _socket_of(response)
    with contextlib.suppress(OSError):
        if isinstance(sock, socket.socket):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS
        elif hasattr(sock, "shutdown"):  # asyncio's TransportSocket
            sock.shutdown(socket.SHUT_RDWR)


class SyncBody:
    """The chunks of a streaming ``httpx.Response``; ``close()`` drains or aborts (see the module)."""

    __slots__ = (
        "__weakref__",
        "_aborted",
        "_chunks",
        "_closed",
        "_deadline",
        "_drained",
        "_finalizer",
        "_lock",
        "_owner",
        "_read",
        "_reader",
        "_response",
    )

    def __init__(self, response: httpx.Response, deadline: Deadline) -> None:
        self._response = response
        self._chunks = response.iter_raw() if _identity(response) else response.iter_bytes()
        self._deadline = deadline
        self._reader: int | None = None
        self._closed = False
        self._aborted = False
        self._drained = False
        self._read = 0
        self._lock = threading.Lock()
        self._owner: weakref.ref[Any] | None = None
        self._finalizer = weakref.finalize(self, _dropped, response, deadline.url)
        self._finalizer.atexit = False

    def attach(self, stream: Any) -> None:
        """Tell the body which stream reads it (held weakly): only an ended stream is drained."""
        self._owner = weakref.ref(stream)

    def __iter__(self) -> SyncBody:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        self._reader = threading.get_ident()
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._finish("complete", reusable=True)
            raise
        except HTTPX_ERRORS as exc:
            if self._aborted:
                self._finish("closed from another thread", reusable=False)
                raise StopIteration from None
            self._finish(f"failed ({type(exc).__name__})", reusable=False)
            raise self._deadline.error(exc) from exc
        finally:
            self._reader = None
        if self._aborted:
            self._finish("closed from another thread", reusable=False)
            raise StopIteration
        self._read += len(chunk)
        ends_at = self._deadline.ends_at
        if ends_at is not None and time.monotonic() > ends_at:
            self._finish("total deadline passed", reusable=False)
            self._deadline.check()
        return chunk

    def close(self) -> None:
        """Release the response: drain it for reuse, or cut the socket under a read in another thread."""
        if self._closed:
            return
        reader = self._reader
        if reader is not None and reader != threading.get_ident():
            self._abort()
            return
        if not _owner_ended(self._owner):
            self._finish("closed early", reusable=False)
            return
        self._finish("closed", reusable=self._drain())

    def _drain(self) -> bool:
        """Read the rest of the body within the drain bounds; True if it ended (connection reusable)."""
        timer = threading.Timer(DRAIN_SECONDS, self._drain_timeout)
        timer.daemon = True
        timer.start()
        drained = 0
        try:
            for chunk in self._chunks:
                drained += len(chunk)
                if drained > DRAIN_BYTES or self._aborted:
                    return False
        except HTTPX_ERRORS:
            return False
        finally:
            with self._lock:  # a timer firing from now on must not cut a pooled connection
                self._drained = True
            timer.cancel()
        return not self._aborted

    def _drain_timeout(self) -> None:
        with self._lock:
            if not self._drained:
                self._abort()

    def _abort(self) -> None:
        """Shut the socket down so that a blocked read returns at once (thread-safe)."""
        self._aborted = True
        _shutdown(self._response)

    def _finish(self, how: str, *, reusable: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._finalizer.detach()
        self._response.close()
        _log_end(self._deadline, how, self._read, reusable)


class AsyncBody:
    """The async twin of :class:`SyncBody`: httpx's read timeout, the total deadline, a bounded drain."""

    __slots__ = (
        "__weakref__",
        "_aborted",
        "_chunks",
        "_closed",
        "_deadline",
        "_expired",
        "_finalizer",
        "_owner",
        "_read",
        "_read_timeout",
        "_reading",
        "_response",
        "_timer",
    )

    def __init__(self, response: httpx.Response, deadline: Deadline, idle: float | None) -> None:
        self._response = response
        self._chunks: AsyncIterator[bytes] = (
            response.aiter_raw() if _identity(response) else response.aiter_bytes()
        )
        self._deadline = deadline
        self._read_timeout = _read_timeout(response, idle)
        self._closed = False
        self._aborted = False
        self._expired = False
        self._reading = False
        self._read = 0
        self._owner: weakref.ref[Any] | None = None
        self._finalizer = weakref.finalize(self, _adropped, deadline.url)
        self._finalizer.atexit = False
        self._timer = _deadline_timer(response, deadline, weakref.ref(self))

    def attach(self, stream: Any) -> None:
        """Tell the body which stream reads it (held weakly): only an ended stream is drained."""
        self._owner = weakref.ref(stream)

    def __aiter__(self) -> AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        if self._expired:
            raise await self._total_passed()
        self._reading = True
        try:
            # httpx's read timeout (the idle timeout) bounds every read, and the timer set in
            # __init__ cuts a read at the total deadline. Without that timer, only a deadline
            # before the read timeout needs a cancel scope (about 11 µs a read).
            remaining = None if self._timer is not None else self._deadline.remaining()
            if remaining is None or remaining >= self._read_timeout:
                chunk = await self._chunks.__anext__()
            else:
                with anyio.fail_after(max(remaining, 0.0)):
                    chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            if self._expired:
                raise await self._total_passed() from None
            await self._finish("complete", reusable=True)
            raise
        except TimeoutError:
            await self._finish("timed out", reusable=False)
            raise self._deadline.timeout_for(httpx.ReadTimeout("deadline")) from None
        except HTTPX_ERRORS as exc:
            if self._expired:
                raise await self._total_passed() from None
            if self._aborted:
                await self._finish("closed from another task", reusable=False)
                raise StopAsyncIteration from None
            await self._finish(f"failed ({type(exc).__name__})", reusable=False)
            raise self._deadline.error(exc) from exc
        finally:
            self._reading = False
        if self._expired:
            raise await self._total_passed()
        if self._aborted:
            await self._finish("closed from another task", reusable=False)
            raise StopAsyncIteration
        self._read += len(chunk)
        return chunk

    async def _total_passed(self) -> StreamTimeout:
        await self._finish("total deadline passed", reusable=False)
        return StreamTimeout("total", self._deadline.total or 0.0, self._deadline.url)

    def _expire(self) -> None:
        """At the total deadline (the timer): a read waiting now is cut; any later read fails."""
        if self._closed:
            return
        self._expired = True
        if self._reading:
            _shutdown(self._response)

    async def aclose(self) -> None:
        """Release the response: drain it within the bounds for reuse, else close its connection.

        While another task waits in a read, it shuts the socket down under that read instead.
        """
        if self._closed:
            return
        if self._reading:
            self._aborted = True
            _shutdown(self._response)
            return
        if not _owner_ended(self._owner):
            await self._finish("closed early", reusable=False)
            return
        reusable = False
        try:
            with anyio.move_on_after(DRAIN_SECONDS):
                drained = 0
                async for chunk in self._chunks:
                    drained += len(chunk)
                    if drained > DRAIN_BYTES:
                        break
                else:
                    reusable = True
        except HTTPX_ERRORS:
            reusable = False
        finally:
            await self._finish("closed", reusable=reusable)

    async def _finish(self, how: str, *, reusable: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        if self._timer is not None:
            self._timer.cancel()
        with anyio.CancelScope(shield=True):  # a cancelled task still releases its connection
            try:
                aclose = getattr(self._chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                await self._response.aclose()
        _log_end(self._deadline, how, self._read, reusable)


def _deadline_timer(
    response: httpx.Response, deadline: Deadline, body: weakref.ref[AsyncBody]
) -> asyncio.TimerHandle | None:
    """A timer on asyncio's loop that expires ``body`` at the total deadline, cutting its socket.

    None (reads then take a cancel scope near the deadline) without a total deadline, off asyncio
    (trio), or on a transport without a socket to cut. The body is held weakly: a dropped body
    is still freed at once.
    """
    ends_at = deadline.ends_at
    if ends_at is None or _socket_of(response) is None:
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(max(ends_at - time.monotonic(), 0.0), _expire, body)


def _expire(body: weakref.ref[AsyncBody]) -> None:
    alive = body()
    if alive is not None:
        alive._expire()


def _identity(response: httpx.Response) -> bool:
    """True if the body is not compressed: its raw bytes are its bytes (and skip a decoding layer)."""
    return response.headers.get("content-encoding", "identity").strip().lower() in ("identity", "")


def _read_timeout(response: httpx.Response, idle: float | None) -> float:
    """The read timeout httpx applies to each read of ``response`` (``idle`` if the request has none)."""
    timeouts = response.request.extensions.get("timeout")
    read = timeouts.get("read", idle) if isinstance(timeouts, dict) else idle
    return math.inf if read is None else float(read)


def _owner_ended(owner: weakref.ref[Any] | None) -> bool:
    """True if the body's stream reached its end (or no stream is known): worth draining."""
    stream = owner() if owner is not None else None
    return stream is None or bool(getattr(stream, "ended", True))


def _adropped(url: str) -> None:
    # httpx's own body generator, finalized by the asyncio loop, releases the connection.
    warnings.warn(
        f"unclosed async stream from {url}: await aclose() or use it in an async with block",
        ResourceWarning,
        stacklevel=2,
    )


def _log_end(deadline: Deadline, how: str, read: int, reusable: bool) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "stream end %s: %s after %d bytes in %.3f s; connection %s",
            deadline.url,
            how,
            read,
            time.monotonic() - deadline.started,
            "back in the pool" if reusable else "closed",
        )
