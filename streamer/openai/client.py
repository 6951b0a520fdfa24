"""``Client`` and ``AsyncClient``: OpenAI streaming endpoints over httpx, with a connection pool,
safe retries, timeouts and typed errors. They only fetch bytes; the typed streams do the rest.

Errors before the stream starts (a refused connection, an error status after the retries, a
response that is not an event stream) raise from the call that opens the stream. Once the stream
has started, a fault ends it: ``next()`` returns False and ``err()`` says why (``StreamTimeout``,
``ConnectionLost``, ``UnexpectedEOF``...). Nothing is retried after the response has begun, so no
text is duplicated and no second run is created; the exception is a stream the server can resume
exactly once (a background response, ``starting_after``; an SSE endpoint with ``reconnect=``,
``Last-Event-ID``): :mod:`._resume` continues it after a cut.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

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
from ._policy import retry_after as _retry_after
from ._resume import (
    AsyncResumingBody,
    EventSourceCursor,
    Reconnects,
    Refused,
    Reopen,
    ResponseCursor,
    Resume,
    ResumingBody,
    aresuming_events,
    budget,
    resuming_events,
)
from .assistants import AsyncRunStream, RunStream
from .chat import AsyncChatStream, ChatStream
from .responses import AsyncResponseStream, ResponseStream
from .responses.stream import ResponseSnapshot

__all__ = ["AsyncClient", "Client", "Resume", "RetryPolicy", "Timeouts", "from_openai_response"]

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
        extra: Mapping[str, str | bytes] | None = None,
    ) -> httpx.Request:
        headers: dict[str, Any] = dict(self.headers(beta, call.idempotency_key))
        if extra:
            headers.update(extra)
        return http.build_request(
            call.method,
            call.url,
            json=json,
            headers=headers,
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

    def refusal(self, outcome: _Failure) -> Refused:
        """A failed reconnect, for the resume loop: may another follow, after what wait."""
        asked = _retry_after(outcome.headers) if outcome.headers is not None else None
        return Refused(outcome.error, outcome.retryable, asked)

    def reconnects(self, plan: Resume, cursor: Any, path: str) -> Reconnects:
        """The resume state of one stream (see :mod:`._resume`)."""
        return Reconnects(plan, cursor, join_url(self.base_url, path.split("?")[0]))

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
    def start(cls, config: _Config, method: str, path: str, started: float | None = None) -> _Call:
        """A new call; ``started``: when the stream it resumes began (the total deadline counts from it)."""
        key = None if method.upper() in _SAFE_METHODS else f"streamer-retry-{uuid.uuid4()}"
        return cls(method, join_url(config.base_url, path), started or time.monotonic(), key)


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

    def __init__(
        self,
        source: Iterator[sse.Event],
        *,
        on_close: Callable[[], object] | None = None,
        cursor: EventSourceCursor | None = None,
    ) -> None:
        super().__init__(source, on_close=on_close)
        self._cursor = cursor

    @property
    def resumes(self) -> int:
        """How many times the stream reconnected after a cut (``reconnect=``)."""
        return 0 if self._cursor is None else self._cursor.resumes


class AsyncEventStream(AsyncScanner[sse.Event]):
    """The async twin of :class:`EventStream`."""

    def __init__(
        self,
        source: AsyncIterator[sse.Event],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        cursor: EventSourceCursor | None = None,
    ) -> None:
        super().__init__(source, on_close=on_close)
        self._cursor = cursor

    @property
    def resumes(self) -> int:
        """How many times the stream reconnected after a cut (``reconnect=``)."""
        return 0 if self._cursor is None else self._cursor.resumes


def _response_budget(background: bool, resume: Resume | int | None) -> Resume | None:
    """The resume budget of a Responses stream: on by default in background mode, refused otherwise."""
    if not background:
        if budget(resume, None, "resume") is not None:
            raise UsageError(
                "resume= needs background=True: only a background response can be streamed again "
                "from where it was cut (GET /responses/{id}?stream=true&starting_after=N); a cut in "
                "another response cannot be resumed exactly once"
            )
        return None
    return budget(resume, Resume(), "resume")


def _retrieve_path(response_id: str, starting_after: int | None) -> str:
    if not isinstance(response_id, str) or not response_id:
        raise UsageError(f"response_id must be a response's id (a non-empty str), got {response_id!r}")
    path = f"responses/{quote(response_id, safe='')}?stream=true"
    if starting_after is not None:
        if type(starting_after) is not int:
            raise UsageError(f"starting_after must be a sequence number (an int), got {starting_after!r}")
        path += f"&starting_after={starting_after}"
    return path


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

    def responses_stream(
        self, *, background: bool = False, resume: Resume | int | None = None, **params: Any
    ) -> ResponseStream:
        """``POST /responses`` with ``stream: true`` (``model=``, ``input=``, ...).

        ``background=True`` sends ``background: true``; such a stream resumes by itself after a
        cut (``resume=``: a :class:`Resume` budget or a number of attempts, 0 for none; default
        ``Resume()``). ``resume=`` without ``background=True`` is a ``UsageError``.
        """
        plan = _response_budget(background, resume)
        started = time.monotonic()
        body = self._open("POST", "responses", _response_body(params, background), beta=False)
        return self._response_stream(body, plan, "responses", started)

    def responses_retrieve_stream(
        self,
        response_id: str,
        starting_after: int | None = None,
        *,
        snapshot: ResponseSnapshot | None = None,
        resume: Resume | int | None = None,
    ) -> ResponseStream:
        """``GET /responses/{id}?stream=true&starting_after=N``: a background response streamed again.

        Its events come after ``sequence_number`` N (all of them without it). ``snapshot``: the
        stream that was cut, or the response as of event N, to carry the snapshots on (see
        ``ResponseStream.from_chunks``). It resumes after a cut like a background stream.
        """
        path = _retrieve_path(response_id, starting_after)
        started = time.monotonic()
        body = self._open("GET", path, None, beta=False)
        return self._response_stream(
            body, budget(resume, Resume(), "resume"), path, started, response_id, starting_after, snapshot
        )

    def _response_stream(
        self,
        body: SyncBody,
        plan: Resume | None,
        path: str,
        started: float,
        response_id: str | None = None,
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> ResponseStream:
        size = self._config.max_event_size
        if plan is None and response_id is None:
            return _attach(body, ResponseStream(body, max_event_size=size))
        chunks: SyncBody | ResumingBody = body
        cursor = ResponseCursor()
        if plan is not None:
            reconnects = self._config.reconnects(plan, cursor, path)
            chunks = ResumingBody(body, self._reopener(False, started, stop_on_204=False), reconnects)
        try:
            stream = ResponseStream(
                chunks, max_event_size=size, starting_after=starting_after, snapshot=snapshot
            )
        except BaseException:
            chunks.close()
            raise
        cursor.bind(stream._protocol, response_id)
        return _attach(chunks, stream)

    def stream(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        beta: bool = False,
        reconnect: Resume | int | None = None,
    ) -> EventStream:
        """Any other SSE endpoint: a scanner of raw :class:`~streamer.sse.Event`.

        It fails with ``UnexpectedEOF`` if the body ends in the middle of an event. ``reconnect=``
        (a :class:`Resume` budget or a number of attempts) reconnects as a browser's EventSource
        does: after a cut or an end of the body, wait the server's ``retry:`` (else the backoff),
        send the request again with ``Last-Event-ID``; a 204 answer ends the stream cleanly.
        """
        plan = budget(reconnect, None, "reconnect")
        started = time.monotonic()
        body = self._open(method, path, json, beta)
        size = self._config.max_event_size
        if plan is None:
            return _attach(body, EventStream(sse.iter_events(body, max_event_size=size), on_close=body.close))
        cursor = EventSourceCursor(method, path, json)
        reconnects = self._config.reconnects(plan, cursor, path)
        chunks = ResumingBody(body, self._reopener(beta, started, stop_on_204=True), reconnects)
        events = resuming_events(chunks, cursor, size)
        return _attach(chunks, EventStream(events, on_close=chunks.close, cursor=cursor))

    def _reopener(
        self, beta: bool, started: float, *, stop_on_204: bool
    ) -> Callable[[Reopen], SyncBody | Refused | None]:
        """How a resuming stream opens its next segment: one attempt, no retries of its own."""
        config = self._config

        def reopen(request: Reopen) -> SyncBody | Refused | None:
            call = _Call.start(config, request.method, request.path, started)
            try:
                outcome = self._attempt(call, request.json, beta, 0, request.headers, stop_on_204)
            except StreamError as exc:
                return Refused(exc, retryable=False)
            return config.refusal(outcome) if isinstance(outcome, _Failure) else outcome

        return reopen

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
            outcome = self._attempt(call, json, beta, attempt)
            if isinstance(outcome, SyncBody):
                return outcome
            assert outcome is not None  # only a reconnect asks to stop on 204
            time.sleep(config.backoff(attempt, outcome, call))
            attempt += 1

    def _attempt(
        self,
        call: _Call,
        json: Any,
        beta: bool,
        attempt: int,
        headers: Mapping[str, str | bytes] | None = None,
        stop_on_204: bool = False,
    ) -> SyncBody | _Failure | None:
        """One attempt: the body, why it failed, or None for a 204 when ``stop_on_204``."""
        config = self._config
        config.check_total(call.started, call.url)
        log.debug("%s %s: attempt %d", call.method, call.url, attempt + 1)
        try:
            response = self._http.send(config.request(self._http, call, json, beta, headers), stream=True)
        except HTTPX_ERRORS as exc:
            return config.transport_failure(exc, call)
        if stop_on_204 and response.status_code == 204:
            response.close()
            return None
        if is_event_stream(response.headers) and response.is_success:
            try:
                config.opened(response, call, attempt)
            except StreamError:
                response.close()
                raise
            return SyncBody(response, config.deadline(call))
        return config.response_failure(response, _read_limited(response), call.url)


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

    async def responses_stream(
        self, *, background: bool = False, resume: Resume | int | None = None, **params: Any
    ) -> AsyncResponseStream:
        """``POST /responses`` with ``stream: true`` (``background``, ``resume``: as for ``Client``)."""
        plan = _response_budget(background, resume)
        started = time.monotonic()
        body = await self._open("POST", "responses", _response_body(params, background), beta=False)
        return await self._response_stream(body, plan, "responses", started)

    async def responses_retrieve_stream(
        self,
        response_id: str,
        starting_after: int | None = None,
        *,
        snapshot: ResponseSnapshot | None = None,
        resume: Resume | int | None = None,
    ) -> AsyncResponseStream:
        """``GET /responses/{id}?stream=true&starting_after=N`` (as for ``Client``)."""
        path = _retrieve_path(response_id, starting_after)
        started = time.monotonic()
        body = await self._open("GET", path, None, beta=False)
        return await self._response_stream(
            body, budget(resume, Resume(), "resume"), path, started, response_id, starting_after, snapshot
        )

    async def _response_stream(
        self,
        body: AsyncBody,
        plan: Resume | None,
        path: str,
        started: float,
        response_id: str | None = None,
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> AsyncResponseStream:
        size = self._config.max_event_size
        if plan is None and response_id is None:
            return _attach(body, AsyncResponseStream(body, max_event_size=size))
        chunks: AsyncBody | AsyncResumingBody = body
        cursor = ResponseCursor()
        if plan is not None:
            reconnects = self._config.reconnects(plan, cursor, path)
            chunks = AsyncResumingBody(body, self._reopener(False, started, stop_on_204=False), reconnects)
        try:
            stream = AsyncResponseStream(
                chunks, max_event_size=size, starting_after=starting_after, snapshot=snapshot
            )
        except BaseException:
            await chunks.aclose()
            raise
        cursor.bind(stream._protocol, response_id)
        return _attach(chunks, stream)

    async def stream(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        beta: bool = False,
        reconnect: Resume | int | None = None,
    ) -> AsyncEventStream:
        """Any other SSE endpoint: an async scanner of raw :class:`~streamer.sse.Event` (``reconnect``:
        as for ``Client.stream``)."""
        plan = budget(reconnect, None, "reconnect")
        started = time.monotonic()
        body = await self._open(method, path, json, beta)
        size = self._config.max_event_size
        if plan is None:
            events = sse.aiter_events(body, max_event_size=size)
            return _attach(body, AsyncEventStream(events, on_close=body.aclose))
        cursor = EventSourceCursor(method, path, json)
        reconnects = self._config.reconnects(plan, cursor, path)
        chunks = AsyncResumingBody(body, self._reopener(beta, started, stop_on_204=True), reconnects)
        resumed = aresuming_events(chunks, cursor, size)
        return _attach(chunks, AsyncEventStream(resumed, on_close=chunks.aclose, cursor=cursor))

    def _reopener(
        self, beta: bool, started: float, *, stop_on_204: bool
    ) -> Callable[[Reopen], Awaitable[AsyncBody | Refused | None]]:
        """How a resuming stream opens its next segment: one attempt, no retries of its own."""
        config = self._config

        async def reopen(request: Reopen) -> AsyncBody | Refused | None:
            call = _Call.start(config, request.method, request.path, started)
            try:
                outcome = await self._attempt(call, request.json, beta, 0, request.headers, stop_on_204)
            except StreamError as exc:
                return Refused(exc, retryable=False)
            return config.refusal(outcome) if isinstance(outcome, _Failure) else outcome

        return reopen

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
            outcome = await self._attempt(call, json, beta, attempt)
            if isinstance(outcome, AsyncBody):
                return outcome
            assert outcome is not None  # only a reconnect asks to stop on 204
            await anyio.sleep(config.backoff(attempt, outcome, call))
            attempt += 1

    async def _attempt(
        self,
        call: _Call,
        json: Any,
        beta: bool,
        attempt: int,
        headers: Mapping[str, str | bytes] | None = None,
        stop_on_204: bool = False,
    ) -> AsyncBody | _Failure | None:
        """One attempt: the body, why it failed, or None for a 204 when ``stop_on_204``."""
        config = self._config
        config.check_total(call.started, call.url)
        log.debug("%s %s: attempt %d", call.method, call.url, attempt + 1)
        try:
            request = config.request(self._http, call, json, beta, headers)
            response = await self._http.send(request, stream=True)
        except HTTPX_ERRORS as exc:
            return config.transport_failure(exc, call)
        if stop_on_204 and response.status_code == 204:
            await response.aclose()
            return None
        if is_event_stream(response.headers) and response.is_success:
            try:
                config.opened(response, call, attempt)
            except StreamError:
                await response.aclose()
                raise
            return AsyncBody(response, config.deadline(call), config.timeouts.idle)
        return config.response_failure(response, await _aread_limited(response), call.url)


def _response_body(params: dict[str, Any], background: bool) -> dict[str, Any]:
    body = {**params, "stream": True}
    if background:
        body["background"] = True
    return body


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


def _attach(body: SyncBody | AsyncBody | ResumingBody | AsyncResumingBody, stream: S) -> S:
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
