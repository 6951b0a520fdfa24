"""The chat hot path against the full path: same events, data, text, snapshots and errors.

The hot path (an anchored regex over the common ``chat.completion.chunk``, a lazily built
``data``) must be invisible: every input, recorded or mutated, decodes the same with it as with
``ChatProtocol(hot=False)``, which always takes the full path.
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
from streamer.openai.chat import ChatStream
from streamer.openai.chat._fast import TextChunks, hot_text_chunk
from streamer.openai.chat.models import ChatChunk
from streamer.openai.chat.stream import ChatProtocol, _ChatUnwrappers

from .differential import outcome as _outcome
from .differential import result as _result

REAL = Path(__file__).parent / "real_streams"
SOURCES = sorted(REAL.glob("chat_*.sse"))
RECORDED = {path.name: list(sse.iter_events([path.read_bytes()])) for path in SOURCES}
CHUNKS = sorted({e.data for events in RECORDED.values() for e in events if e.data.startswith("{")})
ORDER = [
    "id",
    "object",
    "created",
    "model",
    "service_tier",
    "system_fingerprint",
    "choices",
    "usage",
    "obfuscation",
]
DELTA_KEYS = [["content"], ["role", "content"], ["content", "refusal"], ["role", "content", "refusal"]]


def _is_text_chunk(data: str) -> bool:
    """The shape the hot path is for, told from the decoded JSON: the API's order, one text choice."""
    payload = json.loads(data)
    keys = list(payload)
    if keys != [k for k in ORDER if k in keys] or not set(ORDER) - {
        "service_tier",
        "usage",
        "obfuscation",
    } <= set(keys):
        return False
    choices = payload["choices"]
    if len(choices) != 1 or list(choices[0]) != ["index", "delta", "logprobs", "finish_reason"]:
        return False
    choice = choices[0]
    delta = choice["delta"]
    return (
        choice["index"] == 0
        and choice["logprobs"] is None
        and choice["finish_reason"] is None
        and list(delta) in DELTA_KEYS
        and delta.get("refusal") is None
        and payload.get("usage") is None
        and data == json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    )


#: The recorded chunks the hot path is for.
TEXT_CHUNKS = [d for d in CHUNKS if _is_text_chunk(d)]


class _View(_ChatUnwrappers):
    """The stream's unwrappers over a protocol and a current event, without a stream around them."""

    def __init__(self, protocol: ChatProtocol, current: Any) -> None:
        self._protocol = protocol
        self._current = current


def _reads(view: _View) -> list[Any]:
    """Every helper a user reads per chunk (the first ones before anything builds ``data``)."""
    return [
        _result(view.text_delta),
        _result(lambda: view.content_delta(0)),
        _result(lambda: view.content_delta(1)),
        _result(view.usage),
        _result(view.finish_reason),
        _result(view.refusal_delta),
        _result(view.transcript_delta),
        _result(view.tool_call_deltas),
        _result(view.message),
        _result(lambda: view.message(1)),
        _result(view.text),
        _result(view.final_usage),
    ]


def _same_outcome(hot: Any, full: Any) -> None:
    if isinstance(full, Exception) or isinstance(hot, Exception):
        assert type(hot) is type(full)
        assert str(hot) == str(full)
        assert getattr(hot, "path", None) == getattr(full, "path", None)
        assert (hot.event, hot.index) == (full.event, full.index)
        return
    assert type(hot) is type(full)
    if hot is None:
        return
    assert hot.index == full.index and hot.raw is full.raw
    assert hot == full and repr(hot) == repr(full)
    assert attrs.asdict(hot) == attrs.asdict(full)
    if isinstance(full, ChatChunk):
        assert hot.data.to_dict() == full.data.to_dict()
        assert hot.data.extra == full.data.extra


def run_both(events: list[sse.Event], *, keep_snapshots: bool = True) -> int:
    """Feed ``events`` to a hot and a full protocol, checking they agree; returns hot-path hits."""
    hot = ChatProtocol(keep_snapshots=keep_snapshots)
    full = ChatProtocol(keep_snapshots=keep_snapshots, hot=False)
    hits = 0
    for raw in events:
        hits += raw.data != "[DONE]" and hot_text_chunk(raw, 0) is not None
        got, want = _outcome(hot, raw), _outcome(full, raw)
        if not isinstance(want, Exception):
            # The helpers first, while a hot event's data is still unbuilt; then the events.
            assert _reads(_View(hot, got)) == _reads(_View(full, want))
        _same_outcome(got, want)
        assert (hot.index, hot.done, repr(hot.error)) == (full.index, full.done, repr(full.error))
        assert (hot.text, hot.transcript, hot.has_content) == (full.text, full.transcript, full.has_content)
        if isinstance(want, Exception):
            break
    return hits


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_recording_decodes_the_same_on_both_paths(name: str) -> None:
    run_both(RECORDED[name])
    run_both(RECORDED[name], keep_snapshots=False)


def test_the_recorded_text_chunks_take_the_hot_path() -> None:
    hits = [d for d in CHUNKS if hot_text_chunk(sse.Event("message", d), 0) is not None]
    assert hits == TEXT_CHUNKS and len(hits) > 400


def test_a_hot_chunk_builds_its_data_only_when_read() -> None:
    stream = ChatStream.from_chunks([(REAL / "chat_pydantic-ai_9.sse").read_bytes()])
    lazy = 0
    while stream.next():
        chunk = stream.event()
        if isinstance(chunk, ChatChunk) and lazy_state(chunk) is not None:
            lazy += 1
            text, ok = stream.text_delta()
            assert stream.usage() == (None, False) and stream.finish_reason() == (None, False)
            assert lazy_state(chunk) is not None  # the helpers need no model
            assert chunk.data.choices is not None and lazy_state(chunk) is None
            assert text == (chunk.data.choices[0].delta.content or "")  # type: ignore[union-attr]
            assert ok == bool(text)
    assert stream.err() is None and lazy >= 5


def test_a_hot_chunk_stays_read_only() -> None:
    found = hot_text_chunk(sse.Event("message", TEXT_CHUNKS[0]), 0)
    assert found is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        found[0].data = None  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        found[0].data.id = "x"  # type: ignore[misc]


# --- mutations of recorded chunks -------------------------------------------------------------

ODD_TEXTS = ["", '"', "\\", "\n", "\u00e9", "\U0001f600", "\x00", "\x1f", "\u2028", "a/b", "\ud800", "\udfff"]
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "0", "", [], {}, 2**63, 10**20, 1, "text", [1], {"a": 1}]


def _places(payload: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    choice = payload["choices"][0]
    delta = choice["delta"]
    top = ["id", "object", "created", "model", "service_tier", "system_fingerprint", "usage", "obfuscation"]
    return [
        *((payload, key) for key in [*top, "choices", "extra_field"]),
        *((choice, key) for key in ["index", "delta", "logprobs", "finish_reason", "other"]),
        *((delta, key) for key in ["content", "role", "refusal", "tool_calls", "audio", "new"]),
    ]


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
def test_mutated_chunks_decode_the_same_on_both_paths(data: st.DataObject | None) -> None:
    if data is None:  # the plain recorded case, always run
        hits = run_both([sse.Event("message", d) for d in TEXT_CHUNKS])
        assert hits == len(TEXT_CHUNKS)
        return
    recorded = data.draw(st.sampled_from(TEXT_CHUNKS), label="recorded")
    payload = json.loads(recorded)
    if data.draw(st.booleans(), label="new text"):
        text = data.draw(st.one_of(st.sampled_from(ODD_TEXTS), st.text(max_size=8)), label="text")
        payload["choices"][0]["delta"]["content"] = text
    if data.draw(st.booleans(), label="odd value"):
        target, key = data.draw(st.sampled_from(_places(payload)), label="place")
        target[key] = data.draw(st.sampled_from(ODD_VALUES), label="value")
    text = _dump(payload, data)
    if data.draw(st.booleans(), label="edit text"):
        text = _text_mutation(text, data)
    chunk = sse.Event("message", text)
    follow = sse.Event("message", TEXT_CHUNKS[-1])
    # The recorded chunk first: the hot path remembers its head, and the mutated one shares it.
    hits = run_both([sse.Event("message", recorded), chunk, follow, chunk, sse.Event("message", "[DONE]")])
    run_both([chunk, follow], keep_snapshots=False)
    event(f"hot-path hits: {hits}")


CHUNK = (
    '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,'
    '"choices":[{"index":0,"delta":{"content":"%s"},"logprobs":null,"finish_reason":null}]}'
)


@pytest.mark.parametrize(
    "value", ["plain", r"a\"b", r"\\", r"line\nbreak", r"\u00e9t\u00e9", r"\ud83d\ude00", r"\ud800", r"\/"]
)
def test_escaped_content_takes_the_hot_path_and_matches(value: str) -> None:
    raw = sse.Event("message", CHUNK % value)
    found = hot_text_chunk(raw, 0)
    assert found is not None and found[1][3] == json.loads(f'"{value}"')
    run_both([raw, raw])


@pytest.mark.parametrize("value", ["\x01", r"\x41", r"\u12g4", "tab\there"], ids=["ctrl", "x", "u", "tab"])
def test_invalid_content_is_left_to_the_full_path_which_rejects_it(value: str) -> None:
    raw = sse.Event("message", CHUNK % value)
    assert hot_text_chunk(raw, 0) is None
    outcome = _outcome(ChatProtocol(), raw)
    assert isinstance(outcome, DecodeError) and "invalid JSON" in str(outcome)


@pytest.mark.parametrize("created", ["1", "0", "99999999999999999", "9" * 30, "01", "-1", "1.5", "1e3"])
def test_odd_numbers_agree_on_both_paths(created: str) -> None:
    raw = sse.Event("message", (CHUNK % "x").replace('"created":1', f'"created":{created}'))
    run_both([raw])


def test_over_a_real_socket_the_hot_path_gives_what_the_full_path_gives() -> None:
    from streamer.openai.client import Client
    from streamer.testing.replay import ReplayServer, sse_reply

    path = REAL / "chat_openllmetry_4.sse"
    full = ChatProtocol(hot=False)
    expected = [e for e in (full.accept(raw) for raw in RECORDED[path.name]) if e is not None]
    with (
        ReplayServer([sse_reply(path, chunk_size=37)]) as server,
        Client("k", base_url=server.base_url) as client,
    ):
        stream = client.chat_completions_stream(model="m", messages=[{"role": "user", "content": "hi"}])
        got = []
        while stream.next():
            got.append(stream.event())
        assert stream.err() is None
        assert stream.text() == "".join(full.text)
        assert stream.message() == full.choices[0].message(0)
    assert any(lazy_state(e) is not None for e in got)
    assert got == expected and [type(e) for e in got] == [type(e) for e in expected]


@pytest.mark.anyio
async def test_over_a_real_socket_the_async_stream_takes_the_hot_path_too() -> None:
    from streamer.openai.client import AsyncClient
    from streamer.testing.replay import ReplayServer, sse_reply

    path = REAL / "chat_pydantic-ai_5.sse"
    full = ChatProtocol(hot=False)
    expected = [e for e in (full.accept(raw) for raw in RECORDED[path.name]) if e is not None]
    with ReplayServer([sse_reply(path, chunk_size=29)]) as server:
        async with AsyncClient("k", base_url=server.base_url) as client:
            stream = await client.chat_completions_stream(model="m", messages=[])
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


def test_a_remembered_head_does_not_let_a_wrong_tail_through() -> None:
    good = CHUNK % "a"
    bad_tail = good.replace('"logprobs":null', '"logprobs":5')
    other_head = good.replace('"created":1', '"created":"1"')
    chunks = TextChunks()
    assert chunks.match(sse.Event("message", good), 0) is not None
    assert chunks.match(sse.Event("message", bad_tail), 1) is None
    assert chunks.match(sse.Event("message", other_head), 2) is None
    run_both([sse.Event("message", d) for d in (good, good, bad_tail)])
    run_both([sse.Event("message", d) for d in (good, other_head)])


def test_threads_reading_one_hot_chunk_at_once_all_see_its_data() -> None:
    import threading

    raw = sse.Event("message", TEXT_CHUNKS[0])
    want = ChatProtocol(hot=False).accept(raw)
    for _ in range(20):
        found = hot_text_chunk(raw, 0)
        assert found is not None and want is not None
        chunk = found[0]
        seen: list[Any] = []
        start = threading.Barrier(4)

        def read(chunk: ChatChunk = chunk, start: threading.Barrier = start, seen: list[Any] = seen) -> None:
            start.wait()
            seen.append((chunk.index, chunk.raw, chunk.data))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert seen == [(0, raw, want.data)] * 4
