"""``Client`` and ``AsyncClient``: OpenAI streaming endpoints over httpx, with a connection pool,
safe retries, timeouts and typed errors. They only fetch bytes; the typed streams do the rest.

Errors before the stream starts (a refused connection, an error status after the retries, a
response that is not an event stream) raise from the call that opens the stream. Once the stream
has started, a fault ends it: ``next()`` returns False and ``err()`` says why (``StreamTimeout``,
``ConnectionLost``, ``UnexpectedEOF``...). Nothing is retried after the response has begun, so no
text is duplicated and no second run is created.

Retries: a request is sent again only when it provably never reached the server (the connect
failed: refused, unreachable, TLS) or when the server answered with a retryable status (or with
``x-should-retry: true``; ``false`` forbids it). A connection accepted and then closed before an
answer is not retried: the server may already have started the run. Every attempt of one call
carries the same ``Idempotency-Key``. httpx faults become ``StreamError`` in one place,
:mod:`._http_errors`; the body and its connection are handled by :mod:`._body`. The logger
``streamer.client`` says at DEBUG what each request, retry and stream end did (no keys, no bodies).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar

import anyio
import httpx
from attrs import define

from .. import sse
from ..errors import StreamError, StreamTimeout, UsageError
from ..scanner import AsyncScanner, Scanner
from ._body import AsyncBody, Deadline, SyncBody, log
from ._http_errors import HTTPX_ERRORS, request_never_sent, translate, undecodable_encoding
from ._policy import (
    DEFAULT_BASE_URL,
    RetryPolicy,
    Timeouts,
    error_for_content,
    error_for_status,
    is_event_stream,
    join_url,
    request_headers,
    resolve_api_key,
    thread_and_run_body,
)
from .assistants import AsyncRunStream, RunStream
from .chat import AsyncChatStream, ChatStream
from .responses import AsyncResponseStream, ResponseStream

__all__ = ["AsyncClient", "Client", "RetryPolicy", "Timeouts", "from_openai_response"]

_ERROR_BODY_LIMIT = 64 * 1024
#: Connections a client's own pool opens at most (``max_connections``); streams beyond it wait.
DEFAULT_MAX_CONNECTIONS = 1000
#: Idle connections kept open for reuse.
DEFAULT_MAX_KEEPALIVE = 100
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Config:
    """What both clients share: key, URLs, headers, policies, the pool size. Never shows the key."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        organization: str | None,
        project: str | None,
        timeouts: Timeouts,
        retry: RetryPolicy,
        max_event_size: int,
        pool_size: int | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key, required=base_url is None)
        self.base_url = base_url or DEFAULT_BASE_URL
        self.organization = organization
        self.project = project
        self.timeouts = timeouts
        self.retry = retry
        self.max_event_size = max_event_size
        self.pool_size = pool_size

    def headers(self, beta: bool, idempotency_key: str | None = None) -> dict[str, str]:
        headers = request_headers(self._api_key, self.organization, self.project, beta)
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        return headers

    def httpx_timeout(self, started: float) -> httpx.Timeout:
        t = self.timeouts
        read, pool = t.idle, t.pool
        if t.total is not None:
            remaining = max(0.001, t.total - (time.monotonic() - started))
            read = remaining if read is None else min(read, remaining)
            pool = remaining if pool is None else min(pool, remaining)
        return httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=pool)

    def check_total(self, started: float, url: str) -> None:
        total = self.timeouts.total
        if total is not None and time.monotonic() - started > total:
            raise StreamTimeout("total", total, url)

    def read_timeout_kind(self, started: float) -> tuple[str, float]:
        total = self.timeouts.total
        if total is not None and time.monotonic() - started >= total - 0.01:
            return "total", total
        return "idle", self.timeouts.idle or 0.0

    def timeout_for(self, started: float, url: str) -> Callable[[httpx.TimeoutException], StreamTimeout]:
        """How to name a timeout of this request: pool, connect, idle or total."""

        def name(exc: httpx.TimeoutException) -> StreamTimeout:
            if isinstance(exc, httpx.PoolTimeout):
                return StreamTimeout("pool", self.timeouts.pool or 0.0, url, pool_size=self.pool_size)
            if isinstance(exc, httpx.ConnectTimeout):
                return StreamTimeout("connect", self.timeouts.connect or 0.0, url)
            kind, seconds = self.read_timeout_kind(started)
            return StreamTimeout(kind, seconds, url)

        return name

    def request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        call: _Call,
        json: Any,
        beta: bool,
    ) -> httpx.Request:
        return http.build_request(
            call.method,
            call.url,
            json=json,
            headers=self.headers(beta, call.idempotency_key),
            timeout=self.httpx_timeout(call.started),
        )

    def transport_failure(self, exc: Exception, call: _Call) -> _Failure:
        """A request that got no response: it is sent again only if it provably never left."""
        error = translate(
            exc, call.url, mid_stream=False, timeout_for=self.timeout_for(call.started, call.url)
        )
        return _Failure(error, request_never_sent(exc), reason=type(exc).__name__)

    def response_failure(self, response: httpx.Response, content: bytes, url: str) -> _Failure:
        """A response that is not an event stream (raises at once for a 2xx of the wrong kind).

        ``x-should-retry: true`` / ``false`` from the server overrides the retryable statuses.
        """
        if response.is_success:
            raise error_for_content(response.status_code, content, response.headers, url)
        error = error_for_status(response.status_code, content, response.headers, url)
        asked = response.headers.get("x-should-retry", "").strip().lower()
        retryable = asked == "true" or (asked != "false" and response.status_code in self.retry.statuses)
        return _Failure(error, retryable, response.headers, reason=f"status {response.status_code}")

    def backoff(self, attempt: int, failure: _Failure, call: _Call) -> float:
        """Seconds to wait before trying again; raises the failure's error when it is not retried."""
        delay = self.retry.delay(attempt, failure.headers) if failure.retryable else None
        if delay is None:
            log.debug(
                "%s %s: not retried after attempt %d (%s)", call.method, call.url, attempt + 1, failure.reason
            )
            raise failure.error
        log.debug(
            "%s %s: retry %d after %s, waiting %.3f s",
            call.method,
            call.url,
            attempt + 1,
            failure.reason,
            delay,
        )
        return delay

    def opened(self, response: httpx.Response, call: _Call, attempt: int) -> None:
        """Log the answer; raise if its body is in an encoding that cannot be decoded here."""
        log.debug(
            "%s %s: %d %s (attempt %d)",
            call.method,
            call.url,
            response.status_code,
            response.headers.get("content-type", "no content type"),
            attempt + 1,
        )
        error = undecodable_encoding(response.headers, call.url)
        if error is not None:
            raise error

    def deadline(self, call: _Call) -> Deadline:
        return Deadline(call.url, call.started, self.timeouts.total, self.timeout_for(call.started, call.url))

    def __repr__(self) -> str:
        return f"base_url={self.base_url!r}"


@define(frozen=True, slots=True)
class _Call:
    """One call to open a stream, across its retries: the same URL, start time and idempotency key."""

    method: str
    url: str
    started: float
    idempotency_key: str | None

    @classmethod
    def start(cls, config: _Config, method: str, path: str) -> _Call:
        key = None if method.upper() in _SAFE_METHODS else f"streamer-retry-{uuid.uuid4()}"
        call = cls(method, join_url(config.base_url, path), time.monotonic(), key)
        return call


@define(frozen=True, slots=True)
class _Failure:
    """Why an attempt to open a stream failed, and whether another attempt may follow."""

    error: StreamError
    retryable: bool
    headers: Mapping[str, str] | None = None
    reason: str = ""


class _ByteSource(Protocol):
    def iter_bytes(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class EventStream(Scanner[sse.Event]):
    """A scanner of raw SSE events from any endpoint (``Client.stream``)."""


class AsyncEventStream(AsyncScanner[sse.Event]):
    """The async twin of :class:`EventStream`."""


class Client:
    """A synchronous client for OpenAI streaming endpoints (or any compatible server).

    ``api_key`` defaults to ``OPENAI_API_KEY`` (from the environment, or a ``.env`` file in the
    working directory); it may be omitted for a custom ``base_url``. ``max_connections`` bounds the
    client's connection pool (default 1000); a stream that finds every connection in use waits up
    to ``Timeouts.pool`` and then fails with ``StreamTimeout(kind="pool")``. A stream closed after
    its end hands its connection back for the next request. Pass ``http_client`` to use your own
    ``httpx.Client`` (its limits, proxies, transport) instead; it is then yours to close.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        max_connections: int | None = None,
    ) -> None:
        self._config = _Config(
            api_key,
            base_url,
            organization,
            project,
            timeouts or Timeouts(),
            retry or RetryPolicy(),
            max_event_size,
            _pool_size(http_client, max_connections),
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(limits=_limits(self._config.pool_size))

    def __repr__(self) -> str:
        return f"Client({self._config!r})"

    def close(self) -> None:
        """Close the connection pool (unless it was supplied by the caller)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_thread_and_run_stream(
        self, assistant_id: str, thread: Mapping[str, Any] | None = None, **params: Any
    ) -> RunStream:
        """``POST /threads/runs`` with ``stream: true``: a new thread and a run on it."""
        return self._run_stream("threads/runs", thread_and_run_body(assistant_id, thread, params))

    def create_run_stream(self, thread_id: str, assistant_id: str, **params: Any) -> RunStream:
        """``POST /threads/{thread_id}/runs`` with ``stream: true``."""
        body = {"assistant_id": assistant_id, **params, "stream": True}
        return self._run_stream(f"threads/{thread_id}/runs", body)

    def submit_tool_outputs_stream(
        self, thread_id: str, run_id: str, tool_outputs: list[dict[str, Any]]
    ) -> RunStream:
        """``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs`` with ``stream: true``."""
        return self._run_stream(*_submit_request(thread_id, run_id, tool_outputs))

    def chat_completions_stream(self, **params: Any) -> ChatStream:
        """``POST /chat/completions`` with ``stream: true`` (``model=``, ``messages=``, ...)."""
        body = self._open("POST", "chat/completions", {**params, "stream": True}, beta=False)
        return _attach(body, ChatStream(body, max_event_size=self._config.max_event_size))

    def responses_stream(self, **params: Any) -> ResponseStream:
        """``POST /responses`` with ``stream: true`` (``model=``, ``input=``, ...)."""
        body = self._open("POST", "responses", {**params, "stream": True}, beta=False)
        return _attach(body, ResponseStream(body, max_event_size=self._config.max_event_size))

    def stream(self, method: str, path: str, json: Any = None, *, beta: bool = False) -> EventStream:
        """Any other SSE endpoint: a scanner of raw :class:`~streamer.sse.Event`.

        It fails with ``UnexpectedEOF`` if the body ends in the middle of an event.
        """
        body = self._open(method, path, json, beta)
        events = sse.iter_events(body, max_event_size=self._config.max_event_size)
        return _attach(body, EventStream(events, on_close=body.close))

    def _run_stream(self, path: str, body: dict[str, Any]) -> RunStream:
        chunks = self._open("POST", path, body, beta=True)
        stream = RunStream(chunks, continuation=self._continue, max_event_size=self._config.max_event_size)
        return _attach(chunks, stream)

    def _continue(self, thread_id: str, run_id: str, outputs: list[dict[str, Any]]) -> Iterator[bytes]:
        path, body = _submit_request(thread_id, run_id, outputs)
        return self._open("POST", path, body, beta=True)

    def _open(self, method: str, path: str, json: Any, beta: bool) -> SyncBody:
        """Send the request, retrying only what is safe (see the module); return the body's chunks."""
        config = self._config
        call = _Call.start(config, method, path)
        attempt = 0
        while True:
            config.check_total(call.started, call.url)
            log.debug("%s %s: attempt %d", call.method, call.url, attempt + 1)
            try:
                response = self._http.send(config.request(self._http, call, json, beta), stream=True)
            except HTTPX_ERRORS as exc:
                failure = config.transport_failure(exc, call)
            else:
                if is_event_stream(response.headers) and response.is_success:
                    try:
                        config.opened(response, call, attempt)
                    except StreamError:
                        response.close()
                        raise
                    return SyncBody(response, config.deadline(call))
                failure = config.response_failure(response, _read_limited(response), call.url)
            time.sleep(config.backoff(attempt, failure, call))
            attempt += 1


class AsyncClient:
    """The async twin of :class:`Client`, over ``httpx.AsyncClient``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        max_connections: int | None = None,
    ) -> None:
        self._config = _Config(
            api_key,
            base_url,
            organization,
            project,
            timeouts or Timeouts(),
            retry or RetryPolicy(),
            max_event_size,
            _pool_size(http_client, max_connections),
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(limits=_limits(self._config.pool_size))

    def __repr__(self) -> str:
        return f"AsyncClient({self._config!r})"

    async def close(self) -> None:
        """Close the connection pool (unless it was supplied by the caller)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def create_thread_and_run_stream(
        self, assistant_id: str, thread: Mapping[str, Any] | None = None, **params: Any
    ) -> AsyncRunStream:
        """``POST /threads/runs`` with ``stream: true``."""
        return await self._run_stream("threads/runs", thread_and_run_body(assistant_id, thread, params))

    async def create_run_stream(self, thread_id: str, assistant_id: str, **params: Any) -> AsyncRunStream:
        """``POST /threads/{thread_id}/runs`` with ``stream: true``."""
        body = {"assistant_id": assistant_id, **params, "stream": True}
        return await self._run_stream(f"threads/{thread_id}/runs", body)

    async def submit_tool_outputs_stream(
        self, thread_id: str, run_id: str, tool_outputs: list[dict[str, Any]]
    ) -> AsyncRunStream:
        """``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs`` with ``stream: true``."""
        return await self._run_stream(*_submit_request(thread_id, run_id, tool_outputs))

    async def chat_completions_stream(self, **params: Any) -> AsyncChatStream:
        """``POST /chat/completions`` with ``stream: true``."""
        body = await self._open("POST", "chat/completions", {**params, "stream": True}, beta=False)
        return _attach(body, AsyncChatStream(body, max_event_size=self._config.max_event_size))

    async def responses_stream(self, **params: Any) -> AsyncResponseStream:
        """``POST /responses`` with ``stream: true``."""
        body = await self._open("POST", "responses", {**params, "stream": True}, beta=False)
        return _attach(body, AsyncResponseStream(body, max_event_size=self._config.max_event_size))

    async def stream(
        self, method: str, path: str, json: Any = None, *, beta: bool = False
    ) -> AsyncEventStream:
        """Any other SSE endpoint: an async scanner of raw :class:`~streamer.sse.Event`."""
        body = await self._open(method, path, json, beta)
        events = sse.aiter_events(body, max_event_size=self._config.max_event_size)
        return _attach(body, AsyncEventStream(events, on_close=body.aclose))

    async def _run_stream(self, path: str, body: dict[str, Any]) -> AsyncRunStream:
        chunks = await self._open("POST", path, body, beta=True)
        stream = AsyncRunStream(
            chunks, continuation=self._continue, max_event_size=self._config.max_event_size
        )
        return _attach(chunks, stream)

    async def _continue(
        self, thread_id: str, run_id: str, outputs: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        path, body = _submit_request(thread_id, run_id, outputs)
        return await self._open("POST", path, body, beta=True)

    async def _open(self, method: str, path: str, json: Any, beta: bool) -> AsyncBody:
        """Send the request, retrying only what is safe (see the module); return the body's chunks."""
        config = self._config
        call = _Call.start(config, method, path)
        attempt = 0
        while True:
            config.check_total(call.started, call.url)
            log.debug("%s %s: attempt %d", call.method, call.url, attempt + 1)
            try:
                response = await self._http.send(config.request(self._http, call, json, beta), stream=True)
            except HTTPX_ERRORS as exc:
                failure = config.transport_failure(exc, call)
            else:
                if is_event_stream(response.headers) and response.is_success:
                    try:
                        config.opened(response, call, attempt)
                    except StreamError:
                        await response.aclose()
                        raise
                    return AsyncBody(response, config.deadline(call), config.timeouts.idle)
                failure = config.response_failure(response, await _aread_limited(response), call.url)
            await anyio.sleep(config.backoff(attempt, failure, call))
            attempt += 1


def _submit_request(thread_id: str, run_id: str, outputs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return f"threads/{thread_id}/runs/{run_id}/submit_tool_outputs", {"tool_outputs": outputs, "stream": True}


def _read_limited(response: httpx.Response) -> bytes:
    content = b""
    try:
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) >= _ERROR_BODY_LIMIT:
                break
    except HTTPX_ERRORS:
        pass  # the status is the error; a body we could not read only loses detail
    finally:
        response.close()
    return content[:_ERROR_BODY_LIMIT]


async def _aread_limited(response: httpx.Response) -> bytes:
    content = b""
    try:
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) >= _ERROR_BODY_LIMIT:
                break
    except HTTPX_ERRORS:
        pass
    finally:
        await response.aclose()
    return content[:_ERROR_BODY_LIMIT]


def from_openai_response(response: _ByteSource) -> RunStream:
    """A RunStream over the raw streaming response of the official ``openai`` SDK.

    For example ``client.beta.threads.runs.with_streaming_response.create(..., stream=True)``:
    anything with ``iter_bytes()`` and ``close()``. Closing the stream closes the response.
    """
    return RunStream.from_chunks(response.iter_bytes(), on_close=response.close)


S = TypeVar("S")


def _attach(body: SyncBody | AsyncBody, stream: S) -> S:
    """The stream, made known to its body: a body drains for reuse only once its stream ended."""
    body.attach(stream)
    return stream


def _pool_size(http_client: object, max_connections: int | None) -> int | None:
    """The pool size a client's own pool gets; None when the caller supplies the pool."""
    if http_client is not None:
        if max_connections is not None:
            raise UsageError("max_connections sizes the client's own pool; set limits on your http_client")
        return None
    size = DEFAULT_MAX_CONNECTIONS if max_connections is None else max_connections
    if size < 1:
        raise UsageError(f"max_connections must be at least 1, got {size}")
    return size


def _limits(pool_size: int | None) -> httpx.Limits:
    size = pool_size or DEFAULT_MAX_CONNECTIONS
    return httpx.Limits(max_connections=size, max_keepalive_connections=min(size, DEFAULT_MAX_KEEPALIVE))
