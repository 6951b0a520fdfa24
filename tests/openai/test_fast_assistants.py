"""The Assistants hot path against the full path: same events, data, text, snapshots and errors.

The hot path (an anchored regex over the common ``thread.message.delta``, a lazily built
``data``) must be invisible: every input, recorded or mutated, decodes the same with it as with
``RunProtocol(hot=False)``, which always takes the full path.
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
from streamer.openai._lazy import lazy_state
from streamer.openai.assistants import RunStream
from streamer.openai.assistants.events import ThreadMessageDelta, hot_text_delta
from streamer.openai.assistants.stream import RunProtocol

from ..conftest import RECORDINGS
from .differential import outcome as _outcome
from .differential import result as _result

REAL = Path(__file__).parent / "real_streams"
SOURCES = sorted(REAL.glob("assistants_*.sse")) + sorted(RECORDINGS.glob("*.sse"))


def _raw_events(path: Path) -> list[sse.Event]:
    return list(sse.iter_events([path.read_bytes()]))


RECORDED = {path.name: _raw_events(path) for path in SOURCES}
DELTAS = sorted({e.data for events in RECORDED.values() for e in events if e.event == "thread.message.delta"})
CREATED = {"id": "msg_1", "object": "thread.message", "role": "assistant", "content": []}
WITH_BLOCK = {**CREATED, "content": [{"type": "text", "text": {"value": "Hi", "annotations": []}}]}


def _same_outcome(hot: Any, full: Any) -> None:
    if isinstance(full, Exception) or isinstance(hot, Exception):
        assert type(hot) is type(full)
        assert str(hot) == str(full)
        assert getattr(hot, "path", None) == getattr(full, "path", None)
        assert (hot.event, hot.index) == (full.event, full.index)
        return
    assert type(hot) is type(full) and hot.index == full.index and hot.raw is full.raw
    if isinstance(full, ThreadMessageDelta):
        assert hot.text() == full.text()
    assert hot == full and repr(hot) == repr(full)
    assert attrs.asdict(hot) == attrs.asdict(full)
    assert type(hot.data) is type(full.data)


def _same_state(hot: RunProtocol, full: RunProtocol) -> None:
    assert hot.index == full.index
    assert hot.snapshots.text() == full.snapshots.text()
    assert _result(hot.snapshots.current_message) == _result(full.snapshots.current_message)
    assert _result(hot.snapshots.final_messages) == _result(full.snapshots.final_messages)
    assert hot.done == full.done and repr(hot.error) == repr(full.error)


def run_both(events: list[sse.Event], *, keep_snapshots: bool = True) -> int:
    """Feed ``events`` to a hot and a full protocol, checking they agree; returns hot-path hits."""
    hot, full = (
        RunProtocol(keep_snapshots=keep_snapshots),
        RunProtocol(keep_snapshots=keep_snapshots, hot=False),
    )
    hits = 0
    for raw in events:
        hits += hot_text_delta(raw, 0) is not None
        got, want = _outcome(hot, raw), _outcome(full, raw)
        _same_outcome(got, want)
        if isinstance(want, Exception):
            break
        if keep_snapshots:
            _same_state(hot, full)
    return hits


def _created(message: dict[str, Any]) -> sse.Event:
    return sse.Event("thread.message.created", json.dumps(message))


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_recording_decodes_the_same_on_both_paths(name: str) -> None:
    run_both(RECORDED[name])
    run_both(RECORDED[name], keep_snapshots=False)


def test_the_recorded_text_deltas_take_the_hot_path() -> None:
    # Every recorded delta of one text block without annotations (all but five) is a hot-path hit.
    hits = [d for d in DELTAS if hot_text_delta(sse.Event("thread.message.delta", d), 0) is not None]
    plain = [d for d in DELTAS if '"type":"text"' in d and '"annotations":[{' not in d]
    assert hits == plain and len(hits) == len(DELTAS) - 5


def test_a_hot_event_builds_its_data_only_when_read() -> None:
    stream = RunStream.from_chunks([(REAL / "assistants_openai-dotnet_1.sse").read_bytes()])
    lazy = 0
    while stream.next():
        event = stream.event()
        if isinstance(event, ThreadMessageDelta) and lazy_state(event) is not None:
            lazy += 1
            text, ok = stream.text_delta()
            assert lazy_state(event) is not None  # the text needs no model
            assert text == event.data.delta.text() and ok == bool(text)  # type: ignore[union-attr]
            assert lazy_state(event) is None
    assert stream.err() is None and lazy >= 5


# --- mutations of recorded deltas -------------------------------------------------------------

ODD_TEXTS = ["", '"', "\\", "\n", "\u00e9", "\U0001f600", "\x00", "\x1f", "\u2028", "a/b", "\ud800", "\udfff"]
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "0", [], {}, 2**63, 10**20, 65, 66, 1, "text", [1]]


def _mutate_value(payload: dict[str, Any], data: st.DataObject) -> None:
    text = data.draw(st.one_of(st.sampled_from(ODD_TEXTS), st.text(max_size=8)), label="text")
    payload["delta"]["content"][0]["text"]["value"] = text


def _set_somewhere(payload: dict[str, Any], data: st.DataObject) -> None:
    """Put an odd value (or an unknown field) at one of the places the hot path reads."""
    value = data.draw(st.sampled_from(ODD_VALUES), label="value")
    block = payload["delta"]["content"][0]
    places = [
        (payload, "id"),
        (payload, "object"),
        (payload, "extra_field"),
        (payload["delta"], "content"),
        (payload["delta"], "role"),
        (payload["delta"], "new"),
        (block, "index"),
        (block, "type"),
        (block, "text"),
        (block, "other"),
        (block["text"], "value"),
        (block["text"], "annotations"),
        (block["text"], "more"),
    ]
    target, key = data.draw(st.sampled_from(places), label="place")
    target[key] = value


def _dump(payload: dict[str, Any], data: st.DataObject) -> str:
    """Serialise with the API's compact separators, or another JSON spelling of the same object."""
    style = data.draw(st.sampled_from(["compact", "ascii", "spaced", "reordered"]), label="style")
    if style == "compact":
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if style == "ascii":
        return json.dumps(payload, separators=(",", ":"))
    if style == "spaced":
        return json.dumps(payload, ensure_ascii=False)
    rng = random.Random(data.draw(st.integers(0, 2**16), label="seed"))

    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    return json.dumps(shuffled(payload), separators=(",", ":"), ensure_ascii=False)


def _text_mutation(text: str, data: st.DataObject) -> str:
    """A character-level edit of the JSON text: deletion, insertion, whitespace, an escape."""
    if not text:
        return text
    at = data.draw(st.integers(0, len(text)), label="at")
    how = data.draw(st.sampled_from(["delete", "insert", "space", "escape", "none"]), label="how")
    if how == "delete":
        return text[:at] + text[at + 1 :]
    if how == "insert":
        return text[:at] + data.draw(st.sampled_from(list('{}[]",:\\0a \x01')), label="char") + text[at:]
    if how == "space":
        return text[:at] + data.draw(st.sampled_from([" ", "\t", "\n", "\r"]), label="ws") + text[at:]
    if how == "escape":
        escape = data.draw(
            st.sampled_from([r"\ud800", r"\u00e9", r"\n", r"\"", r"\x", r"\u12", r"\/"]), label="esc"
        )
        return text[:at] + escape + text[at:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@example(None)
def test_mutated_deltas_decode_the_same_on_both_paths(data: st.DataObject | None) -> None:
    if data is None:  # the plain recorded case, always run
        hits = run_both([_created(CREATED), *[sse.Event("thread.message.delta", d) for d in DELTAS]])
        assert hits == len(DELTAS) - 5
        return
    payload = json.loads(data.draw(st.sampled_from(DELTAS), label="recorded"))
    if payload["delta"]["content"][0].get("type") != "text":
        payload["delta"]["content"] = [{"index": 0, "type": "text", "text": {"value": "x"}}]
    if data.draw(st.booleans(), label="new text"):
        _mutate_value(payload, data)
    if data.draw(st.booleans(), label="odd value"):
        _set_somewhere(payload, data)
    text = _dump(payload, data)
    if data.draw(st.booleans(), label="edit text"):
        text = _text_mutation(text, data)
    created = data.draw(st.sampled_from([CREATED, WITH_BLOCK, None]), label="created")
    events = [] if created is None else [_created({**created, "id": payload.get("id") or "msg_1"})]
    delta = sse.Event("thread.message.delta", text)
    # The mutated delta, then a plain one for the same message (it folds on top of the first).
    follow = json.dumps(
        {
            "id": payload.get("id") if isinstance(payload.get("id"), str) else "msg_1",
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": {"value": " more"}}]},
        },
        separators=(",", ":"),
    )
    hits = run_both([*events, delta, sse.Event("thread.message.delta", follow), delta])
    run_both([*events, delta], keep_snapshots=False)
    event(f"hot-path hits: {hits}")


@pytest.mark.parametrize(
    "value",
    [
        r"plain",
        r"a\"b",
        r"\\",
        r"line\nbreak",
        r"\u00e9t\u00e9",
        r"\ud83d\ude00",
        r"\ud800",
        r"x\udfffy",
        r"\/",
    ],
)
def test_escaped_text_takes_the_hot_path_and_matches(value: str) -> None:
    data = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
        f'"text":{{"value":"{value}"}}}}]}}}}'
    )
    raw = sse.Event("thread.message.delta", data)
    assert hot_text_delta(raw, 0) is not None
    run_both([_created(WITH_BLOCK), raw, raw])


@pytest.mark.parametrize(
    "value", ["\x01", r"\x41", r"\u12g4", "tab\there", r"bad\ escape"], ids=["ctrl", "x", "u", "tab", "space"]
)
def test_invalid_text_is_left_to_the_full_path_which_rejects_it(value: str) -> None:
    data = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
        f'"text":{{"value":"{value}"}}}}]}}}}'
    )
    raw = sse.Event("thread.message.delta", data)
    assert hot_text_delta(raw, 0) is None
    outcome = _outcome(RunProtocol(), raw)
    assert isinstance(outcome, DecodeError) and "invalid JSON" in str(outcome)


@pytest.mark.parametrize("index", ["65", "66", "99999999999999999", "999999999999999999999", "01", "-1"])
def test_large_or_odd_indexes_agree_on_both_paths(index: str) -> None:
    data = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":'
        f'{index},"type":"text","text":{{"value":"x"}}}}]}}}}'
    )
    run_both([_created(WITH_BLOCK), sse.Event("thread.message.delta", data)])


def test_over_a_real_socket_the_hot_path_gives_what_the_full_path_gives() -> None:
    from streamer.openai.client import Client
    from streamer.testing.replay import ReplayServer, sse_reply

    path = REAL / "assistants_openllmetry_4.sse"
    full = RunProtocol(hot=False)
    expected = [full.accept(raw) for raw in _raw_events(path)]
    with (
        ReplayServer([sse_reply(path, chunk_size=37)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        stream = client.create_thread_and_run_stream("asst_1")
        got = list(stream)
        assert stream.err() is None
        assert stream.text() == full.snapshots.text()
        assert stream.final_messages() == full.snapshots.final_messages()
    assert got == expected and [type(e) for e in got] == [type(e) for e in expected]
    assert any(isinstance(e, ThreadMessageDelta) for e in got)


def test_a_wrong_shape_next_to_the_hot_path_fails_at_next_naming_the_field() -> None:
    good = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
        '"text":{"value":"Hi"}}]}}'
    )
    bad = good.replace('"index":0', '"index":"0"')
    body = "".join(
        f"event: {n}\ndata: {d}\n\n"
        for n, d in [
            ("thread.message.created", json.dumps(WITH_BLOCK)),
            ("thread.message.delta", good),
            ("thread.message.delta", bad),
        ]
    )
    stream = RunStream.from_chunks([body.encode()])
    assert stream.next() and stream.next()
    assert stream.text_delta() == ("Hi", True)
    assert not stream.next()
    error = stream.err()
    assert isinstance(error, DecodeError)
    assert (error.event, error.index, error.path) == (
        "thread.message.delta",
        2,
        "data.delta.content[0].index",
    )


def test_the_streamed_text_is_kept_once_even_after_reading_the_snapshot() -> None:
    import gc
    import tracemalloc

    piece = "word " * 10_000  # 50 KB per delta, 1 MB in all
    template = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
        '"text":{"value":"%s"}}]}}'
    )
    tracemalloc.start()
    try:
        protocol = RunProtocol()
        protocol.accept(_created(WITH_BLOCK))
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20):
            protocol.accept(sse.Event("thread.message.delta", template % f"{n:02d}{piece[2:]}"))
            if n % 5 == 4:
                message = protocol.snapshots.current_message()
                assert message is not None and message.content is not None
                del message
        protocol.last = None  # the last event holds one delta's raw JSON, not the text kept
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    text = protocol.snapshots.text()
    assert len(text) == 20 * len(piece)  # the created message's "Hi" is not streamed text
    assert kept < 1.3 * 20 * len(piece), f"{kept:,} bytes kept for {20 * len(piece):,} bytes of text"
