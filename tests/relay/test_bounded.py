"""Bounded memory: many subscribers over real sockets, one never reading; it is dropped by the stated
policy (more than ``buffer`` entries waiting), memory stays bounded, and every other subscriber gets
every event, in order. (The benchmark runs the same with 1,000 subscribers.)"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator

import psutil

from streamer import AsyncScanner, sse
from streamer.relay import MemoryStore, Relay, json_events

from .conftest import ThreadServer

SUBSCRIBERS = 60
EVENTS = 3000
SIZE = 3000  # bytes of data per event: 9 MB in all, more than the kernel buffers a never-reading client fills


def upstream(started: asyncio.Event | threading.Event) -> AsyncScanner[str]:
    async def source() -> AsyncIterator[str]:
        while not started.is_set():
            await asyncio.sleep(0.01)
        for n in range(EVENTS):
            if n % 5 == 0:
                await asyncio.sleep(0.002)
            yield f"{n:06d}" + "x" * (SIZE - 6)

    return AsyncScanner(source())


async def subscriber(port: int) -> tuple[list[int], str]:
    """Read the stream over HTTP/1.0 (body to EOF), reconnecting with Last-Event-ID as EventSource
    does if the relay drops it; returns (every id received, in order, last event type)."""
    ids: list[int] = []
    last_type = ""
    while last_type != "done":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        resume = f"Last-Event-ID: {ids[-1]}\r\n" if ids else ""
        writer.write(f"GET /events/fan HTTP/1.0\r\nHost: relay\r\n{resume}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n", 1)[0], head
        decoder = sse.Decoder()
        while chunk := await reader.read(1 << 16):
            for event in decoder.feed(chunk):
                ids.append(int(event.id or 0))
                last_type = event.event
        writer.close()
    return ids, last_type


def test_one_never_reading_subscriber_is_dropped_and_the_others_get_everything() -> None:
    started = threading.Event()
    relay = Relay(MemoryStore(), encode=json_events, buffer=256)

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http":
            await relay.response("fan", lambda: upstream(started))(scope, receive, send)  # type: ignore[arg-type]

    server = ThreadServer(app)
    process = psutil.Process()
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        slow.connect(("127.0.0.1", server.port))
        slow.sendall(b"GET /events/fan HTTP/1.0\r\nHost: relay\r\n\r\n")  # and never reads
        before = process.memory_info().rss
        peak = before

        async def run() -> list[tuple[list[int], str]]:
            nonlocal peak
            tasks = [asyncio.ensure_future(subscriber(server.port)) for _ in range(SUBSCRIBERS)]
            await asyncio.sleep(0.5)  # every subscriber connected
            started.set()
            while not all(task.done() for task in tasks):
                peak = max(peak, process.memory_info().rss)
                await asyncio.wait(tasks, timeout=0.1)
            return [task.result() for task in tasks]

        results = asyncio.run(asyncio.wait_for(run(), 300))
        slow.settimeout(30)  # the relay let the silent client go: its connection ends
        while slow.recv(1 << 20):
            pass
    finally:
        slow.close()
        server.stop()
    # every event, once, in order, then done (a reader the busy machine made lag resumed)
    assert results == [(list(range(1, EVENTS + 2)), "done")] * SUBSCRIBERS
    assert relay.dropped >= 1  # the never-reading one (and any reader that fell `buffer` behind)
    stream_bytes = EVENTS * SIZE
    # the store keeps the stream once; each subscriber costs at most its buffer's references and
    # about two sends of 64 KiB in flight, whatever the clients do
    assert peak - before < 3 * stream_bytes + SUBSCRIBERS * 256 * 1024 + 64 * 2**20, (peak - before) / 2**20
