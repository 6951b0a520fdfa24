"""examples/relay_server.py: the ASGI relay over real HTTP, and its page in a real headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from streamer import sse
from streamer.testing.replay import ReplayServer, sse_reply

from .conftest import RECORDINGS, ROOT

TEXT = RECORDINGS / "synthetic_text_01.sse"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relay_server", ROOT / "examples" / "relay_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[str]:
    import uvicorn

    example = load_example()
    with ReplayServer([sse_reply(TEXT, chunk_size=64, delay=0.005)]) as upstream:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                example.make_app(upstream.base_url), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def expected_text() -> str:
    from streamer.openai import RunStream

    stream = RunStream.from_chunks([TEXT.read_bytes()])
    while stream.next():
        pass
    return stream.text()


def test_events_relay_every_delta_then_done(relay: str) -> None:
    with httpx.Client() as client, client.stream("GET", f"{relay}/events/one") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse.iter_events(response.iter_bytes()))
    assert events[-1].event == "done"
    assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)]
    assert "".join(json.loads(e.data) for e in events if e.event == "delta") == expected_text()


def test_events_resume_after_last_event_id(relay: str) -> None:
    with httpx.Client() as client:
        events = list(sse.iter_events(client.get(f"{relay}/events/two").iter_bytes()))
        rest = client.get(f"{relay}/events/two", headers={"last-event-id": "3"})
    assert list(sse.iter_events(rest.iter_bytes())) == events[3:]


def test_page_is_served(relay: str) -> None:
    page = httpx.get(f"{relay}/").text
    assert "EventSource" in page and 'id="out"' in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`; `make test-deps`)"
)
def test_the_page_shows_the_streamed_text_in_headless_chromium(relay: str) -> None:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"{relay}/?id=page",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "Streams flow like rivers" in dom, dom[-2000:]
    assert '<p id="status">done</p>' in dom


def test_example_module_runs_as_a_script_help() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "relay_server.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "--port" in result.stdout and "--redis" in result.stdout
