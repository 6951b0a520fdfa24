"""A body's content encoding over real sockets: compressed bodies are decoded, plain ones read raw.

The body reads an uncompressed response through httpx's raw iterator (one layer less per chunk)
and a compressed one through its decoding iterator; both must give the same events, sync and async.
"""

from __future__ import annotations

import zlib

import anyio
import pytest

from streamer.openai.client import AsyncClient, Client

from .test_client_sockets import Conn, RawServer, chat_events, chat_text

KEY = "sk-test-0123456789"
EVENTS = 40


def compress(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        compressor = zlib.compressobj(wbits=31)
    elif encoding == "deflate":
        compressor = zlib.compressobj(wbits=15)
    else:
        return data
    return compressor.compress(data) + compressor.flush()


def serve(encoding: str | None) -> object:
    """The chat events, compressed as a whole in ``encoding``, sent in small HTTP chunks."""

    def handle(conn: Conn, headers: dict[str, str], index: int) -> bool:
        body = compress(b"".join(chat_events(EVENTS)), encoding or "")
        conn.start_sse(f"content-encoding: {encoding}\r\n" if encoding is not None else "")
        for start in range(0, len(body), 37):
            conn.chunk(body[start : start + 37])
        conn.end_chunks()
        return True

    return handle


ENCODINGS = [None, "identity", "gzip", "GZIP", "deflate", " gzip "]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_sync_stream_reads_every_event_in_any_content_encoding(encoding: str | None) -> None:
    with RawServer(serve(encoding)) as server, Client(KEY, base_url=server.base_url) as client:  # type: ignore[arg-type]
        stream = client.chat_completions_stream(model="m", messages=[])
        while stream.next():
            pass
        assert stream.err() is None
        assert stream.text() == chat_text(EVENTS)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_async_stream_reads_every_event_in_any_content_encoding(encoding: str | None) -> None:
    async def read(base_url: str) -> tuple[object, str]:
        async with AsyncClient(KEY, base_url=base_url) as client:
            stream = await client.chat_completions_stream(model="m", messages=[])
            with anyio.fail_after(10):
                while await stream.next():
                    pass
            return stream.err(), stream.text()

    with RawServer(serve(encoding)) as server:  # type: ignore[arg-type]
        error, text = anyio.run(read, server.base_url)
    assert error is None
    assert text == chat_text(EVENTS)
