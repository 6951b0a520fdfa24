"""streamer.relay over real HTTP on 127.0.0.1 (uvicorn): ids, heartbeats, one upstream, errors, resume."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from streamer import AsyncScanner, Scanner, sse
from streamer.errors import StreamError
from streamer.openai import AsyncClient, Client, RunStream
from streamer.relay import MemoryStore, Relay, json_events, relay_response
from streamer.testing.replay import ReplayServer, sse_reply

from ..conftest import RECORDINGS
from .conftest import Cut, ThreadServer, read_events

TEXT = RECORDINGS / "synthetic_text_01.sse"


def expected_deltas() -> list[str]:
    stream = RunStream.from_chunks([TEXT.read_bytes()])
    out = []
    while stream.next():
        text, ok = stream.message_delta_text()
        if ok:
            out.append(text)
    return out


def route(relay: Relay, make: Any) -> Any:
    """A bare ASGI app: GET /events/<id> relays ``make(id)``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        stream_id = scope["path"].rsplit("/", 1)[-1]
        await relay.response(stream_id, lambda: make(stream_id))(scope, receive, send)

    return app


@pytest.fixture
def upstream() -> Iterator[ReplayServer]:
    with ReplayServer([sse_reply(TEXT, chunk_size=64, delay=0.01)]) as server:
        yield server


@pytest.fixture
def model_relay(upstream: ReplayServer) -> Iterator[tuple[str, Relay]]:
    relay = Relay(MemoryStore())
    clients: list[AsyncClient] = []

    def make(stream_id: str) -> Any:
        clients.append(AsyncClient(base_url=upstream.base_url))
        return clients[-1].create_thread_and_run_stream("asst")

    server = ThreadServer(route(relay, make))
    try:
        yield server.url, relay
    finally:
        server.stop()


def ticks(count: int, pause: float) -> Any:
    """An async upstream scanner of ``count`` JSON-able events, ``pause`` s apart."""

    async def source() -> AsyncIterator[dict[str, int]]:
        for n in range(count):
            await asyncio.sleep(pause)
            yield {"n": n}

    return AsyncScanner(source())


def test_every_event_carries_an_increasing_id_and_the_stream_ends_with_done(
    model_relay: tuple[str, Relay],
) -> None:
    url, _ = model_relay
    status, events, ended = read_events(url, "/events/a")
    assert status == 200 and ended
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert [json.loads(e.data) for e in events[:-1]] == expected_deltas()
    assert (events[-1].event, events[-1].data) == ("done", "[DONE]")


def test_the_upstream_runs_once_for_concurrent_and_later_requests(
    model_relay: tuple[str, Relay], upstream: ReplayServer
) -> None:
    url, _ = model_relay
    with httpx.Client(timeout=30) as client, client.stream("GET", f"{url}/events/once") as response:
        second = httpx.get(f"{url}/events/once", timeout=30).text  # joins the running stream
        rest = b"".join(response.iter_bytes())
    later = httpx.get(f"{url}/events/once", timeout=30).text  # after the end: replayed from the store
    assert len(upstream.requests) == 1
    strip = lambda text: [(e.event, e.data, e.id) for e in sse.iter_events([text.encode()])]  # noqa: E731
    assert strip(second) == strip(rest.decode()) == strip(later)


def test_resume_after_last_event_id_gets_exactly_the_rest(model_relay: tuple[str, Relay]) -> None:
    url, _ = model_relay
    _, full, _ = read_events(url, "/events/r")
    _, rest, ended = read_events(url, "/events/r", last_event_id="5")
    assert ended and rest == full[5:]


def test_a_resume_after_the_last_event_gets_204_so_eventsource_stops(model_relay: tuple[str, Relay]) -> None:
    url, _ = model_relay
    _, full, _ = read_events(url, "/events/e")
    status, events, _ = read_events(url, "/events/e", last_event_id=full[-1].id)
    assert (status, events) == (204, [])


@pytest.mark.parametrize("header", ["abc", "-1", "1.5"])
def test_a_malformed_last_event_id_is_400(model_relay: tuple[str, Relay], header: str) -> None:
    url, _ = model_relay
    read_events(url, "/events/m")
    response = httpx.get(f"{url}/events/m", headers={"last-event-id": header}, timeout=30)
    assert response.status_code == 400 and "Last-Event-ID" in response.text


def test_a_last_event_id_the_stream_never_sent_is_400(model_relay: tuple[str, Relay]) -> None:
    url, _ = model_relay
    read_events(url, "/events/n")
    response = httpx.get(f"{url}/events/n", headers={"last-event-id": "999"}, timeout=30)
    assert response.status_code == 400 and "no event 999" in response.text


def test_a_resume_of_an_unknown_stream_is_404(model_relay: tuple[str, Relay], upstream: ReplayServer) -> None:
    url, _ = model_relay
    response = httpx.get(f"{url}/events/never", headers={"last-event-id": "3"}, timeout=30)
    assert response.status_code == 404 and "unknown" in response.text
    assert upstream.requests == []  # a resume never starts an upstream


def test_a_truncated_model_stream_ends_with_an_error_event_carrying_the_typed_message() -> None:
    body = TEXT.read_bytes()
    with ReplayServer([sse_reply(TEXT, chunk_size=64, cut_at=len(body) // 2)]) as upstream:
        relay = Relay(MemoryStore())
        clients: list[AsyncClient] = []

        def make(stream_id: str) -> Any:
            clients.append(AsyncClient(base_url=upstream.base_url))
            return clients[-1].create_thread_and_run_stream("asst")

        server = ThreadServer(route(relay, make))
        try:
            status, events, ended = read_events(server.url, "/events/t", timeout=60)
        finally:
            server.stop()
        with Client(base_url=upstream.base_url) as client:  # the same cut, seen by the client directly
            reference = client.create_thread_and_run_stream("asst")
            while reference.next():
                pass
    error = reference.err()
    assert isinstance(error, StreamError)
    assert status == 200 and ended
    assert events[-1].event == "error"
    assert json.loads(events[-1].data) == {"type": type(error).__name__, "message": str(error)}
    assert [json.loads(e.data) for e in events[:-1]] == expected_deltas()[: len(events) - 1]
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))


def test_a_failure_that_is_not_a_stream_error_names_only_its_class() -> None:
    def make(stream_id: str) -> Any:
        raise RuntimeError("secret server detail")

    server = ThreadServer(route(Relay(MemoryStore()), make))
    try:
        _, events, ended = read_events(server.url, "/events/x")
    finally:
        server.stop()
    assert ended and len(events) == 1 and events[0].event == "error"
    payload = json.loads(events[0].data)
    assert payload["type"] == "RuntimeError" and "secret" not in payload["message"]


def test_heartbeat_comments_flow_while_the_upstream_is_quiet() -> None:
    relay = Relay(MemoryStore(), heartbeat=0.1, encode=json_events)
    server = ThreadServer(route(relay, lambda _: ticks(2, 0.6)))
    try:
        with httpx.stream("GET", f"{server.url}/events/h", timeout=30) as response:
            raw = b"".join(response.iter_bytes())
    finally:
        server.stop()
    assert raw.count(b":\n\n") >= 3  # 1.2 s of quiet at 0.1 s per heartbeat, on a busy machine
    events = list(sse.iter_events([raw]))
    assert [e.data for e in events] == ['{"n":0}', '{"n":1}', "[DONE]"]


def test_a_sync_scanner_upstream_is_relayed_without_blocking_the_loop() -> None:
    def slow() -> Iterator[str]:
        for n in range(3):
            time.sleep(0.2)  # blocking: must run off the event loop
            yield f"tick {n}"

    relay = Relay(MemoryStore(), heartbeat=0.05, encode=json_events)
    server = ThreadServer(route(relay, lambda _: Scanner(slow())))
    try:
        with httpx.stream("GET", f"{server.url}/events/sync", timeout=30) as response:
            raw = b"".join(response.iter_bytes())
    finally:
        server.stop()
    assert [e.data for e in sse.iter_events([raw])] == ['"tick 0"', '"tick 1"', '"tick 2"', "[DONE]"]
    assert raw.count(b":\n\n") >= 2  # heartbeats went out while next() blocked its worker thread


def test_a_disconnected_client_is_noticed_promptly() -> None:
    relay = Relay(MemoryStore(), heartbeat=30, encode=json_events)
    server = ThreadServer(route(relay, lambda _: ticks(1000, 0.05)))
    try:
        status, events, _ = read_events(server.url, "/events/d", cut=_cut(2))
        assert status == 200 and len(events) == 2
        deadline = time.monotonic() + 10
        while sum(len(hub.subscribers) for hub in list(relay._hubs.values())) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(len(hub.subscribers) for hub in list(relay._hubs.values())) == 0
    finally:
        server.stop()


def _cut(events: int) -> Cut:
    return Cut(events, mid_event=False)


def test_nobody_listening_cancels_the_upstream_and_the_stream_still_ends_with_an_error() -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[int]:
        try:
            for n in range(10_000):
                await asyncio.sleep(0.02)
                yield n
        finally:
            closed.append(True)

    relay = Relay(MemoryStore(), heartbeat=0.1, idle_timeout=0.5, encode=json_events)
    server = ThreadServer(route(relay, lambda _: AsyncScanner(source())))
    try:
        read_events(server.url, "/events/idle", cut=_cut(1))
        deadline = time.monotonic() + 20
        while not closed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert closed, "the upstream was not cancelled"
        _, rest, ended = read_events(server.url, "/events/idle", last_event_id="1")
    finally:
        server.stop()
    assert ended and rest[-1].event == "error"
    payload = json.loads(rest[-1].data)
    assert payload["type"] == "RelayCancelled" and "nobody listened" in payload["message"]
    assert [int(e.id or 0) for e in rest] == list(range(2, len(rest) + 2))


def test_max_duration_bounds_the_upstream() -> None:
    relay = Relay(MemoryStore(), max_duration=0.5, encode=json_events)
    server = ThreadServer(route(relay, lambda _: ticks(10_000, 0.02)))
    try:
        _, events, ended = read_events(server.url, "/events/long", timeout=60)
    finally:
        server.stop()
    assert ended and events[-1].event == "error"
    assert "max_duration" in json.loads(events[-1].data)["message"]


def test_relay_response_is_a_response_in_fastapi() -> None:
    from fastapi import FastAPI

    relay = Relay(MemoryStore(), encode=json_events)
    app = FastAPI()

    @app.get("/chat/{stream_id}")
    async def chat(stream_id: str) -> Any:
        return relay_response(stream_id, lambda: ticks(3, 0.01), relay=relay)

    server = ThreadServer(app)
    try:
        _, events, ended = read_events(server.url, "/chat/f")
        _, rest, _ = read_events(server.url, "/chat/f", last_event_id="2")
    finally:
        server.stop()
    assert ended and [e.data for e in events] == ['{"n":0}', '{"n":1}', '{"n":2}', "[DONE]"]
    assert rest == events[2:]


def test_relay_response_in_starlette_on_the_default_memory_store() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def chat(request: Request) -> Any:
        return relay_response(request.path_params["stream_id"], lambda: ticks(2, 0.01))

    server = ThreadServer(Starlette(routes=[Route("/chat/{stream_id}", chat)]))
    try:
        _, events, ended = read_events(server.url, "/chat/s-default")
    finally:
        server.stop()
    assert ended and [e.event for e in events] == ["message", "message", "done"]


def chat_sse(pieces: list[str]) -> bytes:
    chunks = [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        for piece in pieces
    ]
    body = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    return body + b"data: [DONE]\n\n"


def test_a_sync_chat_stream_is_relayed_as_text_deltas_by_default() -> None:
    from streamer.openai import ChatStream

    pieces = ["Hel", "lo, ", "wor", "ld \U0001f642"]
    relay = Relay(MemoryStore())
    server = ThreadServer(route(relay, lambda _: ChatStream.from_chunks([chat_sse(pieces)])))
    try:
        _, events, ended = read_events(server.url, "/events/chat")
    finally:
        server.stop()
    assert ended and [e.event for e in events] == ["delta"] * 4 + ["done"]
    assert [json.loads(e.data) for e in events[:-1]] == pieces


def test_a_truncated_chat_stream_ends_with_the_typed_error() -> None:
    from streamer.openai import ChatStream

    body = chat_sse(["one", "two"])
    cut = body[: body.index(b"[DONE]") - 3]  # ends before [DONE], mid-event
    relay = Relay(MemoryStore())
    server = ThreadServer(route(relay, lambda _: ChatStream.from_chunks([cut])))
    try:
        _, events, ended = read_events(server.url, "/events/chat-cut")
    finally:
        server.stop()
    reference = ChatStream.from_chunks([cut])
    while reference.next():
        pass
    error = reference.err()
    assert isinstance(error, StreamError)
    assert ended and [json.loads(e.data) for e in events[:-1]] == ["one", "two"]
    assert (events[-1].event, json.loads(events[-1].data)) == (
        "error",
        {"type": type(error).__name__, "message": str(error)},
    )


def test_a_swimos_downlink_is_relayed_as_json_and_closed_when_nobody_listens() -> None:
    from streamer.swim.downlink import DownlinkScanner
    from streamer.testing.simulator import StockSimulator

    scanners: list[DownlinkScanner] = []

    def make(_: str) -> DownlinkScanner:
        scanners.append(DownlinkScanner(feed.url, "/stock/AAAA", "status"))
        return scanners[-1]

    with StockSimulator(rate=100) as feed:
        relay = Relay(MemoryStore(), encode=json_events, heartbeat=0.2, idle_timeout=1.0)
        server = ThreadServer(route(relay, make))
        try:
            status, events, _ = read_events(server.url, "/events/stock", cut=Cut(5, mid_event=False))
            deadline = time.monotonic() + 30
            while not (scanners and scanners[0].closed) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            server.stop()
    assert status == 200 and len(events) == 5
    updates = [json.loads(e.data) for e in events]
    assert all(u["node"] == "/stock/AAAA" and u["lane"] == "status" for u in updates)
    assert [u["seq"] for u in updates] == sorted(u["seq"] for u in updates)
    assert scanners[0].closed, "the downlink was not closed after nobody listened"


def test_describe_error_chooses_what_the_browser_is_told() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise StreamError("upstream at http://10.0.0.7/v1 failed")

    relay = Relay(
        MemoryStore(), encode=json_events, describe_error=lambda e: json.dumps({"type": type(e).__name__})
    )
    server = ThreadServer(route(relay, lambda _: AsyncScanner(failing())))
    try:
        _, events, ended = read_events(server.url, "/events/private")
    finally:
        server.stop()
    assert ended and [(e.event, e.data) for e in events] == [
        ("message", "1"),
        ("error", '{"type": "StreamError"}'),
    ]
