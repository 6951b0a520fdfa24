"""Tell the three OpenAI stream kinds apart by their first event, and open the right scanner."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator

from .. import sse
from ..errors import StreamError
from ._core import iterate_chunks
from ._deltas import close_quietly
from .assistants import RunStream
from .chat import ChatStream
from .responses import ResponseStream

__all__ = ["kind_of", "open_stream"]

AnyStream = RunStream | ChatStream | ResponseStream


def kind_of(event: sse.Event) -> str:
    """``"assistants"``, ``"chat"`` or ``"responses"`` for a stream's first event."""
    name = event.event
    if name.startswith("thread.") or name == "done":
        return "assistants"
    if name.startswith("response."):
        return "responses"
    if name == "message":
        try:
            payload = json.loads(event.data)
        except ValueError:
            return "chat"
        if isinstance(payload, dict) and str(payload.get("type", "")).startswith("response."):
            return "responses"
        return "chat"
    return "assistants"


def _sniff(head: bytes) -> str:
    """The kind of a stream whose first event cannot be decoded (too large), from its first line."""
    line = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
    if line.startswith(b"event:"):
        return kind_of(sse.Event(line[6:].strip().decode("utf-8", "replace"), ""))
    if line.startswith(b"data:"):
        return "responses" if b'"type":"response.' in line.replace(b" ", b"") else "chat"
    return "assistants"


def open_stream(
    chunks: Iterable[bytes], *, max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE, snapshots: bool = True
) -> AnyStream:
    """Read until the first event, then return the scanner for that kind of stream.

    The bytes read to decide are handed to the scanner too; nothing is lost. An empty or
    event-less input gives a RunStream, which reports it as ``UnexpectedEOF``; so does a first
    event the decoder rejects (too large, for one), which the scanner then reports in ``err()``.
    """
    source = iterate_chunks(chunks, "open_stream")
    seen: list[bytes] = []
    decoder = sse.Decoder(max_event_size)
    kind = "assistants"
    for chunk in source:
        seen.append(chunk)
        if not isinstance(chunk, (bytes, bytearray)):
            break  # the scanner meets the same chunk and reports it in err()
        try:
            events = decoder.feed(chunk)
        except StreamError:
            kind = _sniff(b"".join(seen))  # the scanner meets the same fault and reports it in err()
            break
        if events:
            kind = kind_of(events[0])
            break
    replay: Iterator[bytes] = itertools.chain(seen, source)

    def close() -> None:
        close_quietly(source)

    if kind == "chat":
        return ChatStream(replay, on_close=close, max_event_size=max_event_size, snapshots=snapshots)
    if kind == "responses":
        return ResponseStream(replay, on_close=close, max_event_size=max_event_size, snapshots=snapshots)
    return RunStream(replay, on_close=close, max_event_size=max_event_size, snapshots=snapshots)
