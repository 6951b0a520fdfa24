"""The one loop every typed OpenAI stream runs: SSE events in, typed events out, one ending rule.

A stream kind supplies a sans-IO :class:`StreamProtocol` (``RunProtocol``, ``ChatProtocol``,
``ResponseProtocol``): it decodes an SSE event, says when the stream is over, which error an
in-band error event ends it with, what a premature end means, and whether the end marker is
followed by another segment (a run continued with tool outputs). :class:`TypedStream` and
:class:`AsyncTypedStream` only move bytes through it; a wrong shape anywhere in the protocol's
work becomes a :class:`~streamer.errors.DecodeError` here, in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from .. import sse
from ..errors import DecodeError, ProtocolError, StreamError, UsageError
from ..reader import TextReader
from ..scanner import AsyncScanner, Scanner
from ._build import ShapeError
from ._deltas import aclose_quietly, close_quietly
from ._json import loads as _json_loads

__all__ = ["AsyncTypedStream", "StreamProtocol", "TypedStream", "iterate_chunks", "loads", "need_snapshots"]

E = TypeVar("E", covariant=True)
T = TypeVar("T")
P = TypeVar("P", bound="StreamProtocol[Any]")
C = TypeVar("C")


class StreamProtocol(Protocol[E]):
    """What a typed stream kind knows about its wire (pure: no I/O)."""

    #: The position of the event being accepted (events already handed out, over all segments).
    index: int

    def accept(self, raw: sse.Event) -> E | None:
        """Decode one SSE event and fold it into the snapshots (None: a marker not handed out).

        May raise ``DecodeError`` or ``ShapeError`` (the core names the event for it).
        """

    def event_name(self, raw: sse.Event) -> str:
        """The name of ``raw`` for error messages."""

    @property
    def done(self) -> bool:
        """True once the stream's own end marker has arrived (an attribute: read once per event)."""

    def continues(self) -> bool:
        """At the end marker: True (once) if a follow-up segment comes, as after tool outputs."""

    @property
    def error(self) -> StreamError | None:
        """The error the last accepted event ends the stream with (an in-band error), if any."""

    def eof_error(self, truncated: bool) -> StreamError:
        """The error for bytes that end before the end marker."""


def loads(name: str, index: int, data: str) -> Any:
    """Parse an event's JSON data as json.loads does; bad JSON is a :class:`DecodeError` naming the event."""
    try:
        return _json_loads(data)
    except ValueError as exc:
        raise DecodeError(name, index, data, f"invalid JSON ({exc})") from None
    except RecursionError:
        raise DecodeError(name, index, data, "the JSON is nested too deeply to decode") from None


def need_snapshots(keep: bool, accessor: str) -> None:
    """Raise :class:`UsageError` for a snapshot ``accessor`` of a stream opened with ``snapshots=False``."""
    if not keep:
        raise UsageError(
            f"{accessor}() reads the snapshots, and this stream was opened with snapshots=False "
            "(text-only: it keeps no text, messages or tool calls); open it with snapshots=True"
        )


def _decode_error(protocol: StreamProtocol[Any], raw: sse.Event, exc: Exception) -> DecodeError:
    """The DecodeError for an exception raised while accepting ``raw``."""
    name, index = protocol.event_name(raw), protocol.index
    if isinstance(exc, ShapeError):
        return DecodeError(name, index, raw.data, f"unexpected shape at {exc}", path=exc.path)
    if isinstance(exc, RecursionError):
        return DecodeError(name, index, raw.data, "the JSON is nested too deeply to decode")
    return DecodeError(name, index, raw.data, f"unexpected shape ({type(exc).__name__}: {exc})")


# A wrong shape that slipped past the model checks still ends the stream as a DecodeError.
_SHAPE_FAULTS = (ShapeError, RecursionError, TypeError, AttributeError, IndexError, KeyError, ValueError)


def _not_bytes(chunk: object) -> ProtocolError:
    return ProtocolError(
        f"the byte source yielded a {type(chunk).__name__}, not bytes; a stream reads chunks of bytes "
        "(decode nothing yourself, and open text files in binary mode)"
    )


def iterate_chunks(chunks: Iterable[bytes], owner: str) -> Iterator[bytes]:
    """``iter(chunks)``, or a :class:`UsageError` saying that ``owner`` takes an iterable of bytes."""
    if isinstance(chunks, (bytes, bytearray, str)):
        raise UsageError(
            f"{owner} takes an iterable of bytes chunks, not one {type(chunks).__name__}; wrap it: [data]"
        )
    try:
        return iter(chunks)
    except TypeError:
        raise UsageError(f"{owner} takes an iterable of bytes chunks, not {type(chunks).__name__}") from None


def _aiterate(chunks: AsyncIterable[bytes], owner: str) -> AsyncIterator[bytes]:
    try:
        return aiter(chunks)
    except TypeError:
        raise UsageError(
            f"{owner} takes an async iterable of bytes chunks, not {type(chunks).__name__}"
        ) from None


class _Segments(Generic[C]):
    """The byte sources of one stream: the current segment and a follow-up (tool outputs' stream).

    The event loop holds this, never the stream itself, so that a stream dropped without ``close()``
    has no reference cycle and is freed (and its connection returned) at once.
    """

    __slots__ = ("chunks", "follow_up")

    def __init__(self, chunks: C) -> None:
        self.chunks = chunks
        self.follow_up: C | None = None


# --- resume hook (streamer.openai._resume) ---------------------------------------------------------
# A byte source that can resume after a cut (``ResumingBody``) has ``resume(decoder, error)``: at an
# early end of its bytes it opens the next segment and returns True (the loop starts a fresh
# decoder on it), returns False to end, or raises the error to end with. Other sources end with
# ``error``.


def _resumed(chunks: object, decoder: sse.Decoder, error: StreamError) -> bool:
    resume = getattr(chunks, "resume", None)
    return resume is not None and bool(resume(decoder, error))


async def _aresumed(chunks: object, decoder: sse.Decoder, error: StreamError) -> bool:
    resume = getattr(chunks, "resume", None)
    return resume is not None and bool(await resume(decoder, error))


# --- end of the resume hook ---------------------------------------------------------------------


class TypedStream(Scanner[T], Generic[T, P]):
    """Base of the sync typed scanners: a protocol over bytes, sources closed, the text vocabulary.

    Subclasses give ``text_delta()``; ``text_reader()`` and ``text()`` build on it and the protocol.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        protocol: P,
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._segments: _Segments[Iterator[bytes]] = _Segments(iterate_chunks(chunks, type(self).__name__))
        self._protocol = protocol
        self._max_event_size = max_event_size
        self._user_close = on_close
        sse.Decoder(max_event_size)  # a bad limit is a usage error now, not an err() later
        super().__init__(_events(self._segments, protocol, max_event_size), on_close=self._release_sources)

    @property
    def _follow_up(self) -> Iterator[bytes] | None:
        return self._segments.follow_up

    @_follow_up.setter
    def _follow_up(self, chunks: Iterator[bytes] | None) -> None:
        self._segments.follow_up = chunks

    def text_delta(self) -> tuple[str, bool]:
        """The text the current event adds, Go style: ``(text, True)``, or ``("", False)``."""
        raise NotImplementedError

    def text_reader(self) -> TextReader:
        """An ``io.RawIOBase`` of the streamed text as UTF-8; closing it closes the stream."""
        return TextReader(self._pieces(), on_close=self.close)

    def _pieces(self) -> Iterator[str]:
        while self.next():
            text, ok = self.text_delta()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    def _release_sources(self) -> None:
        segments = self._segments
        try:
            close_quietly(segments.chunks)
            if segments.follow_up is not None:
                close_quietly(segments.follow_up)
        finally:
            if self._user_close is not None:
                self._user_close()


def _events(segments: _Segments[Iterator[bytes]], protocol: Any, max_event_size: int) -> Iterator[Any]:
    while True:
        decoder = sse.Decoder(max_event_size)
        for chunk in segments.chunks:
            if not isinstance(chunk, (bytes, bytearray)):
                raise _not_bytes(chunk)
            for raw in decoder.feed(chunk):
                try:
                    event = protocol.accept(raw)
                except _SHAPE_FAULTS as exc:
                    raise _decode_error(protocol, raw, exc) from exc
                if protocol.done:
                    if protocol.continues() and segments.follow_up is not None:
                        break
                    if event is not None:
                        yield event
                    return
                if event is not None:
                    yield event
                failure = protocol.error
                if failure is not None:
                    raise failure
            else:
                continue
            break
        else:
            decoder.close()
            error = protocol.eof_error(decoder.truncated)
            if _resumed(segments.chunks, decoder, error):  # resume hook: a new segment after a cut
                continue
            raise error
        close_quietly(segments.chunks)  # the segment ended; its follow-up takes over
        assert segments.follow_up is not None
        segments.chunks, segments.follow_up = segments.follow_up, None


class AsyncTypedStream(AsyncScanner[T], Generic[T, P]):
    """The async twin of :class:`TypedStream`, with ``text_deltas()``."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        protocol: P,
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._segments: _Segments[AsyncIterator[bytes]] = _Segments(_aiterate(chunks, type(self).__name__))
        self._protocol = protocol
        self._max_event_size = max_event_size
        self._user_close = on_close
        sse.Decoder(max_event_size)
        super().__init__(_aevents(self._segments, protocol, max_event_size), on_close=self._release_sources)

    @property
    def _follow_up(self) -> AsyncIterator[bytes] | None:
        return self._segments.follow_up

    @_follow_up.setter
    def _follow_up(self, chunks: AsyncIterator[bytes] | None) -> None:
        self._segments.follow_up = chunks

    def text_delta(self) -> tuple[str, bool]:
        """The text the current event adds, Go style: ``(text, True)``, or ``("", False)``."""
        raise NotImplementedError

    async def text_deltas(self) -> AsyncIterator[str]:
        """Yield the text pieces as they arrive; raises the stream's error at the end."""
        while await self.next():
            text, ok = self.text_delta()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    async def _release_sources(self) -> None:
        segments = self._segments
        try:
            await aclose_quietly(segments.chunks)
            if segments.follow_up is not None:
                await aclose_quietly(segments.follow_up)
        finally:
            if self._user_close is not None:
                result = self._user_close()
                if isinstance(result, Awaitable):
                    await result


async def _aevents(
    segments: _Segments[AsyncIterator[bytes]], protocol: Any, max_event_size: int
) -> AsyncIterator[Any]:
    while True:
        decoder = sse.Decoder(max_event_size)
        switched = False
        async for chunk in segments.chunks:
            if not isinstance(chunk, (bytes, bytearray)):
                raise _not_bytes(chunk)
            for raw in decoder.feed(chunk):
                try:
                    event = protocol.accept(raw)
                except _SHAPE_FAULTS as exc:
                    raise _decode_error(protocol, raw, exc) from exc
                if protocol.done:
                    if protocol.continues() and segments.follow_up is not None:
                        switched = True
                        break
                    if event is not None:
                        yield event
                    return
                if event is not None:
                    yield event
                failure = protocol.error
                if failure is not None:
                    raise failure
            if switched:
                break
        if not switched:
            decoder.close()
            error = protocol.eof_error(decoder.truncated)
            if await _aresumed(segments.chunks, decoder, error):  # resume hook: a new segment after a cut
                continue
            raise error
        await aclose_quietly(segments.chunks)
        assert segments.follow_up is not None
        segments.chunks, segments.follow_up = segments.follow_up, None
