"""Sans-IO Server-Sent Events: a bounded, chunking-invariant decoder and its inverse encoder.

The decoder implements the WHATWG HTML standard, "Interpreting an event stream": bytes go in
with :meth:`Decoder.feed`, :class:`Event` objects come out. Nothing here does I/O or parses JSON
(``Event.json()`` is a convenience that calls :func:`json.loads` on demand).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from attrs import define, field

from .errors import EventTooLarge, UnexpectedEOF

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "Decoder",
    "Event",
    "aiter_events",
    "encode",
    "encode_comment",
    "iter_events",
]

#: 16 MiB: far above the largest real OpenAI stream events (whole runs with long instructions and
#: tool schemas are tens of kilobytes), small enough that a runaway stream fails fast.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"(\r\n|\r|\n)")
_SPLIT_ANY_NEWLINE = re.compile(r"\r\n|\r|\n")


@define(frozen=True, slots=True)
class Event:
    """One dispatched server-sent event."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """Decode ``data`` as JSON (raises :class:`json.JSONDecodeError` if it is not)."""
        return json.loads(self.data)


@define(slots=True)
class Decoder:
    """Incremental SSE decoder: ``feed(bytes) -> [Event]``, then ``close()`` at end of input.

    The output does not depend on how the input is split into chunks. Memory is bounded by
    ``max_event_size``: a line or an event (its non-comment lines up to the blank line that
    dispatches it) larger than that raises :class:`~streamer.errors.EventTooLarge`, and the
    decoder stays failed afterwards.
    """

    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    # Bytes of an unterminated line carried over to the next feed.
    _pending: bytearray = field(init=False, factory=bytearray)
    # Stream offset of the first byte of _pending (or of the next chunk when it is empty).
    _offset: int = field(init=False, default=0)
    _bom_checked: bool = field(init=False, default=False)
    # The previous chunk ended in CR: a leading LF of the next chunk completes that CRLF.
    _after_cr: bool = field(init=False, default=False)
    _data: list[bytes] = field(init=False, factory=list)
    _event_type: bytes = field(init=False, default=b"")
    _id_buffer: str | None = field(init=False, default=None)
    _last_event_id: str | None = field(init=False, default=None)
    _retry: int | None = field(init=False, default=None)
    # Size and start offset of the event being assembled (comment lines do not count).
    _event_bytes: int = field(init=False, default=0)
    _event_start: int = field(init=False, default=0)
    _failed: EventTooLarge | None = field(init=False, default=None)
    _closed: bool = field(init=False, default=False)
    _truncated: bool = field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        if self.max_event_size < 1:
            raise ValueError(f"max_event_size must be a positive number of bytes, got {self.max_event_size}")

    @property
    def last_event_id(self) -> str | None:
        """The last-event-ID as of the most recent dispatch (send it as ``Last-Event-ID``)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The most recent valid reconnection time in milliseconds, or None if none was sent."""
        return self._retry

    @property
    def truncated(self) -> bool:
        """True once ``close()`` discarded an event (or line) that the input cut short."""
        return self._truncated

    @property
    def bytes_fed(self) -> int:
        """Total number of bytes fed so far."""
        return self._offset + len(self._pending)

    def feed(self, chunk: bytes) -> list[Event]:
        """Decode one more chunk of the stream and return the events it completed."""
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise ValueError("Decoder.feed() called after close()")
        if not chunk:
            return []
        pending = self._pending
        if pending or not self._bom_checked:
            # Fast exit while a long line keeps growing: no copy of what is already pending.
            if b"\n" not in chunk and b"\r" not in chunk:
                pending += chunk
                if self._bom_checked or len(pending) >= len(_BOM):
                    self._check_pending()
                return []
            buf = bytes(pending) + chunk
            pending.clear()
        else:
            buf = chunk
        start = 0
        if not self._bom_checked:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                pending += buf
                return []
            self._bom_checked = True
            if buf.startswith(_BOM):
                start = 3
        if self._after_cr:
            self._after_cr = False
            if buf[start : start + 1] == b"\n":
                start += 1
        if start:
            self._offset += start
            buf = buf[start:]
        events: list[Event] = []
        if b"\r" in buf:
            parts = _LINE_END.split(buf)
            rest = parts.pop()
            if not rest and parts and parts[-1] == b"\r":
                self._after_cr = True
            lines = parts[0::2]
            ends = parts[1::2]
            for line, end in zip(lines, ends):
                self._line(line, len(end), events)
        else:
            lines = buf.split(b"\n")
            rest = lines.pop()
            for line in lines:
                self._line(line, 1, events)
        if rest:
            pending += rest
            self._check_pending()
        return events

    def _check_pending(self) -> None:
        """Fail if the unterminated line alone, or with its event, passes the limit."""
        size = len(self._pending)
        if self._pending[:1] == b":":
            over = size > self.max_event_size
            what, start = "line", self._offset
        else:
            over = size + self._event_bytes > self.max_event_size
            what = "event" if self._event_bytes else "line"
            start = self._event_start if self._event_bytes else self._offset
        if over:
            self._pending.clear()
            self._failed = EventTooLarge(self.max_event_size, start, what)
            raise self._failed

    def _line(self, line: bytes, end_len: int, events: list[Event]) -> None:
        """Interpret one complete line (without its terminator)."""
        line_start = self._offset
        self._offset = line_start + len(line) + end_len
        if not line:
            self._dispatch(events)
            return
        if line[0] == 58:  # b":" starts a comment
            return
        if not self._event_bytes:
            self._event_start = line_start
        self._event_bytes += len(line) + end_len
        if self._event_bytes > self.max_event_size:
            self._failed = EventTooLarge(self.max_event_size, self._event_start, "event")
            raise self._failed
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event_type = value
        elif name == b"id":
            if b"\x00" not in value:
                self._id_buffer = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value.isdigit():
                self._retry = int(value)

    def _dispatch(self, events: list[Event]) -> None:
        """Apply the standard's dispatch steps at a blank line."""
        self._event_bytes = 0
        self._last_event_id = self._id_buffer
        data = self._data
        if not data:
            self._event_type = b""
            return
        self._data = []
        event_type = self._event_type
        self._event_type = b""
        events.append(
            Event(
                event_type.decode("utf-8", "replace") if event_type else "message",
                (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace"),
                self._last_event_id,
                self._retry,
            )
        )

    def close(self) -> list[Event]:
        """Signal the end of input; discards an unterminated event, as the standard requires.

        Always returns an empty list (the standard dispatches nothing at end of file); check
        :attr:`truncated` to learn whether something was cut short.
        """
        if self._failed is not None:
            raise self._failed
        if not self._closed:
            self._closed = True
            pending = bytes(self._pending)
            if not self._bom_checked:
                pending = b"" if _BOM.startswith(pending) else pending.removeprefix(_BOM)
            # A cut-off comment line carries no event; anything else that is pending does.
            if self._data or self._event_bytes or (pending and pending[:1] != b":"):
                self._truncated = True
            self._pending.clear()
            self._data = []
            self._event_type = b""
            self._event_bytes = 0
        return []


def _check_line_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"SSE {name} field cannot contain CR or LF: {value[:80]!r}")


def encode(event: Event) -> bytes:
    """Serialise an event so that decoding it yields the same event.

    CR, LF and CRLF in ``data`` become separate ``data:`` lines, which decode back as LF (the
    only line break SSE can carry). Raises :class:`ValueError` for what SSE cannot represent:
    an empty event type, CR or LF in the type or id, NUL in the id, or a negative retry.
    """
    out: list[str] = []
    if event.event != "message":
        if not event.event:
            raise ValueError("SSE event type cannot be empty (it would decode as 'message')")
        _check_line_value("event", event.event)
        out.append(f"event: {event.event}\n")
    if event.id is not None:
        _check_line_value("id", event.id)
        if "\x00" in event.id:
            raise ValueError(f"SSE id cannot contain NUL: {event.id[:80]!r}")
        out.append(f"id: {event.id}\n")
    if event.retry is not None:
        if event.retry < 0:
            raise ValueError(f"SSE retry must be a non-negative integer, got {event.retry}")
        out.append(f"retry: {event.retry}\n")
    data = event.data
    if "\r" in data:
        data = _SPLIT_ANY_NEWLINE.sub("\n", data)
    out.append("data: ")
    out.append(data.replace("\n", "\ndata: "))
    out.append("\n\n")
    return "".join(out).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """Serialise a comment (a keep-alive, for example); each line of ``text`` becomes one."""
    lines = _SPLIT_ANY_NEWLINE.split(text)
    return "".join(f": {line}\n" if line else ":\n" for line in lines).encode("utf-8")


def _eof_error(decoder: Decoder) -> UnexpectedEOF:
    return UnexpectedEOF(
        f"SSE stream ended in the middle of an event after {decoder.bytes_fed} bytes; "
        "the incomplete event was discarded"
    )


def iter_events(
    chunks: Iterable[bytes],
    *,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    allow_truncated: bool = False,
) -> Iterator[Event]:
    """Yield the events of a byte stream given as chunks.

    If the input ends in the middle of an event, raises :class:`~streamer.errors.UnexpectedEOF`
    after the complete events, unless ``allow_truncated`` (the browser behaviour: drop it).
    """
    decoder = Decoder(max_event_size)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()
    if decoder.truncated and not allow_truncated:
        raise _eof_error(decoder)


async def aiter_events(
    chunks: AsyncIterable[bytes],
    *,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    allow_truncated: bool = False,
) -> AsyncIterator[Event]:
    """Async twin of :func:`iter_events`."""
    decoder = Decoder(max_event_size)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    decoder.close()
    if decoder.truncated and not allow_truncated:
        raise _eof_error(decoder)
