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


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
# st.text() drops surrogates whatever the alphabet, so the strings are joined from characters.
TEXT_WITH_SURROGATES = st.lists(st.one_of(st.characters(), SURROGATES), max_size=12).map("".join)


def whatwg_utf8(text: str) -> bytes:
    """What a WHATWG TextEncoder gives: UTF-8, each lone surrogate as U+FFFD (written independently)."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text).encode("utf-8")


def test_a_read_after_the_error_raises_the_same_error_again_not_eof() -> None:
    reader = TextReader(failing(["abc"]))
    assert reader.read(10) == b"abc"
    with pytest.raises(StreamReadError) as first:
        reader.read(10)
    for _ in range(3):
        with pytest.raises(StreamReadError) as again:
            reader.read(10)
        assert again.value is first.value
        assert isinstance(again.value.__cause__, UnexpectedEOF)
    with pytest.raises(StreamReadError):
        reader.readinto(bytearray(4))
    with pytest.raises(StreamReadError):
        reader.readall()


def test_a_truncated_stream_never_looks_like_eof_to_a_second_copy() -> None:
    reader = RunStream.from_chunks([TEXT[:-40]]).text_reader()
    with pytest.raises(StreamReadError):
        shutil.copyfileobj(reader, io.BytesIO())
    with pytest.raises(StreamReadError) as info:
        shutil.copyfileobj(reader, io.BytesIO())
    assert isinstance(info.value.__cause__, UnexpectedEOF)


def test_a_lone_surrogate_from_json_becomes_the_replacement_character() -> None:
    body = delta_stream(["a", "\ud800", "b\udfffc"])
    assert b"\\ud800" in body  # JSON carries the lone surrogate as an escape
    reader = RunStream.from_chunks([body]).text_reader()
    assert reader.readall() == "a\ufffdb\ufffdc".encode()


def test_a_surrogate_pair_split_across_pieces_is_two_replacement_characters() -> None:
    # Python strings keep the halves as two code points; each is lone on its own.
    assert TextReader(iter(["\ud83d", "\ude00"])).readall() == "\ufffd\ufffd".encode()


@given(st.lists(TEXT_WITH_SURROGATES, max_size=12), st.integers(1, 17))
def test_the_bytes_are_always_valid_utf8_with_surrogates_replaced(pieces: list[str], size: int) -> None:
    reader = TextReader(iter(pieces))
    out = b""
    while data := reader.read(size):
        out += data
    out.decode("utf-8")  # strict: raises on any invalid byte
    assert out == whatwg_utf8("".join(pieces))


@given(st.lists(TEXT_WITH_SURROGATES, max_size=12), st.integers(1, 97), st.integers(1, 17))
def test_a_run_stream_with_surrogates_reads_as_valid_utf8(pieces: list[str], chunk: int, size: int) -> None:
    reader = RunStream.from_chunks(chunked(delta_stream(pieces), chunk)).text_reader()
    # JSON joins a high and low surrogate escape inside one string into one character.
    decoded = "".join(json.loads(json.dumps(p)) for p in pieces)
    assert io.BufferedReader(reader, buffer_size=size).read() == whatwg_utf8(decoded)


@given(st.lists(st.text(max_size=8), max_size=8), st.integers(1, 5), st.integers(1, 9))
def test_every_read_after_a_failure_raises_it(pieces: list[str], reads: int, size: int) -> None:
    reader = TextReader(failing(pieces))
    out = b""
    with pytest.raises(StreamReadError) as first:
        while data := reader.read(size):
            out += data
    assert out == "".join(pieces).encode()
    for _ in range(reads):
        with pytest.raises(StreamReadError) as again:
            reader.read(size)
        assert again.value is first.value
