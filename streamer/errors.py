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
    """An SSE event (blank line to blank line) exceeded the decoder's ``max_event_size``.

    ``offset`` is where the event starts in the stream, counting each line end as one byte.
    """

    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset
        super().__init__(
            f"SSE event starting at byte {offset} exceeds max_event_size={limit} bytes; "
            "raise max_event_size if such events are expected"
        )


class UnexpectedEOF(StreamError):
    """The byte stream ended before the protocol said it was complete."""


class NoCurrentEvent(StreamError):
    """``Scanner.event()`` was called when ``next()`` had not returned True."""
