"""Every error the package raises: ``StreamError`` and its family."""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "EventTooLarge",
    "NoCurrentEvent",
    "StreamAPIError",
    "StreamError",
    "StreamReadError",
    "ToolOutputsNotExpected",
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


class DecodeError(StreamError):
    """An event's data is not valid JSON, or not the shape its event name promises."""

    def __init__(self, event: str, index: int, data: str, reason: str) -> None:
        self.event = event
        self.index = index
        self.data_head = data[:120]
        self.reason = reason
        super().__init__(
            f"cannot decode event #{index} ({event!r}): {reason}; data starts with {self.data_head!r}"
        )


class StreamAPIError(StreamError):
    """The server sent an ``error`` event: the stream ended with the API's error code and message."""

    def __init__(self, code: str | None, message: str | None, *, index: int | None = None) -> None:
        self.code = code
        self.message = message
        self.index = index
        where = f" (event #{index})" if index is not None else ""
        detail = f"{code or 'no code'}: {message or 'no message'}"
        super().__init__(f"the API sent an error event{where}: {detail}")


class ToolOutputsNotExpected(StreamError):
    """``submit_tool_outputs`` was called when the run was not waiting for tool outputs."""


class StreamReadError(StreamError, OSError):
    """Raised by a text reader's ``read`` when its stream failed; ``__cause__`` is the stream's error."""
