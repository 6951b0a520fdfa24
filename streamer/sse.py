"""Sans-IO Server-Sent Events: a bounded, chunking-invariant decoder and its inverse encoder.

The decoder implements the WHATWG HTML standard, "Interpreting an event stream": bytes go in
with :meth:`Decoder.feed`, :class:`Event` objects come out. Nothing here does I/O or parses JSON
(``Event.json()`` is a convenience that calls :func:`json.loads` on demand).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any, NoReturn, cast

from attrs import define, field

from .errors import EventTooLarge, UnexpectedEOF

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "MAX_RETRY",
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

#: The largest reconnection time the decoder reports: a ``retry:`` value above it (any number of
#: digits) is clamped to it, so that no input can make the decoder convert a huge decimal number.
MAX_RETRY = 2**63 - 1

_BOM = b"\xef\xbb\xbf"
_SPLIT_ANY_NEWLINE = re.compile(r"\r\n|\r|\n")
_DATA_SEP = b"\ndata: "
_LARGE = 1 << 16  # an event this large is decoded in pieces of this size (see _dispatch_large)
_decode = bytes.decode


class Event:
    """One dispatched server-sent event. Read-only by contract: its fields are plain slots, not
    guarded (a guard would double the cost of building one), and nothing in the package changes them.
    """

    __slots__ = ("data", "event", "id", "retry")
    __match_args__ = ("event", "data", "id", "retry")

    event: str
    data: str
    id: str | None
    retry: int | None

    def __init__(
        self, event: str = "message", data: str = "", id: str | None = None, retry: int | None = None
    ):
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (
            other.event,
            other.data,
            other.id,
            other.retry,
        )

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((Event, self.event, self.data, self.id, self.retry))

    def __repr__(self) -> str:
        return f"Event(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"

    def __reduce__(self) -> tuple[type[Event], tuple[str, str, str | None, int | None]]:
        return (Event, (self.event, self.data, self.id, self.retry))

    def json(self) -> Any:
        """Decode ``data`` as JSON (raises :class:`json.JSONDecodeError` if it is not)."""
        return json.loads(self.data)


def _retry_value(digits: bytes | bytearray) -> int:
    """The reconnection time of an all-ASCII-digits ``retry:`` value, clamped to :data:`MAX_RETRY`."""
    digits = digits.lstrip(b"0")
    if len(digits) > 19:  # more digits than MAX_RETRY has: never converted (int() limits that anyway)
        return MAX_RETRY
    return min(int(digits or b"0"), MAX_RETRY)


@define(slots=True)
class Decoder:
    """Incremental SSE decoder: ``feed(bytes) -> [Event]``, then ``close()`` at end of input.

    The output does not depend on how the input is split into chunks. Memory is bounded by
    ``max_event_size``: an event (everything from one blank line to the next, comments included,
    with each line end counted as one byte) larger than that raises
    :class:`~streamer.errors.EventTooLarge`, and the decoder stays failed afterwards. A ``retry:``
    value above :data:`MAX_RETRY` is clamped to it.
    """

    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    # The incomplete event since the last blank line, with every line end normalised to LF.
    _pending: bytearray = field(init=False, repr=False, factory=bytearray)
    # Offset of _pending[0] in the stream (line ends counted as one byte, the BOM as three).
    _pending_offset: int = field(init=False, repr=False, default=0)
    _fed: int = field(init=False, repr=False, default=0)
    # The first bytes of the stream while they could still be a split byte order mark.
    _head: bytes | None = field(init=False, repr=False, default=b"")
    # The previous chunk ended in CR: a leading LF of the next chunk completes that CRLF.
    _after_cr: bool = field(init=False, repr=False, default=False)
    # True while feed() must look at _head, _after_cr, _failed or _closed (one check per chunk).
    _special: bool = field(init=False, repr=False, default=True)
    _id_buffer: str | None = field(init=False, repr=False, default=None)
    # Event types by their bytes: servers repeat a handful of names.
    _kinds: dict[bytes, str] = field(init=False, repr=False, factory=dict)
    _last_event_id: str | None = field(init=False, repr=False, default=None)
    _retry: int | None = field(init=False, repr=False, default=None)
    _failed: EventTooLarge | None = field(init=False, repr=False, default=None)
    _closed: bool = field(init=False, repr=False, default=False)
    # A large event's block while _dispatch_large decodes it (no other reference may hold it).
    _large: bytearray = field(init=False, repr=False, factory=bytearray)
    _truncated: bool = field(init=False, repr=False, default=False)

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
        return self._fed

    def _prepare(self, chunk: bytes) -> bytes:
        """The chunk without a leading byte order mark or the LF of a CRLF split after its CR."""
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise ValueError("Decoder.feed() called after close()")
        self._fed += len(chunk)
        if self._head is not None:
            head = self._head + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return b""
            self._head = None
            chunk = head
            if head.startswith(_BOM):
                chunk = head[len(_BOM) :]
                self._pending_offset = len(_BOM)
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 10:
                chunk = chunk[1:]
        self._special = self._after_cr
        return chunk

    def feed(self, chunk: bytes) -> list[Event]:
        """Decode one more chunk of the stream and return the events it completed."""
        if self._special:
            chunk = self._prepare(chunk)
        else:
            self._fed += len(chunk)
        if 13 in chunk:  # an int: `b"\r" in chunk` first raises and clears a TypeError inside CPython
            if chunk[-1] == 13:
                self._after_cr = self._special = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending = self._pending
        if 10 not in chunk:  # memchr: most chunks of a large event hold no line end at all
            pending += chunk
            if len(pending) > self.max_event_size:
                self._check_size(pending, self._pending_offset, complete=False)
            return []
        cut = chunk.rfind(b"\n\n")
        complete: bytes | bytearray
        # pending never holds a blank line, so only the new bytes (and the seam) can add one.
        seam = chunk[0] == 10 and len(pending) > 0 and pending[-1] == 10
        if cut >= 0:
            if pending:
                single = not seam and chunk.find(b"\n\n", 0, cut) < 0
                pending += memoryview(chunk)[:cut]
                complete = pending  # taken over without a copy; a new buffer starts below
                pending = self._pending = bytearray()
                if len(complete) < 65536:
                    complete = bytes(complete)  # small: bytes slice and hash faster
            else:
                single = False
                complete = chunk[:cut]
            rest = cut + 2  # where the next event starts: sliced off after the dispatch (see below)
        elif seam:
            # The blank line's LF starts this chunk; the line it ends was in the last one.
            del pending[-1]
            complete = pending
            pending = self._pending = bytearray()
            single = True
            rest = 1
        else:
            pending += chunk
            if len(pending) > self.max_event_size:
                self._check_size(pending, self._pending_offset, complete=False)
            return []
        events: list[Event] = []
        size = len(complete)
        try:
            if single and _LARGE <= size < self.max_event_size and self._large_shape(complete):
                self._large = complete if type(complete) is bytearray else bytearray(complete)
                del complete  # handed over: _dispatch_large shrinks it as it decodes
                events.append(self._dispatch_large())
            elif single or size >= self.max_event_size or not self._simple(complete, events):
                self._blocks((complete,) if single else complete.split(b"\n\n"), events)
            self._pending_offset += size + 2
            # Sliced only now: a large event's text is joined above while nothing else is held.
            pending += chunk[rest:]
            if len(pending) > self.max_event_size:
                self._check_size(pending, self._pending_offset, complete=False)
        except EventTooLarge:
            if not events:
                raise
            # Hand out the events completed before the oversized one; the next call raises.
        return events

    @staticmethod
    def _large_shape(block: bytes | bytearray) -> bool:
        """True if ``block`` is an optional ``event: X`` line then one ``data: Y`` line."""
        start = block.find(b"\n") + 1 if block[:7] == b"event: " else 0
        return block.startswith(b"data: ", start) and block.find(b"\n", start) < 0

    def _dispatch_large(self) -> Event:
        """The event of the large block in ``_large``, decoded from its end in pieces, each cut off
        the buffer once decoded, so that the bytes and the text together stay about one copy large
        until the final join.

        Cuts fall before a byte that starts a UTF-8 sequence (or is ASCII), where decoding with
        replacement restarts anyway, so the pieces decode exactly as the whole would.
        """
        block = self._large
        self._large = bytearray()
        name = "message"
        start = 0
        if block[:7] == b"event: ":
            start = block.find(b"\n") + 1
            name = self._kind(bytes(block[7 : start - 1])) or "message"
        start += 6  # after `data: `
        pieces: list[str] = []
        while len(block) - start > _LARGE:
            cut = len(block) - _LARGE
            while cut > len(block) - _LARGE - 4 and 0x80 <= block[cut] < 0xC0:
                cut -= 1  # a continuation byte: step back to the start of its character
            if 0x80 <= block[cut] < 0xC0:
                break  # not UTF-8 here: decode the rest at once
            pieces.append(block[cut:].decode("utf-8", "replace"))
            del block[cut:]  # shrinks in place
        pieces.append(block[start:].decode("utf-8", "replace"))
        del block
        pieces.reverse()
        return Event(name, "".join(pieces), self._id_buffer, self._retry)

    def _simple(self, complete: bytes | bytearray, events: list[Event]) -> bool:
        """Decode ``complete`` (blocks joined by blank lines) with C-level calls only, if every block
        has the shape real servers send: ``event: X`` then ``data: Y``, or ``data: Y`` alone.
        Return False (having added nothing) to take the block-by-block walk instead.

        Each data value is decoded on its own, so one wide character widens only its own event.
        """
        if type(complete) is not bytes:
            complete = bytes(complete)  # a large buffer: its pieces must be hashable
        values: Sequence[bytes]
        names: Iterable[str]
        if complete[:7] == b"event: ":
            # "X\ndata: Y" for each block (the first one still starts with "event: ").
            pieces = complete.split(b"\n\nevent: ")
            count = len(pieces)
            pieces[0] = pieces[0][7:]
            kinds, seps, values = zip(*map(bytes.partition, pieces, repeat(_DATA_SEP)))
            # Every piece holds a `\ndata: `, no Y holds a line end (the cache below only knows
            # values X without one): so each block is exactly these two lines.
            if seps.count(_DATA_SEP) != count or 10 in b"".join(values):
                return False
            first = self._kinds.get(kinds[0]) or self._kind(kinds[0])
            if first is not None and kinds.count(kinds[0]) == count:  # one type: no hashing
                names = repeat(first, count)
            else:
                found = list(map(self._kinds.get, kinds))
                if not all(found):  # names are never empty: a miss is None
                    found = list(map(self._kind, kinds))
                    if not all(found):
                        return False
                names = cast("list[str]", found)
        elif complete[:6] == b"data: ":
            lines = complete.split(b"\n\ndata: ")
            count = len(lines)
            if 10 in b"".join(lines):  # one line each: so every block is one data line
                return False
            lines[0] = lines[0][6:]
            values = lines
            names = repeat("message", count)
        else:
            return False
        try:
            datas = list(map(_decode, values))  # strict UTF-8 takes no arguments to parse
        except UnicodeDecodeError:
            datas = list(map(_decode, values, repeat("utf-8"), repeat("replace")))
        if self._id_buffer is None and self._retry is None:
            events += map(Event, names, datas)
        else:
            events += map(Event, names, datas, repeat(self._id_buffer, count), repeat(self._retry, count))
        return True

    def _kind(self, value: bytes) -> str | None:
        """The event type named by an ``event:`` value (None if it holds a line end), cached."""
        name = self._kinds.get(value)
        if name is None and 10 not in value:
            name = value.decode("utf-8", "replace") or "message"
            if len(self._kinds) < 256:
                self._kinds[value] = name
        return name

    def _blocks(self, blocks: Iterable[bytes | bytearray], events: list[Event]) -> None:
        """Dispatch the event of each block: the lines between two blank lines."""
        limit = self.max_event_size
        append = events.append
        offset = self._pending_offset
        kinds = self._kinds
        for block in blocks:
            # Each block is followed by its last line's LF and a blank line: count that LF.
            if len(block) >= limit:
                self._check_size(block, offset, complete=True)
            offset += len(block) + 2
            # Fast path for the shape real servers send, an optional `event: X` line then only
            # `data: Y` lines; anything else (ids, comments, other spacing) takes the full walk.
            start = 0
            name = "message"
            if block[:7] == b"event: ":
                start = block.find(b"\n") + 1
                if start:
                    kind = block[7 : start - 1]
                    # One line holds no line end, so _kind always names it.
                    name = (
                        (kinds.get(kind) if type(kind) is bytes else None)
                        or self._kind(bytes(kind))
                        or "message"
                    )
            if start >= 0 and block.startswith(b"data: ", start):
                lines = 0 if block.find(b"\n", start) < 0 else block.count(b"\n", start)  # memchr first
                if not lines or block.count(b"\ndata: ", start) == lines:
                    payload = block[start + 6 :] if len(block) < 65536 else memoryview(block)[start + 6 :]
                    if lines:
                        payload = bytes(payload).replace(b"\ndata: ", b"\n")
                    append(Event(name, str(payload, "utf-8", "replace"), self._id_buffer, self._retry))
                    continue
            self._walk(block.split(b"\n"), events)

    def _walk(self, lines: Iterable[bytes | bytearray], events: list[Event] | None) -> None:
        """Interpret complete lines as the standard says, then dispatch (unless events is None)."""
        data: list[bytes | bytearray] = []
        kind: bytes | bytearray = b""
        for line in lines:
            if not line:
                if events is not None:
                    self._dispatch(kind, data, events)
                data = []
                kind = b""
                continue
            if line[0] == 58:  # b":" starts a comment
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                kind = value
            elif name == b"id":
                if b"\x00" not in value:
                    self._id_buffer = value.decode("utf-8", "replace")
            elif name == b"retry":
                if value.isdigit():
                    self._retry = _retry_value(value)
        if events is not None:
            self._dispatch(kind, data, events)  # the blank line that closes the block

    def _dispatch(self, kind: bytes | bytearray, data: list[bytes | bytearray], events: list[Event]) -> None:
        """Apply the standard's dispatch steps at a blank line."""
        self._last_event_id = self._id_buffer
        if data:
            events.append(
                Event(
                    kind.decode("utf-8", "replace") if kind else "message",
                    (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace"),
                    self._last_event_id,
                    self._retry,
                )
            )

    def _check_size(self, event: bytes | bytearray, offset: int, *, complete: bool) -> None:
        """Fail if ``event`` is over the limit. Empty lines around it are blank lines of their own
        (where a run of them is cut depends on the chunking), so they do not count; a complete
        block's last line end does.
        """
        content = event.lstrip(b"\n")
        lead = len(event) - len(content)
        size = len(content.rstrip(b"\n")) + 1 if complete else len(content)
        if size > self.max_event_size:
            self._fail(offset + lead)

    def _fail(self, offset: int) -> NoReturn:
        self._pending.clear()
        self._special = True
        self._failed = EventTooLarge(self.max_event_size, offset)
        raise self._failed

    def close(self) -> list[Event]:
        """Signal the end of input; discards an unterminated event, as the standard requires.

        Always returns an empty list (the standard dispatches nothing at end of file); check
        :attr:`truncated` to learn whether something was cut short.
        """
        if self._failed is not None:
            raise self._failed
        if not self._closed:
            self._closed = self._special = True
            lines: list[bytes | bytearray] = [*self._pending.split(b"\n")] if self._pending else []
            if self._head:
                lines = [self._head]  # a lone fragment of a byte order mark is a line of garbage
            self._truncated = any(line and line[0] != 58 for line in lines)
            if lines:
                self._walk(lines[:-1], None)  # complete lines still set the reconnection time
            self._pending.clear()
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
