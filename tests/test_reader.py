"""TextReader: an io.RawIOBase over text pieces, used by every stream's text_reader()."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import StreamAPIError, StreamReadError, UnexpectedEOF
from streamer.openai import RunStream
from streamer.reader import TextReader

from .conftest import RECORDINGS

TEXT = (RECORDINGS / "synthetic_text_01.sse").read_bytes()
ERROR = (RECORDINGS / "synthetic_error_event_01.sse").read_bytes()


def delta_stream(pieces: list[str]) -> bytes:
    """An Assistants stream whose message deltas carry ``pieces``."""
    events = [
        sse.Event(
            "thread.message.delta",
            json.dumps(
                {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": p}}]}}
            ),
        )
        for p in pieces
    ]
    return b"".join(sse.encode(e) for e in events) + sse.encode(sse.Event("done", "[DONE]"))


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def failing(pieces: list[str]) -> Iterator[str]:
    yield from pieces
    raise UnexpectedEOF("cut")


def test_readinto_returns_what_is_available_without_waiting_to_fill() -> None:
    reader = TextReader(iter(["ab", "c"]))
    buffer = bytearray(10)
    assert reader.readinto(buffer) == 2
    assert bytes(buffer[:2]) == b"ab"
    assert reader.readinto(buffer) == 1
    assert reader.readinto(buffer) == 0


def test_reads_utf8_bytes_one_byte_at_a_time() -> None:
    reader = TextReader(iter(["h\u00e9", "\U0001f600"]))
    out = b""
    while byte := reader.read(1):
        out += byte
    assert out == "h\u00e9\U0001f600".encode()


def test_empty_pieces_are_skipped_not_taken_for_the_end() -> None:
    assert TextReader(iter(["", "a", "", "b"])).readall() == b"ab"


def test_text_io_wrapper_decodes_characters_split_across_reads() -> None:
    raw = TextReader(iter(["\u65e5", "\u672c\u8a9e", "\n", "line two\n"]))
    wrapper = io.TextIOWrapper(io.BufferedReader(raw, buffer_size=1), encoding="utf-8")
    assert wrapper.readline() == "\u65e5\u672c\u8a9e\n"
    assert wrapper.read() == "line two\n"


def test_readline_on_the_raw_reader() -> None:
    reader = TextReader(iter(["one\ntw", "o\n"]))
    assert reader.readline() == b"one\n"
    assert reader.readline() == b"two\n"
    assert reader.readline() == b""


def test_copyfileobj_streams_a_recording() -> None:
    stream = RunStream.from_chunks(chunked(TEXT, 13))
    out = io.BytesIO()
    shutil.copyfileobj(stream.text_reader(), out)
    assert out.getvalue().decode() == stream.text()
    assert stream.err() is None


def test_stream_error_surfaces_as_oserror_with_the_cause() -> None:
    reader = RunStream.from_chunks([ERROR]).text_reader()
    with pytest.raises(OSError) as info:
        shutil.copyfileobj(reader, io.BytesIO())
    assert isinstance(info.value, StreamReadError)
    assert isinstance(info.value.__cause__, StreamAPIError)


def test_truncated_stream_fails_the_copy() -> None:
    reader = RunStream.from_chunks([TEXT[:-40]]).text_reader()
    with pytest.raises(StreamReadError) as info:
        reader.readall()
    assert isinstance(info.value.__cause__, UnexpectedEOF)


def test_error_after_some_text_keeps_what_was_read() -> None:
    reader = TextReader(failing(["abc"]))
    assert reader.read(10) == b"abc"
    with pytest.raises(StreamReadError):
        reader.read(10)


def test_closing_the_reader_closes_the_stream() -> None:
    stream = RunStream.from_chunks([TEXT])
    reader = stream.text_reader()
    assert reader.read(3)
    reader.close()
    reader.close()
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


def test_reader_is_readable_only() -> None:
    reader = TextReader(iter([]))
    assert reader.readable()
    assert not reader.writable()
    assert not reader.seekable()


@given(
    st.lists(st.text(max_size=12), max_size=15),
    st.integers(1, 97),
    st.integers(1, 17),
    st.sampled_from(["raw", "buffered", "text"]),
)
def test_bytes_read_equal_the_utf8_of_the_text_deltas(
    pieces: list[str], chunk: int, size: int, how: str
) -> None:
    pieces = [p.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for p in pieces]
    reader = RunStream.from_chunks(chunked(delta_stream(pieces), chunk)).text_reader()
    expected = "".join(pieces)
    if how == "raw":
        out = b""
        while data := reader.read(size):
            out += data
        assert out == expected.encode()
    elif how == "buffered":
        assert io.BufferedReader(reader, buffer_size=size).read() == expected.encode()
    else:
        wrapper = io.TextIOWrapper(io.BufferedReader(reader, buffer_size=size), encoding="utf-8", newline="")
        assert wrapper.read() == expected
