"""streamer.sse: the decoder follows WHATWG "Interpreting an event stream" exactly."""

from __future__ import annotations

import copy
import pickle
import random

import pytest

from streamer.errors import EventTooLarge, StreamError, UnexpectedEOF
from streamer.sse import MAX_RETRY, Decoder, Event, aiter_events, encode, encode_comment, iter_events

from .sse_reference import reference_decode


def decode_all(stream: bytes) -> list[Event]:
    decoder = Decoder()
    events = decoder.feed(stream)
    events += decoder.close()
    return events


def data_of(stream: bytes) -> list[str]:
    return [event.data for event in decode_all(stream)]


# Cases written from what the web-platform-tests eventsource/format-* tests specify.
FORMAT_CASES = [
    pytest.param(b"\xef\xbb\xbfdata:1\n\n", ["1"], id="format-bom-stripped-once"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\n", ["2"], id="format-bom-second-one-kept"),
    pytest.param(b":comment\ndata:1\n:another\n\n", ["1"], id="format-comments-ignored"),
    pytest.param(b"data:1\n\ndata:2", ["1"], id="format-data-before-final-empty-line-discarded"),
    pytest.param(b"data:\n\ndata\ndata\n\ndata:test\n\n", ["", "\n", "test"], id="format-field-data"),
    pytest.param(
        b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\ndata:3\r"
        b"data:\r\n data:32\ndata:4\n\n",
        ["\x00\n 2\n1\n3\n\n4"],
        id="format-field-parsing",
    ),
    pytest.param(
        b"data:\ttest\rdata: \ndata:test\n\n", ["\ttest\n\ntest"], id="format-leading-space-only-one"
    ),
    pytest.param(b"data:test\r\ndata\ndata:test\r\n\r", ["test\n\ntest"], id="format-newlines-mixed"),
    pytest.param(b"data:\x00\n\n", ["\x00"], id="format-null-character-in-data"),
    pytest.param("data:\u2026 \u00e9\U0001f600\n\n".encode(), ["\u2026 \u00e9\U0001f600"], id="format-utf-8"),
    pytest.param(b"data:\xff\xfe\n\n", ["\ufffd\ufffd"], id="invalid-utf-8-replaced"),
    pytest.param(b"data:a\xe2\x82\n\n", ["a\ufffd"], id="truncated-multibyte-replaced-once"),
    pytest.param(b"foo:bar\ndata:1\n\n", ["1"], id="format-field-unknown-ignored"),
    pytest.param(b"data:1\n\n\n\ndata:2\n\n", ["1", "2"], id="extra-blank-lines-dispatch-nothing"),
    pytest.param(b"event:x\n\ndata:1\n\n", ["1"], id="empty-data-dispatches-nothing"),
    pytest.param(b"data\n\n", [""], id="field-without-colon-is-empty-value"),
    pytest.param(b"data:a:b\n\n", ["a:b"], id="only-first-colon-splits"),
]


@pytest.mark.parametrize(("stream", "expected"), FORMAT_CASES)
def test_format_case(stream: bytes, expected: list[str]) -> None:
    assert data_of(stream) == expected


def test_event_type_is_set_by_event_field() -> None:
    assert [e.event for e in decode_all(b"event:test\ndata:x\n\n")] == ["test"]


def test_event_type_resets_after_dispatch() -> None:
    assert [e.event for e in decode_all(b"event:test\ndata:x\n\ndata:x\n\n")] == ["test", "message"]


def test_event_type_resets_even_when_nothing_is_dispatched() -> None:
    assert [e.event for e in decode_all(b"event:a\n\ndata:x\n\n")] == ["message"]


def test_empty_event_field_means_message() -> None:
    assert [e.event for e in decode_all(b"event: \ndata:data\n\n")] == ["message"]


def test_id_persists_across_events() -> None:
    assert [e.id for e in decode_all(b"id:1\ndata:a\n\ndata:b\n\n")] == ["1", "1"]


def test_empty_id_resets_last_event_id_to_empty() -> None:
    assert [e.id for e in decode_all(b"id:1\ndata:a\n\nid\ndata:b\n\n")] == ["1", ""]


def test_id_containing_nul_is_ignored() -> None:
    assert [e.id for e in decode_all(b"id:1\ndata:a\n\nid:2\x003\ndata:b\n\n")] == ["1", "1"]


def test_id_without_any_id_field_is_none() -> None:
    assert decode_all(b"data:a\n\n")[0].id is None


def test_last_event_id_updates_on_dispatch_even_without_data() -> None:
    decoder = Decoder()
    decoder.feed(b"id:7\n")
    assert decoder.last_event_id is None
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "7"


def test_retry_all_digits_is_recorded() -> None:
    decoder = Decoder()
    events = decoder.feed(b"retry:1500\ndata:x\n\n")
    assert decoder.retry == 1500
    assert events[0].retry == 1500


@pytest.mark.parametrize("value", [b"", b"  10", b"10 ", b"1.5", b"-1", b"abc", b"\xd9\xa1"], ids=repr)
def test_retry_not_all_ascii_digits_is_ignored(value: bytes) -> None:
    decoder = Decoder()
    decoder.feed(b"retry:100\n\nretry:" + value + b"\ndata:x\n\n")
    assert decoder.retry == 100


def test_retry_keeps_most_recent_value_across_events() -> None:
    assert [e.retry for e in decode_all(b"retry:5\ndata:a\n\ndata:b\n\nretry:6\ndata:c\n\n")] == [5, 5, 6]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = Decoder()
    events = decoder.feed(b"data:a\r")
    events += decoder.feed(b"\ndata:b\r")
    events += decoder.feed(b"\n\r")
    events += decoder.feed(b"\n")
    assert [e.data for e in events] == ["a\nb"]


def test_lone_cr_then_lf_in_next_chunk_after_blank_line() -> None:
    decoder = Decoder()
    events = decoder.feed(b"data:a\r\r")
    events += decoder.feed(b"\ndata:b\n\n")
    assert [e.data for e in events] == ["a", "b"]


def test_multibyte_character_split_across_chunks() -> None:
    payload = "data:\u20ac\U0001f600\n\n".encode()
    decoder = Decoder()
    events = [event for byte in payload for event in decoder.feed(bytes([byte]))]
    assert [e.data for e in events] == ["\u20ac\U0001f600"]


def test_bom_split_across_chunks_is_stripped() -> None:
    decoder = Decoder()
    events = decoder.feed(b"\xef") + decoder.feed(b"\xbb") + decoder.feed(b"\xbfdata:1\n\n")
    assert [e.data for e in events] == ["1"]


def test_bom_not_at_start_is_kept() -> None:
    assert data_of(b"data:\xef\xbb\xbfx\n\n") == ["\ufeffx"]


def test_close_reports_truncated_event() -> None:
    decoder = Decoder()
    assert [e.data for e in decoder.feed(b"data:1\n\ndata:2\n")] == ["1"]
    assert decoder.close() == []
    assert decoder.truncated


def test_close_reports_truncated_line() -> None:
    decoder = Decoder()
    decoder.feed(b"data:1\n\nda")
    decoder.close()
    assert decoder.truncated


def test_close_after_complete_event_is_clean() -> None:
    decoder = Decoder()
    decoder.feed(b"data:1\n\n:keep-alive\n")
    decoder.close()
    assert not decoder.truncated


def test_cut_comment_is_not_a_truncated_event() -> None:
    decoder = Decoder()
    decoder.feed(b"data:1\n\n:keep-al")
    decoder.close()
    assert not decoder.truncated


def test_feed_after_close_is_an_error() -> None:
    decoder = Decoder()
    decoder.close()
    with pytest.raises(ValueError, match="after close"):
        decoder.feed(b"data:1\n\n")


def test_line_over_limit_raises_with_limit_and_offset() -> None:
    decoder = Decoder(max_event_size=100)
    decoder.feed(b"data:ok\n\n")
    with pytest.raises(EventTooLarge) as info:
        decoder.feed(b"data:" + b"x" * 200)
    assert info.value.limit == 100
    assert info.value.offset == 9
    assert "max_event_size=100" in str(info.value)
    assert "byte 9" in str(info.value)


def test_event_over_limit_across_many_lines_raises() -> None:
    decoder = Decoder(max_event_size=100)
    with pytest.raises(EventTooLarge) as info:
        decoder.feed(b"data:0123456789\n" * 20)
    assert info.value.offset == 0


def test_limit_counts_only_the_current_event() -> None:
    decoder = Decoder(max_event_size=100)
    events = decoder.feed(b"data:0123456789012345678901234567890123456789\n\n" * 50)
    assert len(events) == 50


def test_comment_lines_count_towards_event_size() -> None:
    decoder = Decoder(max_event_size=64)
    with pytest.raises(EventTooLarge):
        decoder.feed(b":" + b"x" * 40 + b"\n" + b"data:1\n" + b":" + b"y" * 40 + b"\n\n")


def test_comments_between_events_do_not_accumulate() -> None:
    decoder = Decoder(max_event_size=64)
    events = decoder.feed((b":" + b"x" * 40 + b"\n\ndata:1\n\n") * 100)
    assert len(events) == 100


def test_oversized_comment_line_still_raises() -> None:
    decoder = Decoder(max_event_size=64)
    with pytest.raises(EventTooLarge):
        decoder.feed(b":" + b"x" * 100)


def test_limit_holds_when_fed_one_byte_at_a_time() -> None:
    decoder = Decoder(max_event_size=1000)
    with pytest.raises(EventTooLarge) as info:
        for _ in range(5000):
            decoder.feed(b"a")
    assert info.value.offset == 0
    assert decoder.bytes_fed <= 1001


def test_decoder_stays_failed_after_event_too_large() -> None:
    decoder = Decoder(max_event_size=10)
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data:" + b"x" * 50 + b"\n")
    with pytest.raises(EventTooLarge):
        decoder.feed(b"\n")


def test_hundred_megabytes_without_line_end_fails_fast() -> None:
    decoder = Decoder(max_event_size=1 << 20)
    chunk = b"x" * (1 << 20)
    fed = 0
    with pytest.raises(EventTooLarge):
        while fed < 100 * (1 << 20):
            decoder.feed(chunk)
            fed += len(chunk)
    assert fed <= 1 << 20


def test_event_too_large_is_a_stream_error() -> None:
    assert issubclass(EventTooLarge, StreamError)


def test_max_event_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Decoder(max_event_size=0)


def test_event_json_decodes_data() -> None:
    assert Event(data='{"a": [1, 2]}').json() == {"a": [1, 2]}


def test_iter_events_yields_events_across_chunks() -> None:
    assert [e.data for e in iter_events([b"data:", b"1\n", b"\ndata:2\n\n"])] == ["1", "2"]


def test_iter_events_raises_unexpected_eof_after_valid_events() -> None:
    seen: list[str] = []
    with pytest.raises(UnexpectedEOF, match="middle of an event"):
        for event in iter_events([b"data:1\n\ndata:2"]):
            seen.append(event.data)
    assert seen == ["1"]


def test_iter_events_allow_truncated_drops_the_partial_event() -> None:
    assert [e.data for e in iter_events([b"data:1\n\ndata:2"], allow_truncated=True)] == ["1"]


@pytest.mark.anyio
async def test_aiter_events_matches_iter_events() -> None:
    async def chunks() -> object:
        for chunk in (b"event:a\ndata:", b"1\n\n", b"data:2\r\n\r\n"):
            yield chunk

    events = [e async for e in aiter_events(chunks())]  # type: ignore[arg-type]
    assert events == [Event("a", "1"), Event("message", "2")]


@pytest.mark.anyio
async def test_aiter_events_raises_unexpected_eof() -> None:
    async def chunks() -> object:
        yield b"data:1\n"

    with pytest.raises(UnexpectedEOF):
        _ = [e async for e in aiter_events(chunks())]  # type: ignore[arg-type]


def test_encode_writes_all_fields() -> None:
    assert (
        encode(Event("update", "a\nb", "7", 100)) == b"event: update\nid: 7\nretry: 100\ndata: a\ndata: b\n\n"
    )


def test_encode_omits_default_event_type() -> None:
    assert encode(Event(data="x")) == b"data: x\n\n"


def test_encode_normalises_cr_and_crlf_to_separate_lines() -> None:
    assert decode_all(encode(Event(data="a\rb\r\nc"))) == [Event(data="a\nb\nc")]


def test_encode_keeps_leading_space_of_data() -> None:
    assert decode_all(encode(Event(data=" x"))) == [Event(data=" x")]


@pytest.mark.parametrize(
    "event",
    [Event(event=""), Event(event="a\nb"), Event(id="a\rb"), Event(id="a\x00b"), Event(retry=-1)],
    ids=["empty-type", "newline-type", "cr-id", "nul-id", "negative-retry"],
)
def test_encode_rejects_what_sse_cannot_carry(event: Event) -> None:
    with pytest.raises(ValueError, match="SSE"):
        encode(event)


def test_encode_comment_is_ignored_by_decoder() -> None:
    stream = encode_comment("keep\nalive") + encode(Event(data="x")) + encode_comment()
    assert stream.startswith(b": keep\n: alive\n")
    assert decode_all(stream) == [Event(data="x")]


def test_events_before_an_oversized_event_in_the_same_chunk_are_not_lost() -> None:
    decoder = Decoder(max_event_size=50)
    events = decoder.feed(b"data:1\n\ndata:2\n\ndata:" + b"x" * 100 + b"\n\n")
    assert [e.data for e in events] == ["1", "2"]
    with pytest.raises(EventTooLarge) as info:
        decoder.close()
    assert info.value.offset == 16


def test_oversized_event_is_reported_at_its_start_whatever_the_chunking() -> None:
    payload = b"data:ok\n\n" + b"data:" + b"x" * 100 + b"\n\n"
    whole = Decoder(max_event_size=50)
    with pytest.raises(EventTooLarge) as whole_info:
        whole.feed(payload)
        whole.close()
    split = Decoder(max_event_size=50)
    with pytest.raises(EventTooLarge) as split_info:
        for i in range(len(payload)):
            split.feed(payload[i : i + 1])
    assert whole_info.value.offset == 9
    assert split_info.value.offset == 9


def test_size_limit_ignores_where_a_run_of_blank_lines_is_cut() -> None:
    # Found by fuzz/fuzz_sse.py: a run of three line ends split after the second.
    stream = b"\nabcdefg\r\r\rxyz" + b"x" * 20
    whole = Decoder(max_event_size=8)
    with pytest.raises(EventTooLarge) as whole_info:
        whole.feed(stream)
    split = Decoder(max_event_size=8)
    split.feed(stream[:11])
    with pytest.raises(EventTooLarge) as split_info:
        split.feed(stream[11:])
    assert whole_info.value.offset == split_info.value.offset == 11


def test_retry_with_more_digits_than_int_converts_is_clamped_not_a_crash() -> None:
    # int() refuses decimal strings of more than 4300 digits; the decoder used to raise ValueError.
    decoder = Decoder()
    events = decoder.feed(b"retry:" + b"9" * 5000 + b"\ndata:x\n\n")
    assert decoder.retry == MAX_RETRY
    assert events[0].retry == MAX_RETRY


def test_retry_above_the_maximum_is_clamped() -> None:
    assert decode_all(b"retry:" + str(MAX_RETRY + 1).encode() + b"\ndata:x\n\n")[0].retry == MAX_RETRY


def test_retry_at_the_maximum_is_kept_exactly() -> None:
    assert decode_all(b"retry:" + str(MAX_RETRY).encode() + b"\ndata:x\n\n")[0].retry == MAX_RETRY


def test_retry_with_many_leading_zeros_keeps_its_value() -> None:
    assert decode_all(b"retry:" + b"0" * 6000 + b"1500\ndata:x\n\n")[0].retry == 1500


def test_event_equality_hash_and_repr() -> None:
    event = Event("update", "x", "7", 100)
    assert event == Event("update", "x", "7", 100)
    assert event != Event("update", "y", "7", 100)
    assert event != ("update", "x", "7", 100)
    assert hash(event) == hash(Event("update", "x", "7", 100))
    assert repr(event) == "Event(event='update', data='x', id='7', retry=100)"


def test_event_defaults_and_keywords() -> None:
    assert Event(data="x") == Event("message", "x", None, None)


def test_event_pickles_and_copies() -> None:
    event = Event("update", "x", "7", 100)
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.copy(event) == event


def test_event_matches_positional_patterns() -> None:
    match Event("update", "x"):
        case Event("update", data):
            assert data == "x"
        case _:
            pytest.fail("Event did not match a positional pattern")


def test_one_wide_character_does_not_change_other_events() -> None:
    stream = b"event: a\ndata: plain\n\nevent: b\ndata: \xf0\x9f\x98\x80\n\nevent: a\ndata: plain\n\n"
    events = decode_all(stream)
    assert [e.data for e in events] == ["plain", "\U0001f600", "plain"]
    assert [e.event for e in events] == ["a", "b", "a"]


@pytest.mark.parametrize(
    "stream",
    [
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\ndata: 3\n\nevent: c\n\nevent: d\ndata: 4\n\n",
        b"event: a\ndata: 1\n\nevent: b\nid: 9\ndata: 2\n\nevent: a\ndata: 3\n\n",
        b"event: a\ndata: 1\n\nevent: b\n: note\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent: a\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\n\ndata: 2\n\nevent: c\ndata: 3\n\n",
        b"data: 1\n\ndata: 2\ndata: 3\n\ndata: 4\n\n",
        b"data: 1\n\nevent: x\ndata: 2\n\ndata: 3\n\n",
        b"data: 1\n\n\n\ndata: 2\n\n",
        b"event: a\ndata: 1\n\n\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\nevent: b\n\nevent: c\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent: b\ndata: x\nretry: 5\n\nevent: c\ndata: 3\n\n",
    ],
    ids=[
        "two-data-lines",
        "id-line",
        "comment",
        "two-event-lines",
        "no-event-line",
        "data-only-two-lines",
        "data-only-then-event",
        "extra-blank-lines",
        "three-line-ends",
        "event-line-after-data",
        "retry-line",
    ],
)
def test_whole_buffer_fast_path_agrees_with_the_reference_on_near_misses(stream: bytes) -> None:
    # Each stream is close to the shape the whole-buffer path handles, but one block is not.
    expected_events, _ = reference_decode(stream)
    assert decode_all(stream) == expected_events


def _large_payload(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    parts = [
        b"x" * 61,
        "\u00e9".encode(),
        "\u20ac".encode(),
        "\U0001f600".encode(),
        b"\xff",
        b"\xe2\x82",
        b"\x80" * 7,
    ]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(parts)
    return bytes(out)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("head", [b"", b"event: big\n"], ids=["data-only", "with-type"])
def test_large_event_decoded_in_pieces_equals_the_reference(
    seed: int, head: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Events of 64 KiB and more take a path that decodes them from the end in pieces; cut points
    # fall next to multibyte characters, invalid bytes and runs of continuation bytes.
    large = head + b"data: " + _large_payload(seed, 200_000 + seed * 977) + b"\n\n"
    stream = b"data: small\n\n" + large + b"data: after\n\n"
    calls: list[int] = []
    original = Decoder._dispatch_large

    def spy(self: Decoder) -> Event:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Decoder, "_dispatch_large", spy)
    rng = random.Random(seed)
    decoder = Decoder()
    events = decoder.feed(b"data: small\n\n")
    position = 0
    while position < len(large):
        step = rng.randint(1, 20_000)
        events += decoder.feed(large[position : position + step])
        position += step
    events += decoder.feed(b"data: after\n\n")
    events += decoder.close()
    assert calls == [1]
    assert (events, decoder.truncated) == reference_decode(stream)


def test_large_event_of_continuation_bytes_only_is_replaced_like_the_reference() -> None:
    stream = b"data: " + b"\x80" * 300_000 + b"\n\n"
    decoder = Decoder()
    events = decoder.feed(stream[:100]) + decoder.feed(stream[100:])
    assert events == reference_decode(stream)[0]


def test_a_large_event_peaks_at_its_pieces_and_its_text_and_nothing_more() -> None:
    """Decoding a 1 MiB data line holds its decoded pieces and the joined text at the join, and no
    more: in particular not the rest of the chunk that completed it (sliced off only afterwards)."""
    import gc
    import tracemalloc

    size = 1 << 20
    line = b"data: " + (b"x" * 63 + "\u00e9".encode()) * (size // 65) + b"\n\n"
    tail = b"data: " + b"y" * 60_000  # the next event's start, in the same chunk as this one's end
    body = line[:-100]
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)] + [line[-100:] + tail]
    assert b"".join(chunks) == line + tail
    decoder = Decoder()
    gc.collect()
    tracemalloc.start()
    try:
        events = [event for chunk in chunks for event in decoder.feed(chunk)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text_size = len(events[0].data) + 80  # one str object: its characters (one byte each) and header
    assert [len(event.data) for event in events] == [len(line.decode()) - 8]
    # The pieces and the joined text: 2 copies; the pieces' headers and lists: well under 8 KiB.
    assert peak < 2 * text_size + 8192, f"{peak:,} bytes: {peak / text_size:.4f}x the text"
