"""The one JSON loader (streamer.openai._json) gives json.loads's results and errors for every input.

Each loader is checked against ``json.loads`` itself: the same value (same types, key order, NaN,
-0.0) or the same exception type and message. The orjson path runs only where orjson is installed
(the dev extra installs it; ``pip install 'streamer[fast]'`` for users).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import DecodeError
from streamer.openai import _json
from streamer.openai._core import loads as core_loads

try:
    import orjson
except ImportError:  # pragma: no cover - the dev extra installs it
    orjson = None

REAL_STREAMS = Path(__file__).parent / "real_streams"
needs_orjson = pytest.mark.skipif(
    orjson is None, reason="orjson is not installed (pip install 'streamer[fast]'); its path cannot run"
)
LOADERS = [
    pytest.param(_json.loads_stdlib, id="c-scanner"),
    pytest.param(_json.loads_orjson, id="orjson", marks=needs_orjson),
    pytest.param(_json.loads, id="default"),
]


def outcome(load: Callable[[Any], Any], text: Any) -> tuple[str, Any]:
    """What a loader did with ``text``: ("ok", a canonical form of the value) or ("error", type, message)."""
    try:
        value = load(text)
    except Exception as exc:  # compared with json.loads's own exception below
        return "error", (type(exc), str(exc))
    return "ok", canonical(value)


def canonical(value: Any) -> Any:
    """A form in which equal means identical: types, key order, NaN and -0.0 kept apart."""
    if isinstance(value, float):
        if math.isnan(value):
            return ("float", "nan")
        return ("float", value, math.copysign(1.0, value))
    if isinstance(value, dict):
        return ("dict", [(key, canonical(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [canonical(item) for item in value])
    return (type(value).__name__, value)


def assert_same_as_json(load: Callable[[Any], Any], text: Any) -> None:
    assert outcome(load, text) == outcome(json.loads, text), repr(text)[:300]


def real_payloads() -> list[str]:
    payloads = []
    for path in sorted(REAL_STREAMS.glob("*.sse")):
        for event in sse.iter_events([path.read_bytes()]):
            if event.data and event.data != "[DONE]":
                payloads.append(event.data)
    return payloads


REAL = real_payloads()

# --- named inputs -------------------------------------------------------------------------------

NAMED = [
    '{"a": 1}',
    "NaN",
    "[NaN, Infinity, -Infinity]",
    "1e400",
    "-1e400",
    "-0",
    "-0.0",
    "[-0, 0.0, 1E5, 5e-324, 1.7976931348623157e308]",
    str(2**64),
    str(2**64 - 1),
    str(-(2**63)),
    str(-(2**63) - 1),
    str(10**30),
    '{"n": 123456789012345678901234567890}',
    "1234567890123456789",
    "0.1234567890123456789012345",
    "1" * 4301,
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d\\ude00"',
    '"\\ud83d"',
    '"\ud800"',
    '{"a": 1, "b": 2, "a": 3}',
    '{"a": {"x": 1}, "a": [2]}',
    " 1",
    "1 ",
    "\n\t\r {} \r\n\t",
    "\x0b1",
    "1\x0c",
    "\u00a01",
    "1\u2028",
    "\ufeff{}",
    "\ufeff",
    "",
    " ",
    "[1,]",
    '{"a":1,}',
    "01",
    "1.",
    ".5",
    "tru",
    "{} {}",
    "[] x",
    '"\x1f"',
    '"\x7f"',
    '"\\u0000"',
    '"\\x41"',
    "[" * 100 + "]" * 100,
    "[" * 300 + "]" * 300,
    "[" * 100_000 + "]" * 100_000,
    "{" * 50_000,
    b'{"a": 1}',
    b"\xef\xbb\xbf[1]",
    '{"a": "é"}'.encode("utf-16"),
    bytearray(b"[2]"),
    memoryview(b"[3]"),
    None,
    12,
]


@pytest.mark.parametrize("load", LOADERS)
@pytest.mark.parametrize("text", NAMED, ids=lambda t: repr(t)[:40])
def test_named_inputs_behave_as_json_loads(load: Callable[[Any], Any], text: Any) -> None:
    assert_same_as_json(load, text)


@pytest.mark.parametrize("load", LOADERS)
def test_every_real_event_decodes_as_json_loads_does(load: Callable[[Any], Any]) -> None:
    assert len(REAL) > 500
    for data in REAL:
        assert_same_as_json(load, data)


@pytest.mark.parametrize("load", LOADERS)
def test_deep_nesting_fails_on_the_recursion_limit_as_json_loads_does(load: Callable[[Any], Any]) -> None:
    # 300 levels decode under the default limit; under a limit just above the current depth they
    # must fail as json.loads fails, even though orjson alone would accept them (its limit is 1024).
    text = "[" * 300 + "]" * 300
    assert_same_as_json(load, text)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(_stack()) + 150)
    try:
        with pytest.raises(RecursionError):
            json.loads(text)
        with pytest.raises(RecursionError):
            load(text)
    finally:
        sys.setrecursionlimit(limit)


def _stack() -> list[Any]:
    frames = []
    frame = sys._getframe()
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return frames


def test_the_default_loader_is_orjson_exactly_when_it_is_installed() -> None:
    assert _json.backend() == ("json" if orjson is None else "orjson")


# --- through the typed core: errors name the event ----------------------------------------------


def test_invalid_json_is_a_decode_error_with_json_loads_message_naming_the_event() -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads('{"a": ')
    with pytest.raises(DecodeError) as caught:
        core_loads("thread.message.delta", 7, '{"a": ')
    error = caught.value
    assert error.index == 7 and error.event == "thread.message.delta"
    assert f"invalid JSON ({expected.value})" in str(error)


def test_json_nested_100000_deep_is_a_decode_error_not_a_recursion_error() -> None:
    with pytest.raises(DecodeError, match="nested too deeply") as caught:
        core_loads("response.output_text.delta", 3, "[" * 100_000 + "]" * 100_000)
    assert caught.value.index == 3


@pytest.mark.parametrize("text", ["NaN", str(2**70), '"\\ud800"', '{"a": 1, "a": 2}', " [1] "])
def test_the_core_loader_returns_what_json_loads_returns(text: str) -> None:
    assert canonical(core_loads("e", 0, text)) == canonical(json.loads(text))


# --- differential properties -----------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON (with json's NaN/Infinity extension) in several spellings, whitespace around it."""
    value = draw(values)
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2, "\t"])),
        separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])),
    )
    space = st.text(alphabet=" \t\r\n\x0b\x0c\u00a0\ufeff", max_size=3)
    return draw(space) + text + draw(space)


@st.composite
def mutated(draw: st.DrawFn, sources: st.SearchStrategy[str]) -> str:
    """A text with a few edits: characters deleted, inserted, replaced, or the end cut off."""
    text = draw(sources)
    interesting = st.sampled_from(list('{}[]",:\\ \x00\x1f\ud800\ufeffeE.-+0123456789nNul')) | st.characters()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["delete", "insert", "replace", "cut", "digits", "escape"]))
        if how == "delete":
            text = text[:at] + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + draw(interesting) + text[at:]
        elif how == "replace":
            text = text[:at] + draw(interesting) + text[at + 1 :]
        elif how == "cut":
            text = text[:at]
        elif how == "digits":
            text = text[:at] + draw(st.from_regex(r"-?[0-9]{15,25}(\.[0-9]+)?", fullmatch=True)) + text[at:]
        else:
            text = text[:at] + draw(st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\"])) + text[at:]
    return text


def _loaders() -> Iterator[Callable[[Any], Any]]:
    yield _json.loads_stdlib
    yield _json.loads
    if orjson is not None:
        yield _json.loads_orjson


@given(json_texts())
@example('{"id": 18446744073709551616}')
@example("[1e400, NaN]")
def test_generated_json_loads_as_json_loads(text: str) -> None:
    for load in _loaders():
        assert_same_as_json(load, text)


@given(mutated(st.sampled_from(REAL)))
def test_mutated_real_events_load_as_json_loads(text: str) -> None:
    for load in _loaders():
        assert_same_as_json(load, text)


@given(mutated(json_texts()))
def test_mutated_generated_json_loads_as_json_loads(text: str) -> None:
    for load in _loaders():
        assert_same_as_json(load, text)


@given(st.text())
def test_any_text_loads_as_json_loads(text: str) -> None:
    for load in _loaders():
        assert_same_as_json(load, text)
