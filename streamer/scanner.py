"""Go-style scanners: ``next()`` / ``event()`` / ``err()`` / ``close()`` over any source of events.

``Scanner`` wraps an iterator, ``AsyncScanner`` an async iterator. ``next()`` never raises for a
failure of the source: it returns False and keeps the error for ``err()``. ``KeyboardInterrupt``,
``SystemExit`` and task cancellation are not failures of the source; they close the scanner and
propagate.

A callback given to ``map``, ``filter``, ``accumulate`` (or ``on_close``) that raises ends the scanner with
:class:`~streamer.errors.CallbackError` (``__cause__`` is the callback's exception, ``index`` the
event it failed on). A :class:`~streamer.errors.StreamError` raised by a callback (a stream operator
refusing an input, say) is already typed and passes through unchanged.

``AsyncScanner.next()`` returns an awaitable that refuses to be used as a bool, so that the
footgun ``while stream.next():`` (without ``await``, always true) raises ``TypeError`` at once.
"""

from __future__ import annotations

import inspect
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, Generic, NoReturn, TypeVar

from .errors import CallbackError, NoCurrentEvent, StreamError

__all__ = ["AsyncScanner", "Scanner"]

T = TypeVar("T")
U = TypeVar("U")
S = TypeVar("S", bound="Scanner[Any]")
A = TypeVar("A", bound="AsyncScanner[Any]")

_NOTHING: Any = object()


class _ScannerState(Generic[T]):
    """The pure state shared by the sync and async scanners."""

    __slots__ = ("_closed", "_count", "_current", "_ended", "_error")

    def __init__(self) -> None:
        self._current: T = _NOTHING
        self._error: BaseException | None = None
        self._closed = False
        self._ended = False
        self._count = 0

    def event(self) -> T:
        """The event that the last successful ``next()`` produced."""
        if self._current is _NOTHING:
            if self._closed:
                state = "the scanner is closed" if self._error is None else "the scanner failed"
            else:
                state = "next() has not returned True"
            raise NoCurrentEvent(f"no current event: {state}; call event() only after next() returns True")
        return self._current

    def err(self) -> BaseException | None:
        """The error that ended the stream, or None if it ended cleanly (or has not ended)."""
        return self._error

    @property
    def count(self) -> int:
        """How many events ``next()`` has produced so far."""
        return self._count

    @property
    def ended(self) -> bool:
        """True if the source ran out by itself: the stream reached its end (not closed early, no error)."""
        return self._ended

    @property
    def closed(self) -> bool:
        """True once the scanner has ended, failed or been closed."""
        return self._closed

    def _accept(self, item: T) -> None:
        self._current = item
        self._count += 1

    def _fail(self, error: BaseException | None) -> None:
        self._current = _NOTHING
        if self._error is None:
            self._error = error


class Scanner(_ScannerState[T]):
    """A scanner over an iterable of events.

    ``on_close`` runs once when the scanner closes (after the source iterator's own ``close()``),
    whether it ended, failed or was closed early. A method of the scanner itself is held without a
    reference cycle, so a scanner dropped without ``close()`` is freed at once.

    ``close()`` may be called from another thread while ``next()`` is blocked reading: it runs
    ``on_close`` (which should cut the source's I/O, as the HTTP client's does), and the blocked
    ``next()`` then returns False with ``err()`` None: a close is not a failure.
    """

    __slots__ = ("_on_close", "_on_close_is_method", "_source")

    def __init__(self, source: Iterable[T], *, on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._source: Iterator[T] = iter(source)
        # A bound method of self would make self -> callback -> self, a cycle only the GC frees.
        self._on_close_is_method = getattr(on_close, "__self__", None) is self
        self._on_close: Callable[..., object] | None = (
            getattr(on_close, "__func__", on_close) if self._on_close_is_method else on_close
        )

    def next(self) -> bool:
        """Advance to the next event; False at the end or on error (see ``err()``)."""
        if self._closed:
            self._current = _NOTHING
            return False
        try:
            item = next(self._source)
        except StopIteration:
            self._fail(None)
            self._ended = not self._closed
            self._release_at_end()
            return False
        except Exception as exc:
            self._fail(None if self._closed else exc)  # closed meanwhile by another thread: no failure
            self._release_at_end()
            return False
        except BaseException:
            self._fail(None)
            self._release()
            raise
        if self._closed:  # close() ran in another thread while this read was blocked
            self._current = _NOTHING
            self._close_source()
            return False
        self._accept(item)
        return True

    def close(self) -> None:
        """Stop reading and release the source; safe to call any number of times, from any thread.

        An exception from ``on_close`` is raised as :class:`~streamer.errors.CallbackError`.
        """
        self._current = _NOTHING
        self._release()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._close_source()
        finally:
            on_close = self._on_close
            if on_close is not None:
                if self._on_close_is_method:
                    _call("on_close", None, on_close, self)
                else:
                    _call("on_close", None, on_close)

    def _close_source(self) -> None:
        close = getattr(self._source, "close", None)
        if close is None:
            return
        try:
            close()
        except ValueError:
            # "generator already executing": next() runs in another thread; it closes the source
            # itself once on_close has cut its read.
            if not getattr(self._source, "gi_running", False):
                raise

    def _release_at_end(self) -> None:
        # next() never raises for a failure: one while releasing becomes err() (if it is the first).
        try:
            self._release()
        except Exception as exc:
            self._fail(exc)

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        """Yield every event, then raise the error that ended the stream, if any."""
        while self.next():
            yield self._current
        if self._error is not None:
            raise self._error

    def map(self, fn: Callable[[T], U]) -> Scanner[U]:
        """A scanner of ``fn(event)``; an exception from ``fn`` ends it with :class:`CallbackError`."""
        return Scanner(_mapped(self, fn), on_close=self.close)

    def filter(self, predicate: Callable[[T], bool]) -> Scanner[T]:
        """A scanner of the events for which ``predicate`` is true (its exceptions: as for ``map``)."""
        return Scanner(_filtered(self, predicate), on_close=self.close)

    def accumulate(
        self, fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None = None
    ) -> Scanner[U]:
        """A scanner of running results: ``fn(acc, event, params) -> (acc, result)``, ``acc`` starting ``{}``.

        Without ``params``, ``fn`` is called as ``fn(acc, event)`` (an operator with bound parameters).
        Each call gets a fresh copy of ``params``. Exceptions from ``fn``: as for ``map``.
        """
        return Scanner(_folded(self, fn, params), on_close=self.close)


class AsyncScanner(_ScannerState[T]):
    """The async twin of :class:`Scanner`: ``await next()``, ``async for``, ``await aclose()``."""

    __slots__ = ("_on_close", "_on_close_is_method", "_source")

    def __init__(
        self,
        source: AsyncIterable[T],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
    ) -> None:
        super().__init__()
        self._source: AsyncIterator[T] = aiter(source)
        self._on_close_is_method = getattr(on_close, "__self__", None) is self  # no cycle: see Scanner
        self._on_close: Callable[..., Awaitable[object] | object] | None = (
            getattr(on_close, "__func__", on_close) if self._on_close_is_method else on_close
        )

    def next(self) -> Awaitable[bool]:
        """Advance to the next event: ``await`` gives False at the end or on error (see ``err()``).

        The awaitable raises ``TypeError`` if used as a bool (``while stream.next():`` forgot ``await``).
        """
        return _Next(self)  # a fresh one each call: holding one would tie self in a reference cycle

    async def aclose(self) -> None:
        """Stop reading and release the source; safe to call any number of times, from any task.

        From another task while ``next()`` waits: ``on_close`` cuts the source's I/O (the HTTP
        client's does) and that ``next()`` returns False with ``err()`` None. An exception from
        ``on_close`` is raised as :class:`~streamer.errors.CallbackError`.
        """
        self._current = _NOTHING
        await self._release()

    async def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._close_source()
        finally:
            on_close = self._on_close
            if on_close is not None:
                if self._on_close_is_method:
                    result = _call("on_close", None, on_close, self)
                else:
                    result = _call("on_close", None, on_close)
                if inspect.isawaitable(result):
                    await _acall("on_close", result)

    async def _close_source(self) -> None:
        aclose = getattr(self._source, "aclose", None)
        if aclose is None:
            return
        try:
            await aclose()
        except RuntimeError:
            # "asynchronous generator is already running": next() waits in another task; it
            # closes the source itself once on_close has cut its read.
            if not getattr(self._source, "ag_running", False):
                raise

    async def _release_at_end(self) -> None:
        # next() never raises for a failure: one while releasing becomes err() (if it is the first).
        try:
            await self._release()
        except Exception as exc:
            self._fail(exc)

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[T]:
        """Yield every event, then raise the error that ended the stream, if any."""
        while await _Next(self):
            yield self._current
        if self._error is not None:
            raise self._error

    def map(self, fn: Callable[[T], U]) -> AsyncScanner[U]:
        """A scanner of ``fn(event)``; an exception from ``fn`` ends it with :class:`CallbackError`."""

        async def mapped() -> AsyncIterator[U]:
            while await _Next(self):
                yield _call("map", self._count - 1, fn, self._current)
            if self._error is not None:
                raise self._error

        return AsyncScanner(mapped(), on_close=self.aclose)

    def filter(self, predicate: Callable[[T], bool]) -> AsyncScanner[T]:
        """A scanner of the events for which ``predicate`` is true (its exceptions: as for ``map``)."""

        async def filtered() -> AsyncIterator[T]:
            while await _Next(self):
                item = self._current
                if _call("filter", self._count - 1, predicate, item):
                    yield item
            if self._error is not None:
                raise self._error

        return AsyncScanner(filtered(), on_close=self.aclose)

    def accumulate(
        self, fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None = None
    ) -> AsyncScanner[U]:
        """The async twin of :meth:`Scanner.accumulate`."""

        async def folded() -> AsyncIterator[U]:
            acc: dict[str, Any] = {}
            while await _Next(self):
                acc, result = _call("accumulate", self._count - 1, _step, fn, acc, self._current, params)
                yield result
            if self._error is not None:
                raise self._error

        return AsyncScanner(folded(), on_close=self.aclose)


class _Next:
    """What ``AsyncScanner.next()`` returns: awaitable (once per call), and never a bool."""

    __slots__ = ("_scanner",)

    def __init__(self, scanner: AsyncScanner[Any]) -> None:
        self._scanner = scanner

    def __await__(self) -> Generator[Any, None, bool]:
        # The step itself, as a generator: one frame per await instead of a method call plus a coroutine.
        scanner = self._scanner
        if scanner._closed:
            scanner._current = _NOTHING
            return False
        try:
            item = yield from scanner._source.__anext__().__await__()
        except StopAsyncIteration:
            scanner._fail(None)
            scanner._ended = not scanner._closed
            yield from scanner._release_at_end().__await__()
            return False
        except Exception as exc:
            scanner._fail(None if scanner._closed else exc)  # closed meanwhile by another task
            yield from scanner._release_at_end().__await__()
            return False
        except BaseException:
            scanner._fail(None)
            yield from scanner._release().__await__()
            raise
        if scanner._closed:  # aclose() ran in another task while this read was waiting
            scanner._current = _NOTHING
            yield from scanner._close_source().__await__()
            return False
        scanner._accept(item)
        return True

    def __bool__(self) -> NoReturn:
        # No coroutine exists until __await__ runs, so nothing is left un-awaited (no RuntimeWarning).
        raise TypeError(
            "AsyncScanner.next() returns an awaitable, not a bool; await it: `while await stream.next():`"
        )


def _call(callback: str, index: int | None, fn: Callable[..., U], *args: Any) -> U:
    """``fn(*args)``, with any exception but a ``StreamError`` wrapped in :class:`CallbackError`."""
    try:
        return fn(*args)
    except StreamError:
        raise
    except Exception as exc:
        raise CallbackError(callback, index) from exc


async def _acall(callback: str, awaitable: Awaitable[U]) -> U:
    """Await what an async callback returned, wrapping its exceptions as :func:`_call` does."""
    try:
        return await awaitable
    except StreamError:
        raise
    except Exception as exc:
        raise CallbackError(callback) from exc


def _step(
    fn: Callable[..., tuple[dict[str, Any], U]],
    acc: dict[str, Any],
    item: Any,
    params: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], U]:
    new_acc, result = fn(acc, item) if params is None else fn(acc, item, dict(params))
    return new_acc, result


def _mapped(source: Scanner[T], fn: Callable[[T], U]) -> Iterator[U]:
    while source.next():
        try:  # _call, inlined: one call less per event and stage
            result = fn(source._current)
        except StreamError:
            raise
        except Exception as exc:
            raise CallbackError("map", source._count - 1) from exc
        yield result
    if source._error is not None:
        raise source._error


def _filtered(source: Scanner[T], predicate: Callable[[T], bool]) -> Iterator[T]:
    while source.next():
        item = source._current
        if _call("filter", source._count - 1, predicate, item):
            yield item
    if source._error is not None:
        raise source._error


def _folded(
    source: Scanner[Any], fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None
) -> Iterator[U]:
    acc: dict[str, Any] = {}
    while source.next():
        try:  # _call and _step, inlined: two calls less per event
            acc, result = (
                fn(acc, source._current) if params is None else fn(acc, source._current, dict(params))
            )
        except StreamError:
            raise
        except Exception as exc:
            raise CallbackError("accumulate", source._count - 1) from exc
        yield result
    if source._error is not None:
        raise source._error
