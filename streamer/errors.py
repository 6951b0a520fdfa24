"""Every error the package raises: ``StreamError`` and its family, and ``UsageError`` for misuse.

The tree (catch a group to catch everything below it)::

    StreamError                      a stream or a call failed; what err() holds
    +-- ProtocolError                the bytes broke a protocol
    |   +-- EventTooLarge            an SSE event passed max_event_size
    |   +-- UnexpectedEOF            the bytes ended before the protocol's end
    |   +-- DecodeError              an event is not JSON, or not the shape its name promises
    |   +-- WarpProtocolError        a WARP frame is not a valid envelope
    |       +-- ReconError           a Recon text is malformed or too deep
    +-- TransportError               the connection failed
    |   +-- ConnectionLost           cut or refused, before the stream's end
    |   +-- StreamTimeout            a connect, pool, idle or total deadline passed
    |   +-- Disconnected             a SwimOS link was lost and not restored
    |   +-- LinkFailed               a SwimOS downlink could not be opened
    |       +-- SyncTimeout          ... or did not sync in time
    +-- APIError                     the API said no
    |   +-- APIStatusError           an error status, or an error object instead of a stream
    |   |   +-- BadRequestError          400
    |   |   +-- AuthenticationError      401
    |   |   +-- PermissionDeniedError    403
    |   |   +-- NotFoundError            404
    |   |   +-- ConflictError            409
    |   |   +-- UnprocessableEntityError 422
    |   |   +-- RateLimitError           429 (retried with backoff first)
    |   |   +-- InternalServerError      5xx (retried with backoff first)
    |   +-- StreamAPIError           an in-band ``error`` event
    |   +-- UnexpectedResponse       a 2xx answer that is not an event stream
    +-- OperatorError                a stream operator failed
    |   +-- OperatorConfigError      unknown operator, missing or invalid parameters
    |   +-- OperatorRejected         generated source broke a sandbox rule or failed verification
    |   +-- OperatorFailed           a sandboxed operator failed at run time
    |   +-- GenerationFailed         the model gave no usable operator
    |   +-- ModelNotConfigured       no model endpoint is configured
    +-- CallbackError                a user callback (map, filter, accumulate) raised; __cause__ is its
                                     error (a StreamError from a callback passes through unwrapped)
    +-- BufferOverflow               a consumer fell too far behind a bounded buffer
    +-- RelayError                   a relay could not serve a stream
    |   +-- RelayCancelled           the relay cancelled an upstream (nobody listened, or too long)
    |   +-- ResumeTooOld             a resume asked for events the store no longer keeps
    +-- StreamReadError (OSError)    a text reader's stream failed; __cause__ is the stream's error
    +-- MissingAPIKey                no API key was configured

    UsageError                       the program used the API wrongly: a bug to fix, raised at the call,
                                     never held by err(); deliberately not a StreamError
    +-- NoCurrentEvent               event() without a successful next()
    +-- ToolOutputsNotExpected       tool outputs sent to a run that is not waiting for them
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BufferOverflow",
    "CallbackError",
    "ConflictError",
    "ConnectionLost",
    "DecodeError",
    "Disconnected",
    "EventTooLarge",
    "GenerationFailed",
    "InternalServerError",
    "LinkFailed",
    "MissingAPIKey",
    "ModelNotConfigured",
    "NoCurrentEvent",
    "NotFoundError",
    "OperatorConfigError",
    "OperatorError",
    "OperatorFailed",
    "OperatorRejected",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ReconError",
    "RelayCancelled",
    "RelayError",
    "ResumeTooOld",
    "StreamAPIError",
    "StreamError",
    "StreamReadError",
    "StreamTimeout",
    "SyncTimeout",
    "ToolOutputsNotExpected",
    "TransportError",
    "UnexpectedEOF",
    "UnexpectedResponse",
    "UnprocessableEntityError",
    "UsageError",
    "WarpProtocolError",
]


class StreamError(Exception):
    """Base class of every stream failure raised by streamer: what a scanner's ``err()`` holds.

    A resuming stream that gave up ends with the error of the cut it tried to recover from, with
    ``resume_attempts`` (the reconnects tried in a row) and ``resume_cause`` (the last one's failure).
    """

    #: Reconnects a resuming stream tried after this error before giving up (0: none).
    resume_attempts: int = 0
    #: The failure of the last of those reconnects (None: none, or it failed the same way).
    resume_cause: BaseException | None = None


class UsageError(Exception):
    """The program called the API wrongly (a bug to fix, not a stream failure); never in ``err()``."""


class ProtocolError(StreamError):
    """The bytes received broke a protocol (SSE, the OpenAI event shapes, WARP, Recon)."""


class TransportError(StreamError):
    """The connection behind a stream failed: refused, cut, too slow, or lost."""


class APIError(StreamError):
    """The API refused or failed the request: an error status, an error event, or no event stream."""


class OperatorError(StreamError):
    """A stream operator (built-in or generated) could not be configured, generated or run."""


class CallbackError(StreamError):
    """A callback the program gave (to ``map``, ``filter``, ...) raised; ``__cause__`` is its exception."""

    def __init__(self, callback: str, index: int | None = None) -> None:
        self.callback = callback
        self.index = index
        where = f" on event #{index}" if index is not None else ""
        super().__init__(f"the {callback} callback raised{where}; see __cause__")


class EventTooLarge(ProtocolError):
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


class UnexpectedEOF(ProtocolError):
    """The byte stream ended before the protocol said it was complete."""


class NoCurrentEvent(UsageError):
    """``Scanner.event()`` was called when ``next()`` had not returned True."""


class DecodeError(ProtocolError):
    """An event's data is not valid JSON, or not the shape its event name promises.

    ``path`` names the field with the wrong shape (``data.delta.content[0].index``), when known.
    """

    def __init__(self, event: str, index: int, data: str, reason: str, *, path: str | None = None) -> None:
        self.event = event
        self.index = index
        self.data_head = data[:120]
        self.reason = reason
        self.path = path
        super().__init__(
            f"cannot decode event #{index} ({event!r}): {reason}; data starts with {self.data_head!r}"
        )


class StreamAPIError(APIError):
    """The server sent an ``error`` event: the stream ended with the API's error code and message."""

    def __init__(self, code: str | None, message: str | None, *, index: int | None = None) -> None:
        self.code = code
        self.message = message
        self.index = index
        where = f" (event #{index})" if index is not None else ""
        detail = f"{code or 'no code'}: {message or 'no message'}"
        super().__init__(f"the API sent an error event{where}: {detail}")


class ToolOutputsNotExpected(UsageError):
    """``submit_tool_outputs`` was called when the run was not waiting for tool outputs."""


class StreamReadError(StreamError, OSError):
    """Raised by a text reader's ``read`` when its stream failed; ``__cause__`` is the stream's error."""


class StreamTimeout(TransportError, TimeoutError):
    """A deadline passed: ``kind`` is ``"connect"``, ``"pool"`` (no free pooled connection), ``"idle"``
    (no byte for too long) or ``"total"``; ``pool_size`` is the pool's ``max_connections`` when known."""

    def __init__(self, kind: str, seconds: float, url: str, *, pool_size: int | None = None) -> None:
        self.kind = kind
        self.seconds = seconds
        self.url = url
        self.pool_size = pool_size
        if kind == "pool":
            size = f"max_connections={pool_size}" if pool_size is not None else "its configured limit"
            super().__init__(
                f"pool timeout: every connection of the client's connection pool ({size}) stayed in use "
                f"for {seconds:g} s, so {url} was not requested; close streams you no longer read, "
                "or raise max_connections"
            )
            return
        what = {
            "connect": "could not connect within",
            "idle": "received no data for",
            "total": "did not finish within its total deadline of",
        }[kind]
        super().__init__(f"{kind} timeout: {url} {what} {seconds:g} s")


class ConnectionLost(TransportError):
    """The connection failed or was cut before the stream's end (``url`` says where)."""

    def __init__(self, message: str, url: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class UnexpectedResponse(APIError):
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


class APIStatusError(APIError):
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


class OperatorRejected(OperatorError):
    """Operator source broke a sandbox rule or failed verification (``rule``, ``line``, ``col``: where)."""

    def __init__(self, rule: str, message: str, line: int = 0, col: int = 0) -> None:
        self.rule = rule
        self.line = line
        self.col = col
        self.reason = message[:500]
        where = f" at line {line}, column {col}" if line else ""
        super().__init__(f"operator rejected ({rule}){where}: {self.reason}")


class OperatorFailed(OperatorError):
    """A sandboxed operator failed at run time (exception, bad output, or a CPU, memory or time budget).

    ``index`` is the position in the batch of the update that failed (``None`` if the whole batch failed).
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        self.index = index
        self.reason = message[:500]
        where = f" on update #{index} of the batch" if index is not None else ""
        super().__init__(f"operator failed{where}: {self.reason}")


class GenerationFailed(OperatorError):
    """The model did not produce a usable operator or answer within the allowed attempts."""


class ModelNotConfigured(OperatorError):
    """No model endpoint is configured: set OPENAI_API_KEY, or pass --base-url for a local server."""


class LinkFailed(TransportError):
    """A SwimOS downlink could not be opened: unreachable host, unknown node or lane, refused link."""


class SyncTimeout(LinkFailed):
    """A SwimOS downlink did not sync within its timeout."""


class Disconnected(TransportError):
    """The connection behind a SwimOS downlink was lost (and not restored).

    ``attempts`` is how many reconnects were tried in a row before giving up (0 without
    ``reconnect``); ``cause`` is the last failure seen (the lost connection or the last refusal).
    """

    def __init__(self, message: str, *, attempts: int = 0, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.cause = cause


class BufferOverflow(StreamError):
    """A consumer fell so far behind a map or event lane that its bounded buffer stayed full."""


class RelayError(StreamError):
    """A relay (``streamer.relay``) could not serve a stream to the end."""


class RelayCancelled(RelayError):
    """The relay cancelled an upstream: nobody listened for ``idle_timeout``, or ``max_duration`` passed."""


class ResumeTooOld(RelayError):
    """A resume (``Last-Event-ID``) asked for events that the store has already trimmed."""


class WarpProtocolError(ProtocolError):
    """A WARP peer sent a message that is not valid Recon or not a WARP envelope."""


class ReconError(WarpProtocolError):
    """Text that is not valid Recon; ``position`` is the offset where reading stopped."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.position = position
        super().__init__(
            f"invalid Recon at offset {position}: {message}; near {text[position : position + 40]!r}"
        )


class OperatorConfigError(OperatorError):
    """An unknown operator name, or missing or invalid parameters."""
