"""The pure part of the HTTP client, shared by ``Client`` and ``AsyncClient``: configuration,
retry decisions and backoff, ``Retry-After``, error classification, headers, the API key."""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from attrs import define, field

from .._env import read_dotenv as read_dotenv  # re-exported: the client tests read it here
from .._env import resolve_api_key
from .._version import __version__
from ..errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnexpectedResponse,
    UnprocessableEntityError,
)

__all__ = ["DEFAULT_BASE_URL", "RetryPolicy", "Timeouts", "error_for_status", "resolve_api_key"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


@define(frozen=True, slots=True)
class Timeouts:
    """Deadlines in seconds (None: no limit).

    ``connect``: to open the connection; ``idle``: the longest gap between two reads of the body
    (the "operation timeout"); ``total``: for the whole stream, from the request to the last byte;
    ``pool``: to wait for a free connection when all ``max_connections`` are in use.
    """

    connect: float | None = 10.0
    idle: float | None = 60.0
    total: float | None = None
    write: float | None = 30.0
    pool: float | None = 10.0


@define(frozen=True, slots=True)
class RetryPolicy:
    """Retries before the first byte of a stream: exponential backoff with full jitter.

    Attempt ``n`` (from 0) waits a random time in ``[0, min(max_backoff, initial * 2**n)]``, or what
    the server asked for in ``Retry-After`` / ``retry-after-ms`` when that is at most
    ``max_retry_after`` (a longer wait is not retried: the error reaches the caller).
    """

    max_attempts: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    rng: random.Random = field(factory=random.Random, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to stop retrying."""
        if attempt + 1 >= self.max_attempts:
            return None
        asked = retry_after(headers) if headers is not None else None
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        return full_jitter(attempt, self.initial_backoff, self.max_backoff, self.rng)


def full_jitter(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: a random wait in ``[0, min(maximum, initial * 2**attempt)]``."""
    return rng.uniform(0.0, min(maximum, initial * 2 ** min(attempt, 62)))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, or ``Retry-After`` in seconds or as a date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(status: int, body: bytes, headers: Mapping[str, str], url: str) -> APIStatusError:
    """The typed error for a non-2xx response, with the API's message and code when it sent one."""
    message, code, kind, param = _error_fields(body)
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    if message is None:
        text = body.decode("utf-8", "replace").strip()
        message = text[:300] if text else "no error message"
    return cls(
        status,
        message,
        code=code,
        type=kind,
        param=param,
        request_id=headers.get("x-request-id"),
        url=url,
    )


def error_for_content(status: int, body: bytes, headers: Mapping[str, str], url: str) -> Exception:
    """A 2xx that is not an event stream: the API's error object if it is one, else what came."""
    content_type = headers.get("content-type", "")
    message, code, kind, param = _error_fields(body)
    if message is not None:
        return APIStatusError(
            status,
            message,
            code=code,
            type=kind,
            param=param,
            request_id=headers.get("x-request-id"),
            url=url,
        )
    return UnexpectedResponse(status, content_type, body.decode("utf-8", "replace"), url)


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None, None, None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None, None, None

    def text(name: str) -> str | None:
        value = error.get(name)
        return None if value is None else str(value)

    return text("message"), text("code"), text("type"), text("param")


def is_event_stream(headers: Mapping[str, str]) -> bool:
    """True if the content type is ``text/event-stream``."""
    return headers.get("content-type", "").split(";")[0].strip().lower() == "text/event-stream"


def request_headers(
    api_key: str | None, organization: str | None, project: str | None, beta: bool
) -> dict[str, str]:
    """The headers every request carries."""
    headers = {
        "accept": "text/event-stream",
        "user-agent": f"streamer/{__version__} (Python {platform.python_version()})",
    }
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    if organization:
        headers["openai-organization"] = organization
    if project:
        headers["openai-project"] = project
    if beta:
        headers["openai-beta"] = "assistants=v2"
    return headers


def join_url(base_url: str, path: str) -> str:
    """``base_url`` + ``path`` with exactly one slash between them."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def thread_and_run_body(
    assistant_id: str, thread: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body of ``POST /threads/runs``."""
    body: dict[str, Any] = {"assistant_id": assistant_id, **params, "stream": True}
    if thread is not None:
        body["thread"] = dict(thread)
    return body
