"""Property tests: chunking invariance, round trip, agreement with the reference decoder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamer.errors import EventTooLarge
from streamer.sse import Decoder, Event, encode

from .sse_reference import reference_decode

# Bytes biased towards the interesting parts of the grammar.
FRAGMENTS = st.sampled_from(
    [
        b"data",
        b"data:",
        b"data: ",
        b"event:",
        b"id:",
        b"retry:",
        b"retry:12",
        b":",
        b" ",
        b"\n",
        b"\r",
        b"\r\n",
        b"\x00",
        b"\xef\xbb\xbf",
        b"\xe2\x82\xac",
        b"\xe2\x82",
        b"\xff",
        b"x",
        b"7",
        "\U0001f600".encode(),
    ]
)
STREAMS = st.one_of(st.lists(FRAGMENTS, max_size=60).map(b"".join), st.binary(max_size=200))


def decode_in(chunks: list[bytes]) -> tuple[list[Event], bool]:
    decoder = Decoder()
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder.truncated


@st.composite
def split_stream(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    stream = draw(STREAMS)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    return stream, chunks


@given(split_stream())
def test_output_does_not_depend_on_chunking(case: tuple[bytes, list[bytes]]) -> None:
    stream, chunks = case
    assert decode_in(chunks) == decode_in([stream])


@given(STREAMS)
def test_one_byte_at_a_time_equals_whole(stream: bytes) -> None:
    assert decode_in([stream[i : i + 1] for i in range(len(stream))]) == decode_in([stream])


@given(split_stream())
def test_agrees_with_reference_decoder(case: tuple[bytes, list[bytes]]) -> None:
    stream, chunks = case
    assert decode_in(chunks) == reference_decode(stream)


LINE_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=30)
EVENTS = st.builds(
    Event,
    event=LINE_TEXT.filter(bool),
    data=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=80),
    id=st.none() | LINE_TEXT.filter(lambda s: "\x00" not in s),
    retry=st.none() | st.integers(0, 10**12),
)


@given(EVENTS)
def test_encode_then_decode_round_trips(event: Event) -> None:
    assert decode_in([encode(event)]) == ([event], False)


@given(st.lists(EVENTS, max_size=10))
def test_encoded_sequence_decodes_in_order(events: list[Event]) -> None:
    decoded, truncated = decode_in([b"".join(encode(e) for e in events)])
    assert not truncated
    assert [(e.event, e.data) for e in decoded] == [(e.event, e.data) for e in events]


def decode_bounded(chunks: list[bytes], limit: int) -> tuple[list[Event], int | None]:
    decoder = Decoder(max_event_size=limit)
    events: list[Event] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        decoder.close()
    except EventTooLarge as exc:
        return events, exc.offset
    return events, None


@given(split_stream(), st.integers(1, 40))
def test_size_limit_does_not_depend_on_chunking(case: tuple[bytes, list[bytes]], limit: int) -> None:
    stream, chunks = case
    assert decode_bounded(chunks, limit) == decode_bounded([stream], limit)


# Lines close to the shape the whole-buffer path takes (`event: X` then `data: Y`, or `data: Y`),
# with the near misses that must send a buffer down the line-by-line walk instead.
SERVER_LINES = st.sampled_from(
    [
        b"event: a",
        b"event: b",
        b"event: ",
        b"event: \xe2\x82",
        b"data: {}",
        b"data: x",
        b"data: ",
        b"data: \xf0\x9f\x98\x80",
        b"data: event: a",
        b"data:x",
        b"id: 1",
        b"retry: 9",
        b": note",
        b"",
    ]
)
SERVER_STREAMS = st.lists(SERVER_LINES, max_size=40).map(
    lambda lines: b"".join(line + b"\n" for line in lines)
)


@given(SERVER_STREAMS, st.lists(st.integers(0, 400), max_size=6))
def test_server_shaped_streams_agree_with_reference(stream: bytes, cuts: list[int]) -> None:
    bounds = sorted(min(cut, len(stream)) for cut in cuts)
    chunks = [stream[a:b] for a, b in zip([0, *bounds], [*bounds, len(stream)])]
    assert decode_in(chunks) == reference_decode(stream)
