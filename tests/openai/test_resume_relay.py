"""``Client.stream(..., reconnect=...)`` against ``streamer.relay`` (examples/relay_server.py over uvicorn).

A small TCP proxy between the client and the relay cuts the first connection after a number of
bytes (somewhere inside an event, or between two); the client reconnects with ``Last-Event-ID`` and
must get exactly the events of an uncut read, then the relay's 204 ends the stream cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from streamer import sse
from streamer.openai.client import AsyncClient, Client, Resume

from ..test_relay_server import relay  # noqa: F401  (the fixture: the relay over uvicorn)

QUICK = Resume(attempts=3, initial_backoff=0.0)


class CuttingProxy:
    """Forwards TCP connections to ``port``; the first one is cut after ``cut_at`` bytes of answer."""

    def __init__(self, port: int, cut_at: int) -> None:
        self.port = port
        self.cut_at = cut_at
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut_at if self.connections == 1 else None
            threading.Thread(target=self._serve, args=(client, limit), daemon=True).start()

    def _serve(self, client: socket.socket, limit: int | None) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.port))
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        sent = 0
        with contextlib.suppress(OSError):
            while limit is None or sent < limit:
                data = upstream.recv(65536 if limit is None else min(65536, limit - sent))
                if not data:
                    break
                client.sendall(data)
                sent += len(data)
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)


@pytest.fixture
def relay_port(relay: str) -> int:  # noqa: F811
    return int(relay.rsplit(":", 1)[1])


def whole(relay_url: str, stream_id: str) -> list[sse.Event]:
    with httpx.Client() as client:
        return list(sse.iter_events(client.get(f"{relay_url}/events/{stream_id}").iter_bytes()))


@pytest.fixture
def proxy(relay_port: int) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(relay_port, cut_at=700)
    yield proxy
    proxy.close()


def test_a_cut_relay_stream_resumes_exactly_once_and_ends_on_the_relays_204(
    relay: str,  # noqa: F811
    proxy: CuttingProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streamer.client")
    with Client(base_url=proxy.url) as client:
        stream = client.stream("GET", "events/cut", reconnect=QUICK)
        got = list(stream)
    assert stream.err() is None and stream.ended
    assert stream.resumes == 1
    assert proxy.connections == 2  # the cut one, then the resume (its connection is reused for the 204)
    assert "answered 204" in caplog.text
    expected = whole(relay, "cut")
    assert [(e.event, e.data, e.id) for e in got] == [(e.event, e.data, e.id) for e in expected]
    assert got[-1].event == "done"


@pytest.mark.anyio
async def test_async_a_cut_relay_stream_resumes_exactly_once(
    relay: str,  # noqa: F811
    proxy: CuttingProxy,
) -> None:
    async with AsyncClient(base_url=proxy.url) as client:
        stream = await client.stream("GET", "events/cut-async", reconnect=QUICK)
        got = [event async for event in stream]
    assert stream.err() is None and stream.resumes == 1
    expected = whole(relay, "cut-async")
    assert [(e.event, e.data, e.id) for e in got] == [(e.event, e.data, e.id) for e in expected]
