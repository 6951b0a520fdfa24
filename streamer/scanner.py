"""Go-style scanners: ``next()`` / ``event()`` / ``err()`` / ``close()`` over any source of events.

``Scanner`` wraps an iterator, ``AsyncScanner`` an async iterator. ``next()`` never raises for a
failure of the source: it returns False and keeps the error for ``err()``. ``KeyboardInterrupt``,
``SystemExit`` and task cancellation are not failures of the source; they close the scanner and
propagate.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from .errors import NoCurrentEvent

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
    def closed(self) -> bool:
        """True once the scanner has ended, failed or been closed."""
        return self._closed

    @property
    def ended(self) -> bool:
        """True if the source ran out by itself: the stream reached its end (not closed early, no error)."""
        return self._ended

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
            self._release()
            return False
        except Exception as exc:
            self._fail(None if self._closed else exc)  # closed meanwhile by another thread: no failure
            self._release()
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
        """Stop reading and release the source; safe to call any number of times, from any thread."""
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
                on_close(self) if self._on_close_is_method else on_close()

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
        """A scanner of ``fn(event)``; an exception from ``fn`` ends it with that error."""
        return Scanner((fn(item) for item in self), on_close=self.close)

    def filter(self, predicate: Callable[[T], bool]) -> Scanner[T]:
        """A scanner of the events for which ``predicate`` is true."""
        return Scanner((item for item in self if predicate(item)), on_close=self.close)

    def accumulate(
        self, fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None = None
    ) -> Scanner[U]:
        """A scanner of running results: ``fn(acc, event, params) -> (acc, result)``, ``acc`` starting ``{}``.

        Without ``params``, ``fn`` is called as ``fn(acc, event)`` (an operator with bound parameters).
        Each call gets a fresh copy of ``params``.
        """
        return Scanner(_fold(self, fn, params), on_close=self.close)


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

    async def next(self) -> bool:
        """Advance to the next event; False at the end or on error (see ``err()``)."""
        if self._closed:
            self._current = _NOTHING
            return False
        try:
            item = await anext(self._source)
        except StopAsyncIteration:
            self._fail(None)
            self._ended = not self._closed
            await self._release()
            return False
        except Exception as exc:
            self._fail(None if self._closed else exc)  # closed meanwhile by another task: no failure
            await self._release()
            return False
        except BaseException:
            self._fail(None)
            await self._release()
            raise
        if self._closed:  # aclose() ran in another task while this read was waiting
            self._current = _NOTHING
            await self._close_source()
            return False
        self._accept(item)
        return True

    async def aclose(self) -> None:
        """Stop reading and release the source; safe to call any number of times, from any task.

        From another task while ``next()`` waits: ``on_close`` cuts the source's I/O (the HTTP
        client's does) and that ``next()`` returns False with ``err()`` None.
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
                result = on_close(self) if self._on_close_is_method else on_close()
                if inspect.isawaitable(result):
                    await result

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
        while await self.next():
            yield self._current
        if self._error is not None:
            raise self._error

    def map(self, fn: Callable[[T], U]) -> AsyncScanner[U]:
        """A scanner of ``fn(event)``; an exception from ``fn`` ends it with that error."""

        async def mapped() -> AsyncIterator[U]:
            async for item in self:
                yield fn(item)

        return AsyncScanner(mapped(), on_close=self.aclose)

    def filter(self, predicate: Callable[[T], bool]) -> AsyncScanner[T]:
        """A scanner of the events for which ``predicate`` is true."""

        async def filtered() -> AsyncIterator[T]:
            async for item in self:
                if predicate(item):
                    yield item

        return AsyncScanner(filtered(), on_close=self.aclose)

    def accumulate(
        self, fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None = None
    ) -> AsyncScanner[U]:
        """The async twin of :meth:`Scanner.accumulate`."""

        async def folded() -> AsyncIterator[U]:
            acc: dict[str, Any] = {}
            async for item in self:
                acc, result = _step(fn, acc, item, params)
                yield result

        return AsyncScanner(folded(), on_close=self.aclose)


def _step(
    fn: Callable[..., tuple[dict[str, Any], U]],
    acc: dict[str, Any],
    item: Any,
    params: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], U]:
    return fn(acc, item) if params is None else fn(acc, item, dict(params))


def _fold(
    source: Iterable[Any], fn: Callable[..., tuple[dict[str, Any], U]], params: Mapping[str, Any] | None
) -> Iterator[U]:
    acc: dict[str, Any] = {}
    for item in source:
        acc, result = _step(fn, acc, item, params)
        yield result
