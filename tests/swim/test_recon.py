"""Recon: the reader handles what swimos loses; writing then reading gives the data back."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.swim.recon import (
    ABSENT,
    MAX_DEPTH,
    Attr,
    ReconError,
    Record,
    Slot,
    dumps,
    java_double,
    loads,
    parse,
)
from streamer.swim.warp import Envelope, parse_envelope


def test_numbers_with_exponents_are_numbers() -> None:
    assert loads("{volume:4.765398677550915E7,small:1e-5,neg:-12.5E2}") == {
        "volume": 47653986.77550915,
        "small": 1e-5,
        "neg": -1250.0,
    }


def test_nested_records_and_arrays_survive() -> None:
    assert loads("{a:{b:{c:1}},arr:{1,2,{x:3}}}") == {"a": {"b": {"c": 1}}, "arr": [1, 2, {"x": 3}]}


def test_escaped_strings_survive() -> None:
    assert loads(r'{note:"say \"hi\"\n\u00e9",next:1}') == {"note": 'say "hi"\n\u00e9', "next": 1}


def test_booleans_identifiers_data_and_absent() -> None:
    assert loads("{t:true,f:false,id:status,data:%aGk=,gone:}") == {
        "t": True,
        "f": False,
        "id": "status",
        "data": b"hi",
        "gone": None,
    }


def test_attributes_are_kept() -> None:
    value = parse("@update(key:AAAA){price:1}")
    assert isinstance(value, Record)
    assert value[0] == Attr("update", Record([Slot("key", "AAAA")]))
    assert value[1] == Slot("price", 1)
    assert loads("@update(key:AAAA){price:1}") == {"@update": {"key": "AAAA"}, "price": 1}


def test_blocks_without_braces_and_newline_separators() -> None:
    assert loads("a:1\nb:2;c:3") == {"a": 1, "b": 2, "c": 3}


def test_empty_document_is_absent() -> None:
    assert parse("") is ABSENT
    assert loads("") is None


@pytest.mark.parametrize("text", ["{a:1", "{a:}}", '{"unterminated}', "{a:1 b:2}", "@", "{a:#}"])
def test_invalid_recon_is_a_clear_error(text: str) -> None:
    with pytest.raises(ReconError, match="invalid Recon at offset"):
        parse(text)


def test_java_doubles() -> None:
    assert java_double(47653986.77550915) == "4.765398677550915E7"
    assert java_double(6.0) == "6"
    assert java_double(26.01) == "26.01"
    assert java_double(1e-5) == "1.0E-5"
    assert loads(dumps({"v": 47653986.77550915}, java_doubles=True)) == {"v": 47653986.77550915}


def test_envelopes() -> None:
    event = parse_envelope('@event(node:"/stock/AAAA",lane:status){price:26.01,volume:4.765398677550915E7}')
    assert (event.tag, event.node, event.lane) == ("event", "/stock/AAAA", "status")
    assert loads(dumps({"x": 1})) == {"x": 1}
    text = Envelope("sync", "/stock/AAAA", "status", prio=1.0).encode()
    assert text == '@sync(node:"/stock/AAAA",lane:status,prio:1.0)'
    assert parse_envelope(text).prio == 1.0
    unlinked = parse_envelope('@unlinked(node:"/stock/X",lane:status)@nodeNotFound')
    assert isinstance(unlinked.body, Record) and unlinked.body.attrs() == [Attr("nodeNotFound")]


def test_an_envelope_must_start_with_a_tag() -> None:
    with pytest.raises(ReconError, match="@tag"):
        parse_envelope("{price:1}")


KEYS = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=8).filter(
    lambda k: not k.startswith("@")
)
SCALARS = (
    st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"]), max_size=10)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4)
        | st.dictionaries(KEYS, inner | st.none(), min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(KEYS, VALUES | st.none(), min_size=1, max_size=5), st.booleans())
def test_dumps_then_loads_gives_the_data_back(data: dict[str, Any], java: bool) -> None:
    back = loads(dumps(data, java_doubles=java))
    assert _equal(back, data, java)


def _equal(a: Any, b: Any, java: bool) -> bool:
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b
    if isinstance(b, float):
        # Java writes integral doubles without ".0": they come back as ints of the same value.
        return isinstance(a, (int, float)) and (a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k], java) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(_equal(x, y, java) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


# --- limits: depth, size, and the fast path for flat events --------------------------------------


@pytest.mark.parametrize("opener", ["{", "@a(", "@a{", "{x:"])
def test_nesting_deeper_than_the_limit_is_a_recon_error_not_recursion(opener: str) -> None:
    closer = {"{": "}", "@a(": ")", "@a{": "}", "{x:": "}"}[opener]
    deep = opener * 10_000 + "1" + closer * 10_000
    with pytest.raises(ReconError, match=f"nesting deeper than {MAX_DEPTH}"):
        parse(deep)
    with pytest.raises(ReconError):
        parse_envelope("@event(node:a,lane:b)" + deep)


def test_nesting_up_to_the_limit_is_read() -> None:
    text = "{" * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    value = parse(text)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(value, Record) and len(value) == 1
        value = value[0]
    assert value == Record([1])


def test_a_large_string_value_costs_memory_linear_in_its_size() -> None:
    import tracemalloc

    size = 2_000_000
    for body in ("x" * size, 'ab\\"c' * (size // 5)):
        text = '@event(node:"/n",lane:l){v:"' + body + '"}'
        tracemalloc.start()
        try:
            envelope = parse_envelope(text)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert isinstance(envelope.body, Record)
        assert envelope.body[0].value == body.replace('\\"', '"')
        # The old reader kept a token object per character: about 190x the input.
        assert peak < 5 * len(text), f"{peak / len(text):.1f}x the input"


@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_escapes_are_resolved_across_chunk_boundaries(value: str) -> None:
    from streamer.swim import recon

    written = dumps(value + "\n")  # always quoted
    saved = recon._CHUNK
    recon._CHUNK = 3  # cut the text every few characters: each cut must fall between escapes
    try:
        assert loads(written) == value + "\n"
        assert loads(written.replace("a", "\\u0061")) == value + "\n"
    finally:
        recon._CHUNK = saved


def test_an_unterminated_string_is_an_error_at_its_quote() -> None:
    with pytest.raises(ReconError, match="offset 3: unterminated string"):
        parse('{a:"abc\\"}')


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True)
FLAT = (
    st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)
    | NAMES
    | st.booleans()
)


@given(
    st.one_of(NAMES, st.text(max_size=10)),
    NAMES,
    st.dictionaries(NAMES, FLAT, max_size=6),
    st.booleans(),
)
def test_the_flat_event_fast_path_reads_what_the_full_reader_reads(
    node: str, lane: str, status: dict[str, Any], java: bool
) -> None:
    from streamer.swim.warp import _flat_event, _parse_envelope

    text = Envelope("event", node, lane).encode(body_text=dumps(status, java_doubles=java))
    full = _parse_envelope(text)
    fast = _flat_event(text)
    assert parse_envelope(text) == full
    if fast is not None:
        assert fast == full


@pytest.mark.parametrize(
    "text",
    [
        "@event(node:a,lane:b){a:1,}",
        '@event(node:a,lane:b){a:"}"}',
        "@event(node:a,lane:b){true:1,b:false}",
        "@event(node:true,lane:b){a:0x1F,b:.5}",
        "@event(node:a,lane:b){a:1 ,b:2}",
        "@event(node:a,lane:b) {a:1}",
        "@event(node:a,lane:b){a:{b:1}}",
    ],
)
def test_the_fast_path_falls_back_on_anything_it_does_not_know(text: str) -> None:
    from streamer.swim.warp import _parse_envelope

    assert parse_envelope(text) == _parse_envelope(text)


@pytest.mark.parametrize("text", ["@event(node:a,lane:b){a:1}{b:2}", "@event(node:a,lane:b){a:1,,b:2}"])
def test_what_the_fast_path_rejects_and_the_reader_rejects_is_an_error(text: str) -> None:
    with pytest.raises(ReconError):
        parse_envelope(text)
