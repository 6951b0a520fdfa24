"""The Responses hot path against the full path: same events, fields, text, snapshots and errors.

The hot path (one regex over the common ``response.output_text.delta``, fields built on first
read) must be invisible: every input, recorded or mutated, decodes the same with it as with
``ResponseProtocol(hot=False)``, which always takes the full path.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import DecodeError
from streamer.openai._build import ShapeError
from streamer.openai._lazy import lazy_state
from streamer.openai.responses import ResponseStream
from streamer.openai.responses._fast import accept_text_delta
from streamer.openai.responses.events import ResponseEvent, ResponseOutputTextDelta
from streamer.openai.responses.stream import ResponseProtocol, _ResponseUnwrappers

from .differential import outcome as _outcome
from .differential import result as _result

REAL = Path(__file__).parent / "real_streams"
SOURCES = sorted(REAL.glob("responses_*.sse"))
RECORDED = {path.name: list(sse.iter_events([path.read_bytes()])) for path in SOURCES}
NAME = "response.output_text.delta"
DELTAS = sorted({e.data for events in RECORDED.values() for e in events if e.event == NAME})
HOT_KEYS = {"type", "sequence_number", "item_id", "output_index", "content_index", "delta", "logprobs"}


def _is_common(data: str) -> bool:
    """The shape the hot path is for, told from the decoded JSON."""
    payload = json.loads(data)
    return (
        next(iter(payload)) == "type"
        and set(payload) <= HOT_KEYS | {"obfuscation"}
        and all(
            type(payload[k]) is int
            for k in ("sequence_number", "output_index", "content_index")
            if k in payload
        )
        and payload.get("logprobs", []) == []
        and data == json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    )


COMMON = [d for d in DELTAS if _is_common(d)]


class _View(_ResponseUnwrappers):
    def __init__(self, protocol: ResponseProtocol, current: Any) -> None:
        self._protocol = protocol
        self._current = current


def _reads(view: _View) -> list[Any]:
    return [
        _result(view.text_delta),
        _result(view.output_text_delta),
        _result(view.refusal_delta),
        _result(view.function_call_arguments_delta),
        _result(view.reasoning_summary_delta),
        _result(view.response),
        _result(view.final_response),
        _result(view.function_calls),
        _result(view.text),
    ]


def _same_outcome(hot: Any, full: Any) -> None:
    if isinstance(full, Exception) or isinstance(hot, Exception):
        assert type(hot) is type(full)
        assert str(hot) == str(full)
        assert getattr(hot, "path", None) == getattr(full, "path", None)
        assert (hot.event, hot.index) == (full.event, full.index)
        return
    assert type(hot) is type(full) and hot.index == full.index and hot.raw is full.raw
    assert hot == full and repr(hot) == repr(full)
    assert attrs.asdict(hot) == attrs.asdict(full)
    assert hot.name == full.name
    if isinstance(full, ResponseEvent):
        assert hot.extra == full.extra and hot.to_dict() == full.to_dict()


def _state(protocol: ResponseProtocol) -> Any:
    return (
        protocol.index,
        protocol.text,
        protocol.outputs,
        protocol.contents,
        protocol.done,
        repr(protocol.error),
        protocol.response,
        sorted(protocol.calls.calls),
    )


def _is_hit(raw: sse.Event) -> bool:
    """Whether the hot path takes ``raw`` (an index out of bounds is a hit that raises)."""
    if raw.event != NAME:
        return False
    try:
        return accept_text_delta(ResponseProtocol(), raw) is not None
    except ShapeError:
        return True


def run_both(events: list[sse.Event], *, keep_snapshots: bool = True) -> int:
    """Feed ``events`` to a hot and a full protocol, checking they agree; returns hot-path hits."""
    hot = ResponseProtocol(keep_snapshots=keep_snapshots)
    full = ResponseProtocol(keep_snapshots=keep_snapshots, hot=False)
    hits = 0
    for raw in events:
        hits += _is_hit(raw)
        got, want = _outcome(hot, raw), _outcome(full, raw)
        if not isinstance(want, Exception):
            assert _reads(_View(hot, got)) == _reads(_View(full, want))  # before any field is built
        _same_outcome(got, want)
        assert _state(hot) == _state(full)
        if isinstance(want, Exception):
            break
    return hits


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_recording_decodes_the_same_on_both_paths(name: str) -> None:
    run_both(RECORDED[name])
    run_both(RECORDED[name], keep_snapshots=False)


def test_the_recorded_text_deltas_take_the_hot_path() -> None:
    hits = [d for d in DELTAS if accept_text_delta(ResponseProtocol(), sse.Event(NAME, d)) is not None]
    assert hits == COMMON and len(hits) > 400


def test_a_hot_delta_builds_its_other_fields_only_when_read() -> None:
    stream = ResponseStream.from_chunks([(REAL / "responses_openai-dotnet_9.sse").read_bytes()])
    lazy = 0
    while stream.next():
        current = stream.event()
        if isinstance(current, ResponseOutputTextDelta) and lazy_state(current) is not None:
            lazy += 1
            text, ok = stream.text_delta()
            assert lazy_state(current) is not None  # the text needs no other field
            assert text == current.delta and ok == bool(text)
            assert isinstance(current.sequence_number, int) and lazy_state(current) is None
            assert current.extra == {"obfuscation": json.loads(current.raw.data)["obfuscation"]}
    assert stream.err() is None and lazy >= 5


def test_a_hot_delta_stays_read_only() -> None:
    hot = accept_text_delta(ResponseProtocol(), sse.Event(NAME, COMMON[0]))
    assert hot is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        hot.delta = "x"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        hot.item_id = "x"  # type: ignore[misc]


# --- mutations of recorded deltas -------------------------------------------------------------

ODD_TEXTS = ["", '"', "\\", "\n", "\u00e9", "\U0001f600", "\x00", "\x1f", "\u2028", "a/b", "\ud800", "\udfff"]
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "0", "", [], {}, 2**63, 10**20, 65, 1, "text", [1], [{}]]
KEYS = [*sorted(HOT_KEYS), "obfuscation", "extra_field"]


def _dump(payload: dict[str, Any], data: st.DataObject) -> str:
    style = data.draw(st.sampled_from(["compact", "ascii", "spaced", "reordered"]), label="style")
    if style == "compact":
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if style == "ascii":
        return json.dumps(payload, separators=(",", ":"))
    if style == "spaced":
        return json.dumps(payload, ensure_ascii=False)
    items = list(payload.items())
    random.Random(data.draw(st.integers(0, 2**16), label="seed")).shuffle(items)
    return json.dumps(dict(items), separators=(",", ":"), ensure_ascii=False)


def _duplicate(text: str, data: st.DataObject) -> str:
    """Give a key twice (JSON keeps the last): after ``type``, or at the end."""
    key = data.draw(st.sampled_from(KEYS), label="dup key")
    value = data.draw(
        st.sampled_from(['"x"', r'"\ud800"', r'"\x"', "null", "0", "7", "[]", "[1]", '"a\\nb"']), label="dup"
    )
    pair = f'"{key}":{value}'
    if data.draw(st.booleans(), label="at end") and text.endswith("}"):
        return f"{text[:-1]},{pair}}}"
    head = '{"type":"response.output_text.delta"'
    return text.replace(head, f"{head},{pair}", 1)


def _text_mutation(text: str, data: st.DataObject) -> str:
    at = data.draw(st.integers(0, len(text)), label="at")
    how = data.draw(st.sampled_from(["delete", "insert", "space", "escape", "digits"]), label="how")
    if how == "delete":
        return text[:at] + text[at + 1 :]
    if how == "insert":
        return text[:at] + data.draw(st.sampled_from(list('{}[]",:\\0a-.e \x01')), label="char") + text[at:]
    if how == "space":
        return text[:at] + data.draw(st.sampled_from([" ", "\t", "\n", "\r"]), label="ws") + text[at:]
    if how == "digits":
        return text[:at] + "9" * data.draw(st.integers(1, 40), label="n") + text[at:]
    escape = data.draw(
        st.sampled_from([r"\ud800", r"\u00e9", r"\n", r"\"", r"\x", r"\u12", r"\/"]), label="e"
    )
    return text[:at] + escape + text[at:]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@example(None)
def test_mutated_deltas_decode_the_same_on_both_paths(data: st.DataObject | None) -> None:
    if data is None:
        hits = run_both([sse.Event(NAME, d) for d in COMMON])
        assert hits == len(COMMON)
        return
    payload = json.loads(data.draw(st.sampled_from(DELTAS), label="recorded"))
    if data.draw(st.booleans(), label="new text"):
        payload["delta"] = data.draw(st.one_of(st.sampled_from(ODD_TEXTS), st.text(max_size=8)), label="text")
    if data.draw(st.booleans(), label="odd value"):
        key = data.draw(st.sampled_from(KEYS), label="key")
        payload[key] = data.draw(st.sampled_from(ODD_VALUES), label="value")
    if data.draw(st.booleans(), label="drop key") and len(payload) > 1:
        payload.pop(data.draw(st.sampled_from(sorted(payload)), label="dropped"))
    text = _dump(payload, data)
    if data.draw(st.booleans(), label="duplicate"):
        text = _duplicate(text, data)
    if data.draw(st.booleans(), label="edit text"):
        text = _text_mutation(text, data)
    name = data.draw(st.sampled_from([NAME, NAME, "message", "response.refusal.delta"]), label="event")
    mutated = sse.Event(name, text)
    hits = run_both([mutated, sse.Event(NAME, COMMON[0]), mutated])
    run_both([mutated], keep_snapshots=False)
    event(f"hot-path hits: {hits}")


DELTA = (
    '{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":%s,'
    '"content_index":%s,"delta":"%s","logprobs":[]}'
)


@pytest.mark.parametrize(
    "value", ["plain", r"a\"b", r"\\", r"line\nbreak", r"\u00e9t\u00e9", r"\/", r"\u2028"]
)
def test_escaped_text_takes_the_hot_path_and_matches(value: str) -> None:
    raw = sse.Event(NAME, DELTA % (0, 0, value))
    hot = accept_text_delta(ResponseProtocol(), raw)
    assert hot is not None and hot.delta == json.loads(f'"{value}"')
    run_both([raw, raw])


@pytest.mark.parametrize("value", [r"\ud83d\ude00", r"\ud800", r"x\udfffy"])
def test_surrogate_escapes_are_left_to_the_full_path(value: str) -> None:
    raw = sse.Event(NAME, DELTA % (0, 0, value))
    assert accept_text_delta(ResponseProtocol(), raw) is None
    run_both([raw])


@pytest.mark.parametrize("value", ["\x01", r"\x41", r"\u12g4", "tab\there"], ids=["ctrl", "x", "u", "tab"])
def test_invalid_text_is_left_to_the_full_path_which_rejects_it(value: str) -> None:
    raw = sse.Event(NAME, DELTA % (0, 0, value))
    assert accept_text_delta(ResponseProtocol(), raw) is None
    outcome = _outcome(ResponseProtocol(), raw)
    assert isinstance(outcome, DecodeError) and "invalid JSON" in str(outcome)


@pytest.mark.parametrize(
    ("output", "content"),
    [
        ("0", "0"),
        ("1", "0"),
        ("0", "65"),
        ("64", "64"),
        ("65", "0"),
        ("0", "66"),
        ("9" * 18, "0"),
        ("0", "9" * 30),
    ],
)
def test_large_indexes_agree_on_both_paths(output: str, content: str) -> None:
    raw = sse.Event(NAME, DELTA % (output, content, "x"))
    run_both([raw, raw])


def test_a_huge_index_is_the_same_decode_error_on_the_hot_path() -> None:
    stream = ResponseStream.from_chunks(
        [f"event: {NAME}\ndata: {DELTA % ('5000000', '0', 'x')}\n\n".encode()]
    )
    assert not stream.next()
    error = stream.err()
    assert isinstance(error, DecodeError) and error.path == "data.output_index" and error.index == 0
    assert "out of bounds" in str(error)


def test_over_a_real_socket_the_hot_path_gives_what_the_full_path_gives() -> None:
    from streamer.openai.client import Client
    from streamer.testing.replay import ReplayServer, sse_reply

    path = REAL / "responses_pydantic-ai_13.sse"
    full = ResponseProtocol(hot=False)
    expected = [full.accept(raw) for raw in RECORDED[path.name]]
    with (
        ReplayServer([sse_reply(path, chunk_size=37)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="hi")
        got = []
        while stream.next():
            got.append(stream.event())
        assert stream.err() is None
        assert stream.text() == "".join(full.text)
    assert any(lazy_state(e) is not None for e in got)
    assert got == expected and [type(e) for e in got] == [type(e) for e in expected]


@pytest.mark.anyio
async def test_over_a_real_socket_the_async_stream_takes_the_hot_path_too() -> None:
    from streamer.openai.client import AsyncClient
    from streamer.testing.replay import ReplayServer, sse_reply

    path = REAL / "responses_openai-dotnet_13.sse"
    full = ResponseProtocol(hot=False)
    expected = [full.accept(raw) for raw in RECORDED[path.name]]
    with ReplayServer([sse_reply(path, chunk_size=29)]) as server:
        async with AsyncClient("k", base_url=server.base_url) as client:
            stream = await client.responses_stream(model="m", input="hi")
            got, pieces = [], []
            while await stream.next():
                got.append(stream.event())
                text, ok = stream.text_delta()
                if ok:
                    pieces.append(text)
            assert stream.err() is None
            assert "".join(pieces) == stream.text() == "".join(full.text)
    assert any(lazy_state(e) is not None for e in got)
    assert got == expected


def test_threads_reading_one_hot_delta_at_once_all_see_its_fields() -> None:
    import threading

    raw = sse.Event(NAME, COMMON[-1])
    want = ResponseProtocol(hot=False).accept(raw)
    for _ in range(20):
        hot = accept_text_delta(ResponseProtocol(), raw)
        assert hot is not None
        seen: list[Any] = []
        start = threading.Barrier(4)

        def read(
            delta: ResponseOutputTextDelta = hot, start: threading.Barrier = start, seen: list[Any] = seen
        ) -> None:
            start.wait()
            seen.append((delta.index, delta.raw, delta.sequence_number, delta.item_id, delta.extra, delta))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        expected = (0, raw, want.sequence_number, want.item_id, want.extra, want)  # type: ignore[union-attr]
        assert seen == [expected] * 4
