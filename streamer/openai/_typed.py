"""The loop every typed OpenAI stream shares: SSE events in, typed events out, one ending rule.

A stream kind supplies a sans-IO :class:`Protocol` (decode an SSE event, say when the stream is
over, say what a premature end means); these generators only move bytes through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Protocol, TypeVar

from .. import sse
from ..errors import StreamError

__all__ = ["StreamProtocol", "atyped_events", "typed_events"]

E = TypeVar("E", covariant=True)


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
