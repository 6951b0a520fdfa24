"""Client edge cases with respx: status errors, headers, retries, content types, the API key."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import httpx
import pytest
import respx

from streamer import sse
from streamer.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionLost,
    InternalServerError,
    MissingAPIKey,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamTimeout,
    UnexpectedResponse,
    UnprocessableEntityError,
)
from streamer.openai._policy import read_dotenv, retry_after
from streamer.openai.client import AsyncClient, Client, RetryPolicy

from ..conftest import RECORDINGS

BASE = "https://api.test/v1"
KEY = "sk-test-0123456789abcdef"
TEXT = (RECORDINGS / "synthetic_text_01.sse").read_bytes()
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
SSE_HEADERS = {"content-type": "text/event-stream"}


def error_body(message: str, code: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}


def client(**kwargs: object) -> Client:
    return Client(KEY, base_url=BASE, retry=FAST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
@respx.mock
def test_error_status_raises_its_typed_error(status: int, cls: type[APIStatusError]) -> None:
    respx.post(f"{BASE}/threads/runs").respond(
        status, json=error_body("it went wrong", "some_code"), headers={"x-request-id": "req_42"}
    )
    with pytest.raises(cls) as info:
        client().create_thread_and_run_stream("asst_1")
    error = info.value
    assert type(error) is cls
    assert (error.status, error.message, error.code, error.request_id) == (
        status,
        "it went wrong",
        "some_code",
        "req_42",
    )
    assert "req_42" in str(error) and str(status) in str(error)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
@respx.mock
def test_retryable_statuses_are_retried_up_to_the_attempt_limit(status: int) -> None:
    route = respx.post(f"{BASE}/threads/runs").respond(status, json=error_body("busy"))
    with pytest.raises(APIStatusError):
        client().create_thread_and_run_stream("asst_1")
    assert route.call_count == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
@respx.mock
def test_other_statuses_are_not_retried(status: int) -> None:
    route = respx.post(f"{BASE}/threads/runs").respond(status, json=error_body("no"))
    with pytest.raises(APIStatusError):
        client().create_thread_and_run_stream("asst_1")
    assert route.call_count == 1


@respx.mock
def test_retry_then_success_streams_every_event_once() -> None:
    route = respx.post(f"{BASE}/threads/runs")
    route.side_effect = [
        httpx.Response(503, json=error_body("busy")),
        httpx.Response(200, content=TEXT, headers=SSE_HEADERS),
    ]
    stream = client().create_thread_and_run_stream("asst_1")
    names = [event.name for event in stream]  # type: ignore[attr-defined]
    assert route.call_count == 2
    assert names == [event.event for event in sse.iter_events([TEXT])]


@respx.mock
def test_retry_after_ms_is_honoured() -> None:
    route = respx.post(f"{BASE}/threads/runs")
    route.side_effect = [
        httpx.Response(429, json=error_body("slow"), headers={"retry-after-ms": "150"}),
        httpx.Response(200, content=TEXT, headers=SSE_HEADERS),
    ]
    started = time.monotonic()
    client().create_thread_and_run_stream("asst_1").close()
    assert time.monotonic() - started >= 0.14


@respx.mock
def test_retry_after_too_long_is_not_waited_for() -> None:
    route = respx.post(f"{BASE}/threads/runs").respond(
        429, json=error_body("later"), headers={"retry-after": "3600"}
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        client().create_thread_and_run_stream("asst_1")
    assert route.call_count == 1 and time.monotonic() - started < 1


def test_retry_after_parses_seconds_dates_and_milliseconds() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after({"retry-after": future}) or 0) <= 31
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_is_full_jitter_below_an_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=1.0, max_backoff=5.0)
    for attempt in range(8):
        delays = [policy.delay(attempt) for _ in range(200)]
        cap = min(5.0, 2.0**attempt)
        assert all(d is not None and 0 <= d <= cap for d in delays)
        assert max(d for d in delays if d is not None) > cap / 2
    assert policy.delay(9) is None


@respx.mock
def test_connection_errors_are_retried_then_raised() -> None:
    route = respx.post(f"{BASE}/threads/runs").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ConnectionLost, match="refused"):
        client().create_thread_and_run_stream("asst_1")
    assert route.call_count == 3


@respx.mock
def test_html_error_page_shows_what_came_back() -> None:
    respx.post(f"{BASE}/threads/runs").respond(
        200, text="<html><body>Gateway says hi</body></html>", headers={"content-type": "text/html"}
    )
    with pytest.raises(UnexpectedResponse, match="Gateway says hi") as info:
        client().create_thread_and_run_stream("asst_1")
    assert info.value.content_type == "text/html"


@respx.mock
def test_json_error_with_status_200_is_an_api_error() -> None:
    respx.post(f"{BASE}/threads/runs").respond(200, json=error_body("assistant not found", "not_found"))
    with pytest.raises(APIStatusError, match="assistant not found") as info:
        client().create_thread_and_run_stream("asst_1")
    assert info.value.code == "not_found"


@respx.mock
def test_requests_carry_the_documented_headers_and_body() -> None:
    route = respx.post(f"{BASE}/threads/abc/runs").respond(200, content=TEXT, headers=SSE_HEADERS)
    Client(KEY, base_url=BASE, organization="org_1", project="proj_1").create_run_stream(
        "abc", "asst_1", temperature=0.2
    ).close()
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["openai-beta"] == "assistants=v2"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["openai-organization"] == "org_1"
    assert request.headers["openai-project"] == "proj_1"
    assert request.headers["user-agent"].startswith("streamer/")
    assert json.loads(request.content) == {"assistant_id": "asst_1", "temperature": 0.2, "stream": True}


@respx.mock
def test_generic_stream_serves_any_sse_endpoint() -> None:
    respx.post(f"{BASE}/chat/completions").respond(
        200, content=b'data: {"a": 1}\n\ndata: [DONE]\n\n', headers=SSE_HEADERS
    )
    stream = client().stream("POST", "chat/completions", {"stream": True})
    assert [event.data for event in stream] == ['{"a": 1}', "[DONE]"]


@respx.mock
def test_the_api_key_never_appears_in_repr_or_errors() -> None:
    respx.post(f"{BASE}/threads/runs").respond(401, json=error_body("Incorrect API key provided"))
    c = client()
    with pytest.raises(AuthenticationError) as info:
        c.create_thread_and_run_stream("asst_1")
    for text in (repr(c), str(info.value), repr(info.value), repr(c._config)):
        assert KEY not in text


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert Client()._config.headers(beta=False)["authorization"] == "Bearer sk-env"


def test_api_key_from_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / ".env").write_text("# secrets\nexport OPENAI_API_KEY='sk-dotenv'\nOTHER=1 # note\n")
    monkeypatch.chdir(tmp_path)
    assert Client()._config.headers(beta=False)["authorization"] == "Bearer sk-dotenv"
    assert read_dotenv(tmp_path / ".env") == {"OPENAI_API_KEY": "sk-dotenv", "OTHER": "1"}


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingAPIKey, match="OPENAI_API_KEY"):
        Client()


def test_a_custom_base_url_needs_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "authorization" not in Client(base_url="http://127.0.0.1:1/v1")._config.headers(beta=True)


@pytest.mark.anyio
@respx.mock
async def test_async_client_raises_the_same_typed_errors() -> None:
    route = respx.post(f"{BASE}/threads/runs").respond(
        500, json=error_body("boom"), headers={"x-request-id": "req_7"}
    )
    async with AsyncClient(KEY, base_url=BASE, retry=FAST) as c:
        with pytest.raises(InternalServerError) as info:
            await c.create_thread_and_run_stream("asst_1")
    assert route.call_count == 3 and info.value.request_id == "req_7"


@pytest.mark.anyio
@respx.mock
async def test_async_client_streams_after_a_retry() -> None:
    route = respx.post(f"{BASE}/threads/runs")
    route.side_effect = [
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, content=TEXT, headers=SSE_HEADERS),
    ]
    async with AsyncClient(KEY, base_url=BASE, retry=FAST) as c:
        stream = await c.create_thread_and_run_stream("asst_1")
        texts = [t async for t in stream.text_deltas()]
    assert "".join(texts) == stream.text() and route.call_count == 2


@respx.mock
def test_a_get_carries_no_idempotency_key_and_a_post_does() -> None:
    get = respx.get(f"{BASE}/events").respond(200, content=TEXT, headers=SSE_HEADERS)
    post = respx.post(f"{BASE}/threads/runs").respond(200, content=TEXT, headers=SSE_HEADERS)
    with client() as c:
        c.stream("GET", "events").close()
        c.create_thread_and_run_stream("asst_1").close()
    assert "idempotency-key" not in get.calls.last.request.headers
    assert post.calls.last.request.headers["idempotency-key"].startswith("streamer-retry-")


@respx.mock
def test_a_pool_timeout_is_not_retried() -> None:
    route = respx.post(f"{BASE}/threads/runs").mock(side_effect=httpx.PoolTimeout("pool"))
    with pytest.raises(StreamTimeout) as info:
        client().create_thread_and_run_stream("asst_1")
    assert info.value.kind == "pool"
    assert route.call_count == 1
