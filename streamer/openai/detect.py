"""Tell the three OpenAI stream kinds apart by their first event, and open the right scanner."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator

from .. import sse
from .chat import ChatStream
from .responses import ResponseStream
from .stream import RunStream

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


def open_stream(chunks: Iterable[bytes]) -> AnyStream:
    """Read until the first event, then return the scanner for that kind of stream.

    The bytes read to decide are handed to the scanner too; nothing is lost. An empty or
    event-less input gives a RunStream, which reports it as ``UnexpectedEOF``.
    """
    source = iter(chunks)
    seen: list[bytes] = []
    decoder = sse.Decoder()
    kind = "assistants"
    for chunk in source:
        seen.append(chunk)
        events = decoder.feed(chunk)
        if events:
            kind = kind_of(events[0])
            break
    replay: Iterator[bytes] = itertools.chain(seen, source)
    close = getattr(source, "close", None)
    if kind == "chat":
        return ChatStream(replay, on_close=close)
    if kind == "responses":
        return ResponseStream(replay, on_close=close)
    return RunStream(replay, on_close=close)
