"""The loop every typed OpenAI stream shares: SSE events in, typed events out, one ending rule.

A stream kind supplies a sans-IO :class:`Protocol` (decode an SSE event, say when the stream is
over, say what a premature end means); these generators only move bytes through it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from .. import sse
from ..errors import StreamError
from ..reader import TextReader
from ..scanner import AsyncScanner, Scanner

__all__ = ["AsyncTypedStream", "StreamProtocol", "TypedStream", "atyped_events", "typed_events"]

E = TypeVar("E", covariant=True)
T = TypeVar("T")


class StreamProtocol(Protocol[E]):
    """What a typed stream kind knows about its wire."""

    def accept(self, raw: sse.Event) -> E | None:
        """Decode one SSE event (None: a sentinel that is not handed out); may raise StreamError."""

    def finished(self) -> bool:
        """True once the stream's own end marker has arrived: nothing more is read."""

    def failure(self) -> StreamError | None:
        """The error the last accepted event ends the stream with (an ``error`` event), if any."""

    def eof_error(self, truncated: bool) -> StreamError:
        """The error for bytes that end before the end marker."""


def typed_events(chunks: Iterable[bytes], protocol: StreamProtocol[E], max_event_size: int) -> Iterator[E]:
    """Typed events from chunks of bytes, until the end marker, an error event, or a premature end."""
    decoder = sse.Decoder(max_event_size)
    for chunk in chunks:
        for raw in decoder.feed(chunk):
            event = protocol.accept(raw)
            if event is not None:
                yield event
            failure = protocol.failure()
            if failure is not None:
                raise failure
            if protocol.finished():
                return
    decoder.close()
    raise protocol.eof_error(decoder.truncated)


async def atyped_events(
    chunks: AsyncIterable[bytes], protocol: StreamProtocol[E], max_event_size: int
) -> AsyncIterator[E]:
    """Async twin of :func:`typed_events`."""
    decoder = sse.Decoder(max_event_size)
    async for chunk in chunks:
        for raw in decoder.feed(chunk):
            event = protocol.accept(raw)
            if event is not None:
                yield event
            failure = protocol.failure()
            if failure is not None:
                raise failure
            if protocol.finished():
                return
    decoder.close()
    raise protocol.eof_error(decoder.truncated)


class TypedStream(Scanner[T]):
    """Base of the sync typed scanners: a protocol over bytes, the source closed, a text reader."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        protocol: StreamProtocol[T],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._chunks = chunks
        self._user_close = on_close
        super().__init__(typed_events(chunks, protocol, max_event_size), on_close=self._release_chunks)

    def _text_delta(self) -> tuple[str, bool]:
        raise NotImplementedError

    def text_reader(self) -> TextReader:
        """An ``io.RawIOBase`` of the streamed text as UTF-8; closing it closes the stream."""
        return TextReader(self._pieces(), on_close=self.close)

    def _pieces(self) -> Iterator[str]:
        while self.next():
            text, ok = self._text_delta()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    def _release_chunks(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            if self._user_close is not None:
                self._user_close()


class AsyncTypedStream(AsyncScanner[T]):
    """The async twin of :class:`TypedStream`, with ``text_deltas()``."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        protocol: StreamProtocol[T],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._chunks = chunks
        self._user_close = on_close
        super().__init__(atyped_events(chunks, protocol, max_event_size), on_close=self._release_chunks)

    def _text_delta(self) -> tuple[str, bool]:
        raise NotImplementedError

    async def text_deltas(self) -> AsyncIterator[str]:
        """Yield the text pieces as they arrive; raises the stream's error at the end."""
        while await self.next():
            text, ok = self._text_delta()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    async def _release_chunks(self) -> None:
        try:
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if self._user_close is not None:
                result = self._user_close()
                if inspect.isawaitable(result):
                    await result
