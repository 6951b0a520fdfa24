"""Every error the package raises: ``StreamError`` and its family."""

from __future__ import annotations

__all__ = [
    "EventTooLarge",
    "NoCurrentEvent",
    "StreamError",
    "UnexpectedEOF",
]


class StreamError(Exception):
    """Base class of every error raised by streamer."""


class EventTooLarge(StreamError):
    """A line or an event exceeded the decoder's ``max_event_size``."""

    def __init__(self, limit: int, offset: int, what: str = "event") -> None:
        self.limit = limit
        self.offset = offset
        self.what = what
        super().__init__(
            f"SSE {what} starting at byte {offset} exceeds max_event_size={limit} bytes; "
            "raise max_event_size if such events are expected"
        )


class UnexpectedEOF(StreamError):
    """The byte stream ended before the protocol said it was complete."""


class NoCurrentEvent(StreamError):
    """``Scanner.event()`` was called when ``next()`` had not returned True."""
