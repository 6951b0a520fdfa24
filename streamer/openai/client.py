"""``Client`` and ``AsyncClient``: OpenAI streaming endpoints over httpx, with retries, timeouts
and typed errors. They only fetch bytes; ``RunStream`` and ``streamer.sse`` do the rest.

Errors before the stream starts (a refused connection, an error status after the retries, a
response that is not an event stream) raise from the call that opens the stream. Once the stream
has started, a fault ends it: ``next()`` returns False and ``err()`` says why (``StreamTimeout``,
``ConnectionLost``, ``UnexpectedEOF``...). Nothing is retried after the response has begun, so no
text is duplicated and no second run is created.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol

import anyio
import httpx
from attrs import define

from .. import sse
from ..errors import ConnectionLost, StreamError, StreamTimeout
from ..scanner import AsyncScanner, Scanner
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


class _Config:
    """What both clients share: key, URLs, headers, policies. Never shows the key."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        organization: str | None,
        project: str | None,
        timeouts: Timeouts,
        retry: RetryPolicy,
        max_event_size: int,
    ) -> None:
        self._api_key = resolve_api_key(api_key, required=base_url is None)
        self.base_url = base_url or DEFAULT_BASE_URL
        self.organization = organization
        self.project = project
        self.timeouts = timeouts
        self.retry = retry
        self.max_event_size = max_event_size

    def headers(self, beta: bool) -> dict[str, str]:
        return request_headers(self._api_key, self.organization, self.project, beta)

    def httpx_timeout(self, started: float) -> httpx.Timeout:
        t = self.timeouts
        read = t.idle
        if t.total is not None:
            remaining = max(0.001, t.total - (time.monotonic() - started))
            read = remaining if read is None else min(read, remaining)
        return httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=t.connect)

    def check_total(self, started: float, url: str) -> None:
        total = self.timeouts.total
        if total is not None and time.monotonic() - started > total:
            raise StreamTimeout("total", total, url)

    def read_timeout_kind(self, started: float) -> tuple[str, float]:
        total = self.timeouts.total
        if total is not None and time.monotonic() - started >= total - 0.01:
            return "total", total
        return "idle", self.timeouts.idle or 0.0

    def request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        url: str,
        json: Any,
        beta: bool,
        started: float,
    ) -> httpx.Request:
        return http.build_request(
            method, url, json=json, headers=self.headers(beta), timeout=self.httpx_timeout(started)
        )

    def transport_failure(self, exc: httpx.TransportError, started: float, url: str) -> _Failure:
        """A request that got no response: only a failed connect is safe to send again."""
        if isinstance(exc, httpx.TimeoutException):
            return _Failure(
                _timeout_before_response(exc, self, started, url), isinstance(exc, httpx.ConnectTimeout)
            )
        retryable = isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError))
        return _Failure(ConnectionLost(f"request failed: {type(exc).__name__}: {exc}", url), retryable)

    def response_failure(self, response: httpx.Response, content: bytes, url: str) -> _Failure:
        """A response that is not an event stream (raises at once for a 2xx of the wrong kind)."""
        if response.is_success:
            raise error_for_content(response.status_code, content, response.headers, url)
        error = error_for_status(response.status_code, content, response.headers, url)
        return _Failure(error, response.status_code in self.retry.statuses, response.headers)

    def backoff(self, attempt: int, failure: _Failure) -> float:
        """Seconds to wait before trying again; raises the failure's error when it is not retried."""
        delay = self.retry.delay(attempt, failure.headers) if failure.retryable else None
        if delay is None:
            raise failure.error
        return delay

    def __repr__(self) -> str:
        return f"base_url={self.base_url!r}"


@define(frozen=True, slots=True)
class _Failure:
    """Why an attempt to open a stream failed, and whether another attempt may follow."""

    error: StreamError
    retryable: bool
    headers: Mapping[str, str] | None = None


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
    working directory); it may be omitted for a custom ``base_url``. Pass ``http_client`` to use
    your own ``httpx.Client`` (its limits, proxies, transport); it is then yours to close.
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
    ) -> None:
        self._config = _Config(
            api_key,
            base_url,
            organization,
            project,
            timeouts or Timeouts(),
            retry or RetryPolicy(),
            max_event_size,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()

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
        return ChatStream(body, max_event_size=self._config.max_event_size)

    def responses_stream(self, **params: Any) -> ResponseStream:
        """``POST /responses`` with ``stream: true`` (``model=``, ``input=``, ...)."""
        body = self._open("POST", "responses", {**params, "stream": True}, beta=False)
        return ResponseStream(body, max_event_size=self._config.max_event_size)

    def stream(self, method: str, path: str, json: Any = None, *, beta: bool = False) -> EventStream:
        """Any other SSE endpoint: a scanner of raw :class:`~streamer.sse.Event`.

        It fails with ``UnexpectedEOF`` if the body ends in the middle of an event.
        """
        body = self._open(method, path, json, beta)
        return EventStream(
            sse.iter_events(body, max_event_size=self._config.max_event_size), on_close=body.close
        )

    def _run_stream(self, path: str, body: dict[str, Any]) -> RunStream:
        chunks = self._open("POST", path, body, beta=True)
        return RunStream(chunks, continuation=self._continue, max_event_size=self._config.max_event_size)

    def _continue(self, thread_id: str, run_id: str, outputs: list[dict[str, Any]]) -> Iterator[bytes]:
        path, body = _submit_request(thread_id, run_id, outputs)
        return self._open("POST", path, body, beta=True)

    def _open(self, method: str, path: str, json: Any, beta: bool) -> Generator[bytes, None, None]:
        """Send the request, retrying before the first byte; return the body's chunks."""
        config = self._config
        url = join_url(config.base_url, path)
        started = time.monotonic()
        attempt = 0
        while True:
            config.check_total(started, url)
            try:
                response = self._http.send(
                    config.request(self._http, method, url, json, beta, started), stream=True
                )
            except httpx.TransportError as exc:
                failure = config.transport_failure(exc, started, url)
            else:
                if is_event_stream(response.headers) and response.is_success:
                    return _body(response, config, started, url)
                failure = config.response_failure(response, _read_limited(response), url)
            time.sleep(config.backoff(attempt, failure))
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
    ) -> None:
        self._config = _Config(
            api_key,
            base_url,
            organization,
            project,
            timeouts or Timeouts(),
            retry or RetryPolicy(),
            max_event_size,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()

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
        return AsyncChatStream(body, max_event_size=self._config.max_event_size)

    async def responses_stream(self, **params: Any) -> AsyncResponseStream:
        """``POST /responses`` with ``stream: true``."""
        body = await self._open("POST", "responses", {**params, "stream": True}, beta=False)
        return AsyncResponseStream(body, max_event_size=self._config.max_event_size)

    async def stream(
        self, method: str, path: str, json: Any = None, *, beta: bool = False
    ) -> AsyncEventStream:
        """Any other SSE endpoint: an async scanner of raw :class:`~streamer.sse.Event`."""
        body = await self._open(method, path, json, beta)
        return AsyncEventStream(
            sse.aiter_events(body, max_event_size=self._config.max_event_size), on_close=body.aclose
        )

    async def _run_stream(self, path: str, body: dict[str, Any]) -> AsyncRunStream:
        chunks = await self._open("POST", path, body, beta=True)
        return AsyncRunStream(chunks, continuation=self._continue, max_event_size=self._config.max_event_size)

    async def _continue(
        self, thread_id: str, run_id: str, outputs: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        path, body = _submit_request(thread_id, run_id, outputs)
        return await self._open("POST", path, body, beta=True)

    async def _open(self, method: str, path: str, json: Any, beta: bool) -> AsyncGenerator[bytes, None]:
        """Send the request, retrying before the first byte; return the body's chunks."""
        config = self._config
        url = join_url(config.base_url, path)
        started = time.monotonic()
        attempt = 0
        while True:
            config.check_total(started, url)
            try:
                request = config.request(self._http, method, url, json, beta, started)
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                failure = config.transport_failure(exc, started, url)
            else:
                if is_event_stream(response.headers) and response.is_success:
                    return _abody(response, config, started, url)
                failure = config.response_failure(response, await _aread_limited(response), url)
            await anyio.sleep(config.backoff(attempt, failure))
            attempt += 1


def _submit_request(thread_id: str, run_id: str, outputs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return f"threads/{thread_id}/runs/{run_id}/submit_tool_outputs", {"tool_outputs": outputs, "stream": True}


def _timeout_before_response(
    exc: httpx.TimeoutException, config: _Config, started: float, url: str
) -> StreamTimeout:
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return StreamTimeout("connect", config.timeouts.connect or 0.0, url)
    kind, seconds = config.read_timeout_kind(started)
    return StreamTimeout(kind, seconds, url)


def _read_limited(response: httpx.Response) -> bytes:
    content = b""
    try:
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
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
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return content[:_ERROR_BODY_LIMIT]


def _body(
    response: httpx.Response, config: _Config, started: float, url: str
) -> Generator[bytes, None, None]:
    """The response body's chunks; faults become StreamTimeout / ConnectionLost; always closes."""
    try:
        for chunk in response.iter_bytes():
            config.check_total(started, url)
            yield chunk
    except httpx.TimeoutException:
        kind, seconds = config.read_timeout_kind(started)
        raise StreamTimeout(kind, seconds, url) from None
    except httpx.TransportError as exc:
        raise ConnectionLost(f"connection lost mid-stream: {type(exc).__name__}: {exc}", url) from exc
    finally:
        response.close()


async def _abody(
    response: httpx.Response, config: _Config, started: float, url: str
) -> AsyncGenerator[bytes, None]:
    """Async twin of :func:`_body`; the idle and total deadlines are enforced per read."""
    chunks = response.aiter_bytes()
    timeouts = config.timeouts
    try:
        while True:
            limit = timeouts.idle
            if timeouts.total is not None:
                remaining = timeouts.total - (time.monotonic() - started)
                limit = remaining if limit is None else min(limit, remaining)
            try:
                with anyio.fail_after(max(limit, 0.0) if limit is not None else None):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                kind, seconds = config.read_timeout_kind(started)
                raise StreamTimeout(kind, seconds, url) from None
            yield chunk
    except httpx.TimeoutException:
        kind, seconds = config.read_timeout_kind(started)
        raise StreamTimeout(kind, seconds, url) from None
    except httpx.TransportError as exc:
        raise ConnectionLost(f"connection lost mid-stream: {type(exc).__name__}: {exc}", url) from exc
    finally:
        await _aclose(chunks)  # httpx's own body generator, then the response
        await response.aclose()


def from_openai_response(response: _ByteSource) -> RunStream:
    """A RunStream over the raw streaming response of the official ``openai`` SDK.

    For example ``client.beta.threads.runs.with_streaming_response.create(..., stream=True)``:
    anything with ``iter_bytes()`` and ``close()``. Closing the stream closes the response.
    """
    return RunStream.from_chunks(response.iter_bytes(), on_close=response.close)


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
