"""In a real browser: headless Chromium's EventSource survives a cut relay connection and the page
shows the complete answer after the browser's own reconnect with Last-Event-ID."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator

import pytest

from streamer.openai import RunStream
from streamer.testing.replay import ReplayServer, sse_reply

from ..conftest import RECORDINGS
from ..test_relay_server import load_example
from .conftest import ThreadServer

TEXT = RECORDINGS / "synthetic_text_01.sse"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class CutProxy:
    """A TCP proxy on 127.0.0.1 that cuts the first ``/events/`` connection after ``cut_after``
    response bytes, the way a load balancer recycling a connection does."""

    def __init__(self, backend_port: int, cut_after: int) -> None:
        self.backend_port = backend_port
        self.cut_after = cut_after
        self.cuts = 0
        self.event_requests: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        backend = socket.create_connection(("127.0.0.1", self.backend_port))
        cut = threading.Event()  # set when this connection carries the first /events/ request
        threading.Thread(target=self._requests, args=(client, backend, cut), daemon=True).start()
        sent = 0
        try:
            while data := backend.recv(65536):
                if cut.is_set() and sent + len(data) >= self.cut_after:
                    client.sendall(data[: self.cut_after - sent])
                    break
                client.sendall(data)
                if cut.is_set():
                    sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (client, backend):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _requests(self, client: socket.socket, backend: socket.socket, cut: threading.Event) -> None:
        """Forward the browser's requests, noting each one for /events/ (keep-alive reuses connections)."""
        try:
            while data := client.recv(65536):
                if b"GET /events/" in data:
                    with self._lock:
                        self.event_requests.append(data)
                        if self.cuts == 0:
                            self.cuts = 1
                            cut.set()
                backend.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()


@pytest.fixture
def relay_behind_proxy() -> Iterator[CutProxy]:
    with ReplayServer([sse_reply(TEXT, chunk_size=32, delay=0.03)]) as upstream:
        server = ThreadServer(load_example().make_app(upstream.base_url, retry_ms=200))
        proxy = CutProxy(server.port, cut_after=700)
        try:
            yield proxy
        finally:
            proxy.close()
            server.stop()


def expected_text() -> str:
    stream = RunStream.from_chunks([TEXT.read_bytes()])
    while stream.next():
        pass
    return stream.text()


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`; `make test-deps`)"
)
def test_the_page_shows_the_whole_answer_after_the_browser_reconnects_over_a_cut(
    relay_behind_proxy: CutProxy,
) -> None:
    assert CHROMIUM is not None
    proxy = relay_behind_proxy
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=30000",
                "--dump-dom",
                f"http://127.0.0.1:{proxy.port}/?id=browser",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert proxy.cuts == 1 and len(proxy.event_requests) >= 2, (proxy.cuts, proxy.event_requests, dom[-2000:])
    resumed = proxy.event_requests[1].lower()
    assert b"last-event-id: " in resumed, resumed  # the browser's own reconnect, with the last id it saw
    text = expected_text()
    import html

    assert f'<pre id="out">{html.escape(text, quote=False)}</pre>' in dom, dom[-3000:]
    assert '<p id="status">done</p>' in dom
    assert '<p id="opens">connections: 2</p>' in dom  # one cut, one automatic reconnect
