"""Exactly once across cuts: a client cuts its connection at every event boundary and in the middle of
events, and resumes with Last-Event-ID; on one process (MemoryStore) and alternating between two relay
processes that share one real Redis (RedisStore)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from streamer import sse
from streamer.openai import RunStream
from streamer.testing.replay import ReplayServer, sse_reply

from ..conftest import RECORDINGS
from .conftest import Cut, ProcessServer, RedisServer, ThreadServer, read_events

TEXT = RECORDINGS / "synthetic_text_01.sse"


def upstream_events() -> list[tuple[str, str]]:
    """What the relay must deliver: the model's text deltas, then done."""
    stream = RunStream.from_chunks([TEXT.read_bytes()])
    out = []
    while stream.next():
        text, ok = stream.message_delta_text()
        if ok:
            out.append(("delta", text))
    return [*out, ("done", "[DONE]")]


def receive_with_cuts(urls: list[str], stream_id: str, parity: int) -> tuple[list[sse.Event], int]:
    """Take one new event per connection, cutting right after it or halfway into the next one
    (alternately), each time reconnecting to the next relay with Last-Event-ID; returns the events
    received and the number of connections."""
    received: list[sse.Event] = []
    last: str | None = None
    connections = 0
    while connections < 200:
        url = urls[connections % len(urls)]
        cut = Cut(1, mid_event=(connections + parity) % 2 == 1)
        status, events, ended = read_events(url, f"/events/{stream_id}", last_event_id=last, cut=cut)
        connections += 1
        if status == 204:  # everything was received: EventSource stops here
            break
        assert status == 200, status
        received.extend(events)
        if events:
            last = events[-1].id
        if ended:
            break
    return received, connections


def check_exactly_once(received: list[sse.Event]) -> None:
    assert [int(e.id or 0) for e in received] == list(range(1, len(received) + 1)), "lost or repeated ids"
    got = [(e.event, json.loads(e.data) if e.event == "delta" else e.data) for e in received]
    assert got == upstream_events()


@pytest.fixture
def upstream() -> Iterator[ReplayServer]:
    with ReplayServer([sse_reply(TEXT, chunk_size=48, delay=0.02)]) as server:
        yield server


def example_app(base_url: str, store: object = None) -> object:
    from ..test_relay_server import load_example

    return load_example().make_app(base_url, store)


@pytest.mark.parametrize("parity", [0, 1])
def test_exactly_once_across_cuts_on_one_process_with_memory_store(
    upstream: ReplayServer, parity: int
) -> None:
    server = ThreadServer(example_app(upstream.base_url))
    try:
        received, connections = receive_with_cuts([server.url], "mem", parity)
    finally:
        server.stop()
    check_exactly_once(received)
    assert connections >= len(upstream_events())  # one cut per event at least
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("parity", [0, 1])
def test_exactly_once_across_cuts_alternating_two_relay_processes_on_one_redis(
    upstream: ReplayServer, redis_server: RedisServer, parity: int
) -> None:
    args = ["--redis", redis_server.url, "--upstream", upstream.base_url]
    one = ProcessServer(*args)
    try:
        two = ProcessServer(*args)
    except BaseException:
        one.stop()
        raise
    try:
        received, connections = receive_with_cuts([one.url, two.url], f"redis-{uuid.uuid4().hex}", parity)
    finally:
        errors = one.stop() + two.stop()
    check_exactly_once(received)
    assert connections >= len(upstream_events())
    assert len(upstream.requests) == 1, "the upstream must run once across both processes"
    assert "Traceback" not in errors, errors[-3000:]
