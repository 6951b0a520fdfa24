"""Recon: the reader handles what swimos loses; writing then reading gives the data back."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.swim.recon import ABSENT, Attr, ReconError, Record, Slot, dumps, java_double, loads, parse
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
