"""Every error the package raises: ``StreamError`` and its family."""

from __future__ import annotations

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionLost",
    "DecodeError",
    "EventTooLarge",
    "InternalServerError",
    "MissingAPIKey",
    "NoCurrentEvent",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamAPIError",
    "StreamError",
    "StreamReadError",
    "StreamTimeout",
    "ToolOutputsNotExpected",
    "UnexpectedEOF",
    "UnexpectedResponse",
    "UnprocessableEntityError",
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


class StreamTimeout(StreamError, TimeoutError):
    """A deadline passed: ``kind`` is ``"connect"``, ``"idle"`` (no byte for too long) or ``"total"``."""

    def __init__(self, kind: str, seconds: float, url: str) -> None:
        self.kind = kind
        self.seconds = seconds
        self.url = url
        what = {
            "connect": "could not connect within",
            "idle": "received no data for",
            "total": "did not finish within its total deadline of",
        }[kind]
        super().__init__(f"{kind} timeout: {url} {what} {seconds:g} s")


class ConnectionLost(StreamError):
    """The connection failed or was cut before the stream's end (``url`` says where)."""

    def __init__(self, message: str, url: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class UnexpectedResponse(StreamError):
    """A 2xx response that is not an event stream; ``content_type`` and ``body`` show what came."""

    def __init__(self, status: int, content_type: str, body: str, url: str) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.url = url
        super().__init__(
            f"{url} answered {status} with {content_type or 'no content type'} instead of "
            f"text/event-stream; it starts with {body[:300]!r}"
        )


class APIStatusError(StreamError):
    """The API answered with an error status, or with an error object instead of a stream."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        url: str = "",
    ) -> None:
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.url = url
        details = ", ".join(
            f"{name} {value}" for name, value in (("code", code), ("request id", request_id)) if value
        )
        super().__init__(f"{status} from {url}: {message}" + (f" ({details})" if details else ""))


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""


class NotFoundError(APIStatusError):
    """404: no such thread, run, assistant or endpoint."""


class ConflictError(APIStatusError):
    """409: the resource is in a state that does not allow this (for example a run already active)."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but cannot be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests or tokens; retried with backoff before it reaches you."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; retried with backoff before it reaches you."""


class MissingAPIKey(StreamError):
    """No API key was given, and none is in ``OPENAI_API_KEY`` or ``.env``."""


class OperatorRejected(StreamError):
    """Operator source broke a sandbox rule or failed verification (``rule``, ``line``, ``col``: where)."""

    def __init__(self, rule: str, message: str, line: int = 0, col: int = 0) -> None:
        self.rule = rule
        self.line = line
        self.col = col
        self.reason = message[:500]
        where = f" at line {line}, column {col}" if line else ""
        super().__init__(f"operator rejected ({rule}){where}: {self.reason}")


class OperatorFailed(StreamError):
    """A sandboxed operator failed at run time (exception, bad output, or a CPU, memory or time budget).

    ``index`` is the position in the batch of the update that failed (``None`` if the whole batch failed).
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        self.index = index
        self.reason = message[:500]
        where = f" on update #{index} of the batch" if index is not None else ""
        super().__init__(f"operator failed{where}: {self.reason}")


class GenerationFailed(StreamError):
    """The model did not produce a usable operator or answer within the allowed attempts."""


class ModelNotConfigured(StreamError):
    """No model endpoint is configured: set OPENAI_API_KEY, or pass --base-url for a local server."""


__all__ += ["GenerationFailed", "ModelNotConfigured", "OperatorFailed", "OperatorRejected"]


class LinkFailed(StreamError):
    """A SwimOS downlink could not be opened: unreachable host, unknown node or lane, refused link."""


class SyncTimeout(LinkFailed):
    """A SwimOS downlink did not sync within its timeout."""


class Disconnected(StreamError):
    """The connection behind a SwimOS downlink was lost (and not restored)."""


class BufferOverflow(StreamError):
    """A consumer fell so far behind a map or event lane that its bounded buffer stayed full."""


class WarpProtocolError(StreamError):
    """A WARP peer sent a message that is not valid Recon or not a WARP envelope."""


__all__ += ["BufferOverflow", "Disconnected", "LinkFailed", "SyncTimeout", "WarpProtocolError"]
