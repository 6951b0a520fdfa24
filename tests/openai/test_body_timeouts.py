"""Idle and total deadlines of a streaming body, through real sockets on 127.0.0.1, sync and async.

The body reads with httpx's own read timeout (the idle timeout) and a total deadline (async: a
timer on asyncio's loop, else a cancel scope near the deadline; both are run); these tests pin down
which one ends a stream that goes silent or drips forever, for both clients. The bounds
on elapsed time are generous (a busy machine): the point is "the right kind, and no hang".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from streamer.errors import StreamTimeout
from streamer.openai import _body
from streamer.openai.client import AsyncClient, Client, Timeouts

from .test_client_sockets import Conn, RawServer, chat_events

KEY = "sk-test-0123456789"
EVENTS_BEFORE_SILENCE = 3
NO_HANG = 10.0  # seconds; every timeout here is below 1 s


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at the end of a test: silent or dripping handlers stop then."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture(params=["timer", "cancel-scope"])
def deadline_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How an async body keeps its total deadline: asyncio's timer, or (off asyncio) a cancel scope."""
    if request.param == "cancel-scope":
        monkeypatch.setattr(_body, "_deadline_timer", lambda *args: None)
    return str(request.param)


def silent_after_events(stop: threading.Event) -> Any:
    """Three events, one HTTP chunk each, then silence (the connection stays open)."""

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        for event in chat_events(EVENTS_BEFORE_SILENCE)[:-1]:
            conn.chunk(event)
        stop.wait(30)
        return False

    return handle


def drip_forever(stop: threading.Event, every: float = 0.05) -> Any:
    """One event every ``every`` seconds, never the end marker, until the client goes away."""

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        i = 0
        while not stop.is_set():
            conn.chunk(chat_events(1, prefix=f"d{i}-")[0])  # without its [DONE]
            i += 1
            time.sleep(every)
        return False

    return handle


def read_sync(base_url: str, timeouts: Timeouts) -> tuple[int, Any, float]:
    with Client(KEY, base_url=base_url, timeouts=timeouts) as client:
        started = time.monotonic()
        stream = client.chat_completions_stream(model="m", messages=[])
        count = 0
        while stream.next():
            count += 1
        elapsed = time.monotonic() - started
        stream.close()
    return count, stream.err(), elapsed


async def read_async(base_url: str, timeouts: Timeouts, pause: float = 0.0) -> tuple[int, Any, float]:
    async with AsyncClient(KEY, base_url=base_url, timeouts=timeouts) as client:
        started = time.monotonic()
        stream = await client.chat_completions_stream(model="m", messages=[])
        count = 0
        with anyio.fail_after(NO_HANG):
            while await stream.next():
                count += 1
                if pause and count == 1:
                    await anyio.sleep(pause)  # a slow consumer: the deadline passes between reads
        elapsed = time.monotonic() - started
        await stream.aclose()
    return count, stream.err(), elapsed


def read(base_url: str, timeouts: Timeouts, is_async: bool) -> tuple[int, Any, float]:
    if is_async:
        return anyio.run(read_async, base_url, timeouts)
    return read_sync(base_url, timeouts)


CLIENTS = [pytest.param(False, id="Client"), pytest.param(True, id="AsyncClient")]


@pytest.mark.parametrize("is_async", CLIENTS)
@pytest.mark.parametrize("total", [None, 60.0])
def test_a_server_silent_mid_stream_fails_with_the_idle_timeout(
    is_async: bool, total: float | None, stop: threading.Event, deadline_by: str
) -> None:
    with RawServer(silent_after_events(stop)) as server:
        url = server.base_url
        count, error, elapsed = read(url, Timeouts(idle=0.3, total=total), is_async)
    assert count == EVENTS_BEFORE_SILENCE
    assert isinstance(error, StreamTimeout) and error.kind == "idle", error
    assert error.seconds == 0.3
    assert "idle" in str(error) and url in str(error)
    assert 0.25 <= elapsed < NO_HANG


@pytest.mark.parametrize("is_async", CLIENTS)
def test_a_server_silent_mid_stream_with_only_a_total_deadline_fails_with_the_total_deadline(
    is_async: bool, stop: threading.Event, deadline_by: str
) -> None:
    with RawServer(silent_after_events(stop)) as server:
        count, error, elapsed = read(server.base_url, Timeouts(idle=None, total=0.6), is_async)
    assert count == EVENTS_BEFORE_SILENCE
    assert isinstance(error, StreamTimeout) and error.kind == "total", error
    assert error.seconds == 0.6
    assert 0.5 <= elapsed < NO_HANG


@pytest.mark.parametrize("is_async", CLIENTS)
@pytest.mark.parametrize("idle", [None, 0.6])
def test_a_server_that_drips_forever_hits_the_total_deadline(
    is_async: bool, idle: float | None, stop: threading.Event, deadline_by: str
) -> None:
    # Every event arrives well within the idle timeout, so only the total deadline can end it.
    with RawServer(drip_forever(stop)) as server:
        count, error, elapsed = read(server.base_url, Timeouts(idle=idle, total=1.0), is_async)
    assert isinstance(error, StreamTimeout) and error.kind == "total", error
    assert error.seconds == 1.0 and "total" in str(error)
    assert count >= 2  # it did stream before the deadline
    assert 0.9 <= elapsed < NO_HANG


def test_an_async_total_deadline_longer_than_the_idle_timeout_still_ends_a_drip(
    stop: threading.Event, deadline_by: str
) -> None:
    # Without the timer, reads start without a cancel scope (httpx's read timeout of 0.6 s fires
    # before the deadline could) and take one in the deadline's last 0.6 s: the drip still ends.
    with RawServer(drip_forever(stop)) as server:
        count, error, elapsed = anyio.run(read_async, server.base_url, Timeouts(idle=0.6, total=1.5))
    assert isinstance(error, StreamTimeout) and error.kind == "total", error
    assert count >= 2
    assert 1.4 <= elapsed < NO_HANG


def test_an_async_consumer_that_pauses_past_the_total_deadline_gets_it_on_the_next_read(
    stop: threading.Event, deadline_by: str
) -> None:
    with RawServer(drip_forever(stop, every=0.2)) as server:
        count, error, elapsed = anyio.run(read_async, server.base_url, Timeouts(idle=5.0, total=0.5), 1.0)
    assert isinstance(error, StreamTimeout) and error.kind == "total", error
    assert count >= 1
    assert 1.0 <= elapsed < NO_HANG


def test_an_async_body_on_a_socket_sets_one_timer_for_its_total_deadline_and_cancels_it(
    stop: threading.Event,
) -> None:
    timers: list[Any] = []
    real = _body._deadline_timer

    def spy(*args: Any) -> Any:
        timer = real(*args)
        timers.append(timer)
        return timer

    async def go(base_url: str) -> None:
        async with AsyncClient(KEY, base_url=base_url, timeouts=Timeouts(total=30.0)) as client:
            stream = await client.chat_completions_stream(model="m", messages=[])
            assert await stream.next()
            await stream.aclose()

    with pytest.MonkeyPatch.context() as patch, RawServer(drip_forever(stop)) as server:
        patch.setattr(_body, "_deadline_timer", spy)
        anyio.run(go, server.base_url)
    assert len(timers) == 1 and timers[0] is not None
    assert timers[0].cancelled()  # closing the body cancels its timer: nothing fires later
