"""The client over real sockets: a local server on 127.0.0.1 replays recordings with faults."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from streamer import sse
from streamer.errors import (
    APIStatusError,
    ConnectionLost,
    InternalServerError,
    StreamTimeout,
    UnexpectedEOF,
    UnexpectedResponse,
)
from streamer.openai import AsyncRunStream, ThreadRunRequiresAction
from streamer.openai.client import AsyncClient, Client, RetryPolicy, Timeouts, from_openai_response
from streamer.testing.replay import ReplayServer, Reply, sse_reply

from ..conftest import RECORDINGS
from .payloads import to_sse

TEXT_PATH = RECORDINGS / "synthetic_text_01.sse"
TEXT = TEXT_PATH.read_bytes()
EVENTS = [(e.event, e.data) for e in sse.iter_events([TEXT])]
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
JSON = {"content-type": "application/json"}


def names_and_data(stream: object) -> list[tuple[str, str]]:
    out = []
    while stream.next():  # type: ignore[attr-defined]
        event = stream.event()  # type: ignore[attr-defined]
        out.append((event.raw.event, event.raw.data))
    return out


def boundaries(body: bytes) -> list[int]:
    return [i + 2 for i in range(len(body) - 1) if body[i : i + 2] == b"\n\n"]


def test_a_whole_run_arrives_event_for_event() -> None:
    with (
        ReplayServer([sse_reply(TEXT_PATH, chunk_size=100)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        stream = client.create_thread_and_run_stream("asst_1")
        assert names_and_data(stream) == EVENTS
        assert stream.err() is None


@pytest.mark.parametrize("how", ["clean", "close", "reset"])
def test_cut_at_every_event_boundary_loses_and_duplicates_nothing(how: str) -> None:
    cuts = boundaries(TEXT)[:-1]
    replies = [
        Reply(body=TEXT[:cut]) if how == "clean" else Reply(body=TEXT, cut_at=cut, cut_how=how)
        for cut in cuts
    ]
    with (
        ReplayServer(replies, repeat_last=False) as server,
        Client("k", base_url=server.base_url, retry=FAST) as client,
    ):
        for cut in cuts:
            stream = client.create_thread_and_run_stream("asst_1")
            got = names_and_data(stream)
            expected = [(e.event, e.data) for e in sse.iter_events([TEXT[:cut]])]
            assert got == expected, cut
            error = stream.err()
            assert isinstance(error, UnexpectedEOF if how == "clean" else ConnectionLost), (cut, error)
    assert len(server.requests) == len(cuts)  # never retried once the stream had begun


@pytest.mark.parametrize("how", ["clean", "close", "reset"])
def test_cut_mid_event_keeps_every_complete_event(how: str) -> None:
    cut = boundaries(TEXT)[10] + 25
    reply = Reply(body=TEXT[:cut]) if how == "clean" else Reply(body=TEXT, cut_at=cut, cut_how=how)
    with ReplayServer([reply]) as server, Client("k", base_url=server.base_url) as client:
        stream = client.create_thread_and_run_stream("asst_1")
        assert names_and_data(stream) == EVENTS[:11]
        assert isinstance(stream.err(), UnexpectedEOF if how == "clean" else ConnectionLost)


def test_stall_longer_than_idle_timeout_ends_with_idle_timeout() -> None:
    stall_at = boundaries(TEXT)[4]
    reply = sse_reply(TEXT_PATH, stall_at=stall_at, stall_for=1.5)
    timeouts = Timeouts(idle=0.3)
    with ReplayServer([reply]) as server, Client("k", base_url=server.base_url, timeouts=timeouts) as client:
        started = time.monotonic()
        stream = client.create_thread_and_run_stream("asst_1")
        assert names_and_data(stream) == EVENTS[:5]
        elapsed = time.monotonic() - started
    error = stream.err()
    assert isinstance(error, StreamTimeout) and error.kind == "idle"
    assert 0.25 <= elapsed < 1.4


def test_total_deadline_ends_a_slow_stream() -> None:
    reply = sse_reply(TEXT_PATH, chunk_size=200, delay=0.05)
    with (
        ReplayServer([reply]) as server,
        Client("k", base_url=server.base_url, timeouts=Timeouts(total=0.4)) as client,
    ):
        started = time.monotonic()
        stream = client.create_thread_and_run_stream("asst_1")
        got = names_and_data(stream)
        elapsed = time.monotonic() - started
    error = stream.err()
    assert isinstance(error, StreamTimeout) and error.kind == "total"
    assert got == EVENTS[: len(got)] and len(got) < len(EVENTS)
    assert 0.35 <= elapsed < 1.0


def test_slow_drip_of_one_byte_per_millisecond_decodes_exactly() -> None:
    events = [
        (
            "thread.message.delta",
            {
                "id": "m",
                "delta": {
                    "content": [{"index": 0, "type": "text", "text": {"value": "\u00e9t\u00e9 \U0001f600"}}]
                },
            },
        )
    ]
    body = to_sse(events * 3)
    with (
        ReplayServer([Reply(body=body, chunk_size=1, delay=0.001)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        stream = client.create_thread_and_run_stream("asst_1")
        with stream.text_reader() as reader:
            assert reader.read().decode() == "\u00e9t\u00e9 \U0001f600" * 3
        assert stream.err() is None


def test_429_with_retry_after_then_200() -> None:
    limited = Reply(
        429, json.dumps({"error": {"message": "slow down"}}).encode(), {**JSON, "retry-after": "0.2"}
    )
    with (
        ReplayServer([limited, sse_reply(TEXT_PATH)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        started = time.monotonic()
        stream = client.create_thread_and_run_stream("asst_1")
        assert names_and_data(stream) == EVENTS
        assert time.monotonic() - started >= 0.2
    assert len(server.requests) == 2


def test_500_twice_then_200() -> None:
    failing = Reply(500, b'{"error": {"message": "oops", "type": "server_error"}}', JSON)
    with (
        ReplayServer([failing, failing, sse_reply(TEXT_PATH)]) as server,
        Client("k", base_url=server.base_url, retry=FAST) as client,
    ):
        assert names_and_data(client.create_thread_and_run_stream("asst_1")) == EVENTS
    assert len(server.requests) == 3


def test_json_error_body_with_status_200() -> None:
    body = json.dumps({"error": {"message": "No assistant found with id 'asst_x'.", "code": None}}).encode()
    with (
        ReplayServer([Reply(200, body, JSON)]) as server,
        Client("k", base_url=server.base_url) as client,
        pytest.raises(APIStatusError, match="No assistant found"),
    ):
        client.create_thread_and_run_stream("asst_x")


def test_html_error_page() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    replies = [
        Reply(502, page, {"content-type": "text/html"}),
        Reply(200, page, {"content-type": "text/html"}),
    ]
    with (
        ReplayServer(replies, repeat_last=False) as server,
        Client("k", base_url=server.base_url, retry=RetryPolicy(max_attempts=1)) as client,
    ):
        with pytest.raises(InternalServerError, match="502 Bad Gateway"):
            client.create_thread_and_run_stream("asst_1")
        with pytest.raises(UnexpectedResponse, match="text/html"):
            client.create_thread_and_run_stream("asst_1")


def test_connection_refused_is_retried_then_reported() -> None:
    server = ReplayServer()
    base_url = server.base_url
    server._server.server_close()  # nothing listens on that port any more
    with (
        Client("k", base_url=base_url, retry=FAST) as client,
        pytest.raises(ConnectionLost, match="could not connect"),
    ):
        client.create_thread_and_run_stream("asst_1")


def test_tool_call_round_trip_over_http() -> None:
    replies = [
        sse_reply(RECORDINGS / "synthetic_function_call_01.sse"),
        sse_reply(RECORDINGS / "synthetic_function_call_02_continue.sse"),
    ]
    with ReplayServer(replies) as server, Client("k", base_url=server.base_url) as client:
        stream = client.create_thread_and_run_stream("asst_1")
        while stream.next():
            if isinstance(stream.event(), ThreadRunRequiresAction):
                calls, _ = stream.required_action()
                stream.submit_tool_outputs([{"tool_call_id": c.id, "output": "18C"} for c in calls])
        assert stream.err() is None
        assert stream.text() == "It is 18 \u00b0C and clear in Paris."
    submit = server.requests[1]
    assert submit.path == "/v1/threads/thread_abc123/runs/run_abc123/submit_tool_outputs"
    assert submit.body == {"tool_outputs": [{"tool_call_id": "call_abc123", "output": "18C"}], "stream": True}


def test_closing_mid_stream_releases_the_connection() -> None:
    pool = httpx.Client(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(2.0, pool=1.0))
    with ReplayServer([sse_reply(TEXT_PATH, chunk_size=64, delay=0.002)]) as server:
        client = Client("k", base_url=server.base_url, http_client=pool)
        for _ in range(15):
            stream = client.create_thread_and_run_stream("asst_1")
            assert stream.next() and stream.next()
            stream.close()
        assert names_and_data(client.create_thread_and_run_stream("asst_1")) == EVENTS
    pool.close()


def test_failed_streams_release_the_connection() -> None:
    pool = httpx.Client(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(2.0, pool=1.0))
    replies = [Reply(body=TEXT, cut_at=500, cut_how="reset"), Reply(500, b"{}", JSON)] * 5 + [
        sse_reply(TEXT_PATH)
    ]
    with ReplayServer(replies) as server:
        client = Client("k", base_url=server.base_url, http_client=pool, retry=RetryPolicy(max_attempts=1))
        for _ in range(5):
            stream = client.create_thread_and_run_stream("asst_1")
            names_and_data(stream)
            assert isinstance(stream.err(), ConnectionLost)
            with pytest.raises(InternalServerError):
                client.create_thread_and_run_stream("asst_1")
        assert names_and_data(client.create_thread_and_run_stream("asst_1")) == EVENTS
    pool.close()


def test_wrapping_the_official_sdk_raw_streaming_response() -> None:
    import openai

    with ReplayServer([sse_reply(TEXT_PATH)]) as server:
        sdk = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        with sdk.beta.threads.runs.with_streaming_response.create(
            thread_id="thread_1", assistant_id="asst_1", stream=True
        ) as response:
            stream = from_openai_response(response)
            assert names_and_data(stream) == EVENTS
            assert stream.err() is None
        sdk.close()
    assert server.requests[0].path == "/v1/threads/thread_1/runs"


@pytest.mark.anyio
async def test_async_whole_run_and_idle_timeout() -> None:
    stall_at = boundaries(TEXT)[2]
    replies = [sse_reply(TEXT_PATH, chunk_size=128), sse_reply(TEXT_PATH, stall_at=stall_at, stall_for=1.5)]
    with ReplayServer(replies, repeat_last=False) as server:
        async with AsyncClient("k", base_url=server.base_url, timeouts=Timeouts(idle=0.3)) as client:
            stream = await client.create_thread_and_run_stream("asst_1")
            assert [(e.raw.event, e.raw.data) async for e in stream] == EVENTS  # type: ignore[attr-defined]
            stream = await client.create_thread_and_run_stream("asst_1")
            started = time.monotonic()
            while await stream.next():
                pass
            assert time.monotonic() - started < 1.4
    error = stream.err()
    assert isinstance(error, StreamTimeout) and error.kind == "idle"


@pytest.mark.anyio
async def test_async_total_deadline() -> None:
    with ReplayServer([sse_reply(TEXT_PATH, chunk_size=200, delay=0.05)]) as server:
        async with AsyncClient("k", base_url=server.base_url, timeouts=Timeouts(total=0.3)) as client:
            stream = await client.create_thread_and_run_stream("asst_1")
            while await stream.next():
                pass
    error = stream.err()
    assert isinstance(error, StreamTimeout) and error.kind == "total"


@pytest.mark.anyio
async def test_async_cancellation_releases_the_connection() -> None:
    pool = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(2.0, pool=1.0))
    with ReplayServer([sse_reply(TEXT_PATH, chunk_size=32, delay=0.01)]) as server:
        client = AsyncClient("k", base_url=server.base_url, http_client=pool)
        for _ in range(5):
            stream = await client.create_thread_and_run_stream("asst_1")

            async def consume(stream: AsyncRunStream) -> None:
                async with stream:
                    while await stream.next():
                        pass

            task = asyncio.create_task(consume(stream))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert stream.closed
        stream = await client.create_thread_and_run_stream("asst_1")
        assert len([e async for e in stream]) == len(EVENTS)
    await pool.aclose()


@pytest.mark.anyio
async def test_async_tool_call_round_trip() -> None:
    replies = [
        sse_reply(RECORDINGS / "synthetic_function_call_01.sse"),
        sse_reply(RECORDINGS / "synthetic_function_call_02_continue.sse"),
    ]
    with ReplayServer(replies) as server:
        async with AsyncClient("k", base_url=server.base_url) as client:
            stream = await client.create_thread_and_run_stream("asst_1")
            while await stream.next():
                calls, ok = stream.required_action()
                if ok:
                    await stream.submit_tool_outputs([{"tool_call_id": c.id, "output": "18C"} for c in calls])
    assert stream.err() is None and stream.text() == "It is 18 \u00b0C and clear in Paris."
