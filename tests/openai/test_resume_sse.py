"""``Client.stream(..., reconnect=...)``: EventSource reconnection through real sockets on 127.0.0.1.

A spec-following server (the replay's ``EventSource`` responder) gives every event an id, resumes
after ``Last-Event-ID``, may send ``retry:``, and answers 204 once the client has everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from streamer import sse
from streamer.errors import ConnectionLost, UnexpectedEOF, UsageError
from streamer.openai.client import AsyncClient, Client, Resume, Timeouts
from streamer.testing.replay import EventSource, Faults, Recorded, Recording, ReplayServer, Reply

QUICK = Resume(attempts=3, initial_backoff=0.0)
COUNT = 12


def write(path: Path, events: list[sse.Event]) -> Recording:
    path.write_bytes(b"".join(sse.encode(event) for event in events))
    return Recording.load(path)


@pytest.fixture(scope="module")
def ticks(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Events with ids 1..COUNT, of varied sizes and with multi-line data."""
    events = [sse.Event("tick", f"event {n}\n" + "x" * (n * 7), str(n)) for n in range(1, COUNT + 1)]
    return write(tmp_path_factory.mktemp("sse") / "ticks.sse", events)


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Events without ids: nothing to resume from."""
    events = [sse.Event("tick", f"event {n}") for n in range(1, 6)]
    return write(tmp_path_factory.mktemp("sse") / "anonymous.sse", events)


class Switch:
    """A responder that passes each request to whichever responder a test sets (one server per module)."""

    def __init__(self) -> None:
        self.current: Callable[[Recorded], Reply] = lambda request: Reply(404)

    def __call__(self, request: Recorded) -> Reply:
        return self.current(request)


@pytest.fixture(scope="module")
def switch() -> Switch:
    return Switch()


@pytest.fixture(scope="module")
def shared(switch: Switch) -> Iterator[ReplayServer]:
    with ReplayServer(responder=switch) as server:
        yield server


def shape(events: list[sse.Event]) -> list[tuple[str, str, str | None]]:
    return [(e.event, e.data, e.id) for e in events]


def cut_positions() -> list[tuple[int, bool]]:
    """Every boundary, and the middle of every event after the first (a server cannot tell a
    reconnect without ``Last-Event-ID`` from a new client, so it would cut inside the first again)."""
    return [(k, False) for k in range(1, COUNT)] + [(k, True) for k in range(1, COUNT)]


@pytest.mark.parametrize(("after", "within"), cut_positions())
def test_a_cut_anywhere_reconnects_with_last_event_id_and_ends_on_204(
    ticks: Recording, shared: ReplayServer, switch: Switch, after: int, within: bool
) -> None:
    switch.current = EventSource(ticks, Faults(cut_after=after, cut_within=within))
    start = len(shared.requests)
    with Client(base_url=shared.base_url) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = list(stream)
    assert stream.err() is None and stream.ended
    assert shape(got) == shape(ticks.events)
    assert stream.resumes == 1
    sent = [r.headers.get("last-event-id") for r in shared.requests[start:]]
    # the cut, the resume after the last whole event, then the reconnect the server answers with 204
    assert sent == [None, str(after), str(COUNT)]


def test_the_server_retry_value_is_waited_before_reconnecting(ticks: Recording) -> None:
    arrived: list[float] = []
    responder = EventSource(ticks, Faults(cut_after=4, retry_ms=250))

    def timed(request: Recorded) -> Reply:
        arrived.append(time.monotonic())
        return responder(request)

    with ReplayServer(responder=timed) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events", reconnect=Resume(attempts=3, initial_backoff=10.0))
        got = list(stream)
    assert stream.err() is None and shape(got) == shape(ticks.events)
    assert all(e.retry == 250 for e in got)
    # a lower bound only (robust on a busy machine): the client waited the server's 250 ms, and not
    # its own 10 s backoff
    assert arrived[1] - arrived[0] >= 0.24
    assert arrived[1] - arrived[0] < 9


def test_a_server_that_never_says_204_spends_the_budget(ticks: Recording) -> None:
    replies = [Reply(body=ticks.body), Reply(body=b": nothing new\n\n")]
    with ReplayServer(replies) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = []
        while stream.next():
            got.append(stream.event())
    error = stream.err()
    assert isinstance(error, UnexpectedEOF) and "204" in str(error)
    assert error.resume_attempts == 3
    assert len(got) == COUNT and len(server.requests) == 4


def test_a_server_that_always_cuts_spends_the_budget_with_the_original_error(ticks: Recording) -> None:
    def respond(request: Recorded) -> Reply:
        faults = Faults(cut_after=0, cut_resumes=True) if request.headers.get("last-event-id") else Faults(3)
        return EventSource(ticks, faults)(request)

    with ReplayServer(responder=respond) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = []
        while stream.next():
            got.append(stream.event())
    error = stream.err()
    assert isinstance(error, ConnectionLost) and error.resume_attempts == 3
    assert error.resume_cause is not None and error.resume_cause is not error
    assert [e.id for e in got] == ["1", "2", "3"]
    assert [r.headers.get("last-event-id") for r in server.requests] == [None, "3", "3", "3"]


def test_events_without_ids_are_not_resumed(anonymous: Recording) -> None:
    responder = EventSource(anonymous, Faults(cut_after=2))
    with ReplayServer(responder=responder) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = []
        while stream.next():
            got.append(stream.event())
    assert isinstance(stream.err(), ConnectionLost)
    assert len(got) == 2 and len(server.requests) == 1


def test_a_clean_end_without_ids_stays_the_end(anonymous: Recording) -> None:
    with (
        ReplayServer(responder=EventSource(anonymous)) as server,
        Client(base_url=server.base_url) as client,
    ):
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = list(stream)
    assert stream.err() is None and len(got) == 5 and len(server.requests) == 1


def test_without_reconnect_a_cut_is_an_error(ticks: Recording) -> None:
    responder = EventSource(ticks, Faults(cut_after=3, cut_within=True))
    with ReplayServer(responder=responder) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events")
        while stream.next():
            pass
    assert isinstance(stream.err(), ConnectionLost) and len(server.requests) == 1


def test_a_reconnect_sends_the_same_request_again(ticks: Recording) -> None:
    responder = EventSource(ticks, Faults(cut_after=5))
    with ReplayServer(responder=responder) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("POST", "events", {"topic": "t"}, reconnect=QUICK)
        assert len(list(stream)) == COUNT
    assert [(r.method, r.body) for r in server.requests] == [("POST", {"topic": "t"})] * 3


def test_close_from_another_thread_during_a_reconnect_wait_returns_promptly(ticks: Recording) -> None:
    responder = EventSource(ticks, Faults(cut_after=4, retry_ms=30_000))
    with ReplayServer(responder=responder) as server, Client(base_url=server.base_url) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        for _ in range(4):
            assert stream.next()
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        assert not stream.next()
    assert time.monotonic() - started < 10  # generous: the point is "not the 30 s wait"
    assert stream.err() is None and len(server.requests) == 1


@pytest.mark.parametrize("bad", [-2, "yes", 2.5])
def test_a_bad_reconnect_budget_is_a_usage_error(bad: object) -> None:
    with Client(base_url="http://127.0.0.1:9") as client, pytest.raises(UsageError, match="reconnect"):
        client.stream("GET", "events", reconnect=bad)  # type: ignore[arg-type]


# --- async ----------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("after", "within"), cut_positions()[::4])
async def test_async_a_cut_reconnects_with_last_event_id(
    ticks: Recording, shared: ReplayServer, switch: Switch, after: int, within: bool
) -> None:
    switch.current = EventSource(ticks, Faults(cut_after=after, cut_within=within, retry_ms=1))
    start = len(shared.requests)
    async with AsyncClient(base_url=shared.base_url) as client:
        stream = await client.stream("GET", "events", reconnect=QUICK)
        got = [event async for event in stream]
    assert stream.err() is None and shape(got) == shape(ticks.events)
    assert stream.resumes == 1 and len(shared.requests) - start == 3


@pytest.mark.anyio
async def test_async_budget_and_close(ticks: Recording, shared: ReplayServer, switch: Switch) -> None:
    switch.current = lambda request: Reply(body=b"" if request.headers.get("last-event-id") else ticks.body)
    async with AsyncClient(base_url=shared.base_url) as client:
        stream = await client.stream("GET", "events", reconnect=QUICK)
        while await stream.next():
            pass
        error = stream.err()
        assert isinstance(error, UnexpectedEOF) and error.resume_attempts == 3

        switch.current = EventSource(ticks, Faults(cut_after=4, retry_ms=30_000))
        stream = await client.stream("GET", "events", reconnect=QUICK)
        for _ in range(4):
            assert await stream.next()
        results: list[bool] = []

        async def read() -> None:
            results.append(await stream.next())

        with anyio.fail_after(10):  # generous: the point is "not the 30 s wait"
            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                await anyio.sleep(0.3)
                await stream.aclose()
    assert results == [False] and stream.err() is None


def test_an_idle_timeout_reconnects(ticks: Recording, shared: ReplayServer, switch: Switch) -> None:
    switch.current = EventSource(ticks, Faults(stall_after=5, stall_for=3.0))
    start = len(shared.requests)
    with Client(base_url=shared.base_url, timeouts=Timeouts(idle=0.4)) as client:
        stream = client.stream("GET", "events", reconnect=QUICK)
        got = list(stream)
    assert stream.err() is None and shape(got) == shape(ticks.events) and stream.resumes == 1
    assert [r.headers.get("last-event-id") for r in shared.requests[start:]] == [None, "5", str(COUNT)]
