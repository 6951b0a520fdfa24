"""The client under real load, through raw sockets on 127.0.0.1 that count connections and requests:
keep-alive reuse, the pool limit, dropped streams, close() from another thread, transport faults
that must arrive typed, retry safety and the idempotency key, and logging."""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import logging
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Callable

import anyio
import httpx
import pytest

from streamer.errors import (
    APIError,
    BadRequestError,
    ConnectionLost,
    InternalServerError,
    ProtocolError,
    StreamError,
    StreamTimeout,
)
from streamer.openai._body import DRAIN_SECONDS
from streamer.openai._http_errors import HTTPX_ERRORS, translate
from streamer.openai.client import AsyncClient, Client, RetryPolicy, Timeouts

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)
KEY = "sk-secret-key-0123456789"


def chat_events(n: int, *, prefix: str = "w") -> list[bytes]:
    """``n`` chat.completion.chunk events with content ``{prefix}{i} `` and the ``[DONE]`` marker."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    out = []
    for i in range(n):
        choice = {"index": 0, "delta": {"content": f"{prefix}{i} "}, "finish_reason": None}
        out.append(b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def chat_text(n: int, prefix: str = "w") -> str:
    return "".join(f"{prefix}{i} " for i in range(n))


class Conn:
    """One accepted connection: read requests, write raw bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def read_request(self) -> dict[str, str] | None:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        headers[":request-line"] = lines[0]
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        self.buffer = self.buffer[length:]
        return headers

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def start_sse(self, extra: str = "") -> None:
        self.send(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
            + extra.encode()
            + b"\r\n"
        )

    def chunk(self, data: bytes) -> None:
        self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.send(b"0\r\n\r\n")

    def status(self, code: int, body: bytes = b"{}", extra: str = "") -> None:
        self.send(
            f"HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )


Handler = Callable[[Conn, dict[str, str], int], bool]


class RawServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 written on plain sockets.

    ``handler(conn, headers, index)`` answers request number ``index`` and returns True to keep the
    connection for another request. ``connections`` counts accepted connections; ``requests`` keeps
    each request's headers.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.connections = 0
        self.requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.socks: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.listener.close()
        with self.lock:
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock)
        try:
            while True:
                headers = conn.read_request()
                if headers is None:
                    return
                with self.lock:
                    index = len(self.requests)
                    self.requests.append(headers)
                if not self.handler(conn, headers, index):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()


def sse_handler(n: int = 5, *, after_done: Callable[[Conn], bool] | None = None) -> Handler:
    """Answer with ``n`` chat deltas and [DONE]; then the terminator (or ``after_done``)."""

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(b"".join(chat_events(n, prefix=f"s{index}-")))
        if after_done is not None:
            return after_done(conn)
        conn.end_chunks()
        return True

    return handle


def stall_forever(conn: Conn) -> bool:
    time.sleep(30)
    return False


def read_text(stream: object) -> str:
    while stream.next():  # type: ignore[attr-defined]
        pass
    assert stream.err() is None  # type: ignore[attr-defined]
    return stream.text()  # type: ignore[attr-defined,no-any-return]


# 1. keep-alive --------------------------------------------------------------------------------


def test_twenty_sequential_streams_use_one_connection() -> None:
    with RawServer(sse_handler()) as server, Client(KEY, base_url=server.base_url) as client:
        for i in range(20):
            with client.chat_completions_stream(model="m", messages=[]) as stream:
                assert read_text(stream) == chat_text(5, f"s{i}-")
    assert len(server.requests) == 20
    assert server.connections == 1


def test_a_stream_closed_before_its_end_closes_its_connection_without_draining() -> None:
    # A live stream closed early would keep sending: waiting for its end would only delay close().
    with RawServer(sse_handler(3)) as server, Client(KEY, base_url=server.base_url) as client:
        for _ in range(3):
            stream = client.chat_completions_stream(model="m", messages=[])
            assert stream.next()
            stream.close()
            assert not stream.ended
    assert server.connections == 3


@pytest.mark.anyio
async def test_twenty_sequential_async_streams_use_one_connection() -> None:
    with RawServer(sse_handler()) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            for i in range(20):
                async with await client.chat_completions_stream(model="m", messages=[]) as stream:
                    while await stream.next():
                        pass
                    assert stream.err() is None
                    assert stream.text() == chat_text(5, f"s{i}-")
    assert server.connections == 1


def test_a_body_that_does_not_end_after_done_is_closed_within_the_drain_bound() -> None:
    with (
        RawServer(sse_handler(3, after_done=stall_forever)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        for _ in range(2):
            stream = client.chat_completions_stream(model="m", messages=[])
            started = time.monotonic()
            assert read_text(stream) == chat_text(3, f"s{len(server.requests) - 1}-")
            assert time.monotonic() - started < DRAIN_SECONDS + 5  # not the 60 s idle timeout
    assert server.connections == 2  # the stalled connection was not reused


@pytest.mark.anyio
async def test_an_async_body_that_does_not_end_after_done_is_closed_within_the_drain_bound() -> None:
    with RawServer(sse_handler(3, after_done=stall_forever)) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            for _ in range(2):
                with anyio.fail_after(DRAIN_SECONDS + 5):
                    stream = await client.chat_completions_stream(model="m", messages=[])
                    while await stream.next():
                        pass
                    assert stream.err() is None
    assert server.connections == 2


# 2. the pool ----------------------------------------------------------------------------------


def test_a_full_pool_fails_with_a_pool_timeout_naming_its_size() -> None:
    with (
        RawServer(sse_handler(2, after_done=stall_forever)) as server,
        Client(KEY, base_url=server.base_url, max_connections=1, timeouts=Timeouts(pool=0.3)) as client,
    ):
        held = client.chat_completions_stream(model="m", messages=[])
        assert held.next()
        with pytest.raises(StreamTimeout) as info:
            client.chat_completions_stream(model="m", messages=[])
        held.close()
    assert info.value.kind == "pool"
    assert "max_connections=1" in str(info.value)
    assert "pool" in str(info.value)
    assert len(server.requests) == 1  # the waiting request never went out, and was not retried into it


def test_max_connections_with_an_own_http_client_is_a_usage_error() -> None:
    from streamer.errors import UsageError

    with httpx.Client() as http, pytest.raises(UsageError, match="max_connections"):
        Client(KEY, base_url="http://127.0.0.1:1/v1", http_client=http, max_connections=3)


@pytest.mark.anyio
async def test_two_hundred_concurrent_streams_on_a_default_async_client_are_all_exact() -> None:
    n = 200
    all_open = threading.Barrier(200)  # no body goes out before all 200 streams are open at once

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        with contextlib.suppress(threading.BrokenBarrierError):
            all_open.wait(timeout=30)
        conn.start_sse()
        events = chat_events(n, prefix="x-")
        for start in range(0, len(events), 50):
            conn.chunk(b"".join(events[start : start + 50]))
            time.sleep(0.001)
        conn.end_chunks()
        return True

    results: dict[int, str] = {}
    with RawServer(handle) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:

            async def one(i: int) -> None:
                stream = await client.chat_completions_stream(model="m", messages=[])
                async with stream:
                    while await stream.next():
                        pass
                    assert stream.err() is None
                    results[i] = stream.text()

            with anyio.fail_after(120):
                async with anyio.create_task_group() as tg:
                    for i in range(200):
                        tg.start_soon(one, i)
    assert len(results) == 200
    assert all(text == chat_text(n, "x-") for text in results.values())
    assert len(server.requests) == 200
    assert not all_open.broken


# 3. dropped streams ---------------------------------------------------------------------------


def test_dropped_streams_return_their_connections_at_once_with_a_resource_warning() -> None:
    with (
        RawServer(sse_handler(2, after_done=stall_forever)) as server,
        Client(KEY, base_url=server.base_url, max_connections=2, timeouts=Timeouts(pool=2.0)) as client,
    ):
        gc.disable()  # freeing must not wait for the cyclic garbage collector
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResourceWarning)
                for _ in range(3):
                    stream = client.chat_completions_stream(model="m", messages=[])
                    assert stream.next()
                    del stream
        finally:
            gc.enable()
    assert len(server.requests) == 3
    assert sum(issubclass(w.category, ResourceWarning) for w in caught) >= 2
    assert any("unclosed stream" in str(w.message) for w in caught)


def test_a_stream_read_to_its_end_gives_no_resource_warning() -> None:
    with (
        RawServer(sse_handler()) as server,
        Client(KEY, base_url=server.base_url) as client,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", ResourceWarning)
        stream = client.chat_completions_stream(model="m", messages=[])
        read_text(stream)
        del stream
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# 4. close() from another thread ---------------------------------------------------------------


def test_close_from_another_thread_unblocks_a_blocked_next() -> None:
    def one_event_then_stall(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(chat_events(1)[0])
        time.sleep(30)
        return False

    with RawServer(one_event_then_stall) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.chat_completions_stream(model="m", messages=[])
        assert stream.next()
        outcome: list[object] = []

        def reader() -> None:
            try:
                outcome.append(stream.next())
            except BaseException as exc:  # pragma: no cover - the failure this test guards against
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.3)  # the reader is blocked in its read
        closer_error: list[BaseException] = []
        try:
            stream.close()
        except BaseException as exc:  # pragma: no cover - ValueError: generator already executing
            closer_error.append(exc)
        thread.join(10)  # generous: the point is "not the 60 s idle timeout"
        assert not thread.is_alive()
    assert closer_error == []
    assert outcome == [False]
    assert stream.err() is None
    assert stream.closed


# 5. transport faults arrive typed -------------------------------------------------------------


def test_a_gzip_body_corrupted_mid_stream_ends_with_a_protocol_error() -> None:
    compressor = zlib.compressobj(wbits=31)  # gzip framing
    good = compressor.compress(b"".join(chat_events(20)[:-1])) + compressor.flush(zlib.Z_SYNC_FLUSH)

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse("content-encoding: gzip\r\n")
        conn.chunk(good)  # 20 whole events
        conn.chunk(b"\xff" * 64)  # a deflate block of the invalid type 3
        conn.end_chunks()
        return False

    with RawServer(handle) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.chat_completions_stream(model="m", messages=[])
        while stream.next():
            pass
    error = stream.err()
    assert stream.count == 20
    assert isinstance(error, ProtocolError)
    assert not isinstance(error, httpx.HTTPError)
    assert "decompress" in str(error)


def test_a_redirect_loop_raises_an_api_error() -> None:
    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.send(b"HTTP/1.1 302 Found\r\nlocation: /v1/chat/completions\r\ncontent-length: 0\r\n\r\n")
        return True

    with (
        RawServer(handle) as server,
        httpx.Client(follow_redirects=True) as http,
        Client(KEY, base_url=server.base_url, http_client=http, retry=FAST) as client,
        pytest.raises(APIError, match="redirect"),
    ):
        client.chat_completions_stream(model="m", messages=[])


def test_a_brotli_body_without_brotli_installed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from httpx import _decoders

    monkeypatch.delitem(_decoders.SUPPORTED_DECODERS, "br", raising=False)

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse("content-encoding: br\r\n")
        conn.chunk(b"\x1b\x03\x00\xf8\xa5\x40\x02")  # some brotli bytes
        conn.end_chunks()
        return False

    with (
        RawServer(handle) as server,
        Client(KEY, base_url=server.base_url) as client,
        pytest.raises(ProtocolError, match="brotli"),
    ):
        client.chat_completions_stream(model="m", messages=[])


def _httpx_exception_classes() -> list[type[BaseException]]:
    return sorted(
        (
            obj
            for obj in vars(httpx).values()
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__.startswith("httpx")
        ),
        key=lambda cls: cls.__name__,
    )


def _instance(cls: type[BaseException]) -> BaseException:
    request = httpx.Request("POST", "http://127.0.0.1/v1/x")
    if cls is httpx.HTTPStatusError:
        return cls("bad", request=request, response=httpx.Response(500, request=request))  # type: ignore[call-arg]
    for args in ((), ("boom",)):
        with contextlib.suppress(TypeError):
            return cls(*args)
    raise AssertionError(f"cannot build {cls}")


def test_the_enumeration_finds_httpx_exceptions() -> None:
    names = {cls.__name__ for cls in _httpx_exception_classes()}
    assert {"DecodingError", "TooManyRedirects", "ReadTimeout", "InvalidURL", "StreamClosed"} <= names


@pytest.mark.parametrize("cls", _httpx_exception_classes(), ids=lambda cls: cls.__name__)
def test_every_httpx_exception_is_caught_and_becomes_a_stream_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, HTTPX_ERRORS), f"{cls.__name__} escapes the client's except clauses"
    exc = _instance(cls)
    assert isinstance(exc, Exception)
    for mid_stream in (False, True):
        error = translate(
            exc,
            "http://127.0.0.1/v1/x",
            mid_stream=mid_stream,
            timeout_for=lambda e: StreamTimeout("idle", 1.0, "http://127.0.0.1/v1/x"),
        )
        assert isinstance(error, StreamError)
        assert "127.0.0.1" in str(error)


# 6. retry safety ------------------------------------------------------------------------------


def test_a_server_that_closes_before_answering_gets_the_post_once() -> None:
    def close_at_once(conn: Conn, headers: dict[str, str], index: int) -> bool:
        return False

    with (
        RawServer(close_at_once) as server,
        Client(KEY, base_url=server.base_url, retry=FAST) as client,
        pytest.raises(ConnectionLost, match="before answering"),
    ):
        client.chat_completions_stream(model="m", messages=[])
    assert len(server.requests) == 1


def test_retries_of_one_call_carry_the_same_idempotency_key() -> None:
    def two_500_then_stream(conn: Conn, headers: dict[str, str], index: int) -> bool:
        if index % 3 < 2:
            conn.status(500, b'{"error": {"message": "busy"}}')
            return True
        return sse_handler()(conn, headers, index)

    with (
        RawServer(two_500_then_stream) as server,
        Client(KEY, base_url=server.base_url, retry=FAST) as client,
    ):
        for _ in range(2):
            read_text(client.chat_completions_stream(model="m", messages=[]))
    keys = [r.get("idempotency-key") for r in server.requests]
    assert len(keys) == 6
    assert all(k and k.startswith("streamer-retry-") for k in keys)
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] == keys[4] == keys[5]
    assert keys[0] != keys[3]


def test_x_should_retry_false_stops_a_retryable_status() -> None:
    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.status(503, b'{"error": {"message": "no"}}', "x-should-retry: false\r\n")
        return True

    with (
        RawServer(handle) as server,
        Client(KEY, base_url=server.base_url, retry=FAST) as client,
        pytest.raises(InternalServerError),
    ):
        client.chat_completions_stream(model="m", messages=[])
    assert len(server.requests) == 1


def test_x_should_retry_true_retries_any_status() -> None:
    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.status(400, b'{"error": {"message": "try again"}}', "x-should-retry: true\r\n")
        return True

    with (
        RawServer(handle) as server,
        Client(KEY, base_url=server.base_url, retry=FAST) as client,
        pytest.raises(BadRequestError),
    ):
        client.chat_completions_stream(model="m", messages=[])
    assert len(server.requests) == 3


# 7. logging -----------------------------------------------------------------------------------


def test_debug_logs_requests_retries_and_stream_ends_but_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def one_503_then_stream(conn: Conn, headers: dict[str, str], index: int) -> bool:
        if index == 0:
            conn.status(503, json.dumps({"error": {"message": f"echo {KEY}"}}).encode())
            return True
        return sse_handler()(conn, headers, index)

    caplog.set_level(logging.DEBUG, logger="streamer")
    with (
        RawServer(one_503_then_stream) as server,
        Client(KEY, base_url=server.base_url, retry=FAST) as client,
    ):
        read_text(
            client.chat_completions_stream(model="m", messages=[{"role": "user", "content": "BODYTEXT"}])
        )
    text = caplog.text
    assert "attempt 1" in text
    assert "retry 1 after status 503, waiting" in text
    assert "stream end" in text
    assert KEY not in text
    assert "BODYTEXT" not in text  # no request bodies
    assert "s1-0" not in text  # no response bodies
    assert all(record.name.startswith("streamer") for record in caplog.records)


# Assistants run streams take the same paths --------------------------------------------------


def test_twenty_sequential_run_streams_use_one_connection() -> None:
    from ..conftest import RECORDINGS

    body = (RECORDINGS / "synthetic_text_01.sse").read_bytes()

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(body)
        conn.end_chunks()
        return True

    with RawServer(handle) as server, Client(KEY, base_url=server.base_url) as client:
        texts = set()
        for _ in range(20):
            with client.create_thread_and_run_stream("asst_1") as stream:
                texts.add(read_text(stream))
    assert len(texts) == 1 and texts.pop()
    assert server.connections == 1


def test_close_from_another_thread_unblocks_a_run_stream() -> None:
    from ..conftest import RECORDINGS

    first = (RECORDINGS / "synthetic_text_01.sse").read_bytes().split(b"\n\n")[0] + b"\n\n"

    def one_event_then_stall(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(first)
        time.sleep(30)
        return False

    with RawServer(one_event_then_stall) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.create_thread_and_run_stream("asst_1")
        assert stream.next()
        outcome: list[object] = []
        thread = threading.Thread(target=lambda: outcome.append(stream.next()))
        thread.start()
        time.sleep(0.3)
        stream.close()
        thread.join(10)
        assert not thread.is_alive()
    assert outcome == [False]
    assert stream.err() is None


@pytest.mark.anyio
async def test_aclose_from_another_task_unblocks_a_waiting_next() -> None:
    def one_event_then_stall(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(chat_events(1)[0])
        time.sleep(30)
        return False

    with RawServer(one_event_then_stall) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            stream = await client.chat_completions_stream(model="m", messages=[])
            assert await stream.next()
            outcome: list[bool] = []

            async def reader() -> None:
                outcome.append(await stream.next())

            with anyio.fail_after(10):  # generous: the point is "not the 60 s idle timeout"
                async with anyio.create_task_group() as tg:
                    tg.start_soon(reader)
                    await anyio.sleep(0.3)
                    await stream.aclose()
    assert outcome == [False]
    assert stream.err() is None


def test_dropped_run_streams_return_their_connections_at_once() -> None:
    from ..conftest import RECORDINGS

    first = (RECORDINGS / "synthetic_text_01.sse").read_bytes().split(b"\n\n")[0] + b"\n\n"

    def one_event_then_stall(conn: Conn, headers: dict[str, str], index: int) -> bool:
        conn.start_sse()
        conn.chunk(first)
        time.sleep(30)
        return False

    with (
        RawServer(one_event_then_stall) as server,
        Client(KEY, base_url=server.base_url, max_connections=2, timeouts=Timeouts(pool=1.0)) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ResourceWarning)
        gc.disable()
        try:
            for _ in range(3):
                stream = client.create_thread_and_run_stream("asst_1")
                assert stream.next()
                del stream
        finally:
            gc.enable()


@pytest.mark.anyio
async def test_a_dropped_async_stream_warns_without_waiting_for_the_gc() -> None:
    with RawServer(sse_handler(2, after_done=stall_forever)) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            gc.disable()  # the warning must not wait for the cyclic garbage collector
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ResourceWarning)
                    stream = await client.chat_completions_stream(model="m", messages=[])
                    assert await stream.next()
                    del stream
                    await anyio.sleep(0.1)  # asyncio closes a dropped async generator in a task of its own
            finally:
                gc.enable()
    assert any("unclosed async stream" in str(w.message) for w in caught)


@pytest.mark.anyio
async def test_dropped_async_streams_return_their_connections() -> None:
    with RawServer(sse_handler(2, after_done=stall_forever)) as server:
        async with AsyncClient(
            KEY, base_url=server.base_url, max_connections=2, timeouts=Timeouts(pool=2.0)
        ) as client:
            gc.disable()  # freeing must not wait for the cyclic garbage collector
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ResourceWarning)
                    for _ in range(3):
                        stream = await client.chat_completions_stream(model="m", messages=[])
                        assert await stream.next()
                        del stream
                        await anyio.sleep(0.05)  # asyncio finalizes dropped async generators in a task
            finally:
                gc.enable()
    assert len(server.requests) == 3
