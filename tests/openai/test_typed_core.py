"""The one typed core under every OpenAI stream kind: closing, wrong shapes, index bounds, in-band
errors, the shared text vocabulary and ``max_event_size``. Each test names the bug it pins."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.errors import (
    DecodeError,
    EventTooLarge,
    ProtocolError,
    StreamAPIError,
    StreamError,
    UsageError,
)
from streamer.openai import (
    AsyncChatStream,
    AsyncClient,
    AsyncResponseStream,
    AsyncRunStream,
    ChatStream,
    Client,
    ResponseStream,
    RunStream,
)
from streamer.openai.detect import open_stream
from streamer.testing.replay import ReplayServer, Reply

SYNC_KINDS = [RunStream, ChatStream, ResponseStream]
ASYNC_KINDS = [AsyncRunStream, AsyncChatStream, AsyncResponseStream]


def ev(name: str | None, data: Any) -> bytes:
    """One SSE event (no ``event:`` line when ``name`` is None); ``data`` dumped unless a str."""
    text = data if isinstance(data, str) else json.dumps(data)
    return ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()


def chunk(delta: dict[str, Any], **extra: Any) -> bytes:
    return ev(
        None,
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}], **extra},
    )


def drain(stream: Any) -> list[Any]:
    events = []
    while stream.next():
        events.append(stream.event())
    return events


# A finished stream of each kind, long enough to close in the middle.
RUN_BODY = b"".join(
    ev(
        "thread.message.delta",
        {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "ab"}}]}},
    )
    for _ in range(3)
) + ev("done", "[DONE]")
CHAT_BODY = chunk({"content": "a"}) * 3 + b"data: [DONE]\n\n"
RESPONSE_BODY = ev(
    "response.output_text.delta", {"type": "response.output_text.delta", "delta": "a"}
) * 3 + ev("response.completed", {"type": "response.completed", "response": {"status": "completed"}})
BODIES: dict[type, bytes] = {
    RunStream: RUN_BODY,
    ChatStream: CHAT_BODY,
    ResponseStream: RESPONSE_BODY,
    AsyncRunStream: RUN_BODY,
    AsyncChatStream: CHAT_BODY,
    AsyncResponseStream: RESPONSE_BODY,
}


def pieces(body: bytes, size: int = 7) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def apieces(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for piece in pieces(body, size):
        yield piece


# --- close() closes (TypedStream._release used to shadow Scanner._release) -----------------------


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_close_closes_every_sync_kind(cls: Any) -> None:
    closes: list[int] = []
    source = (piece for piece in pieces(BODIES[cls]))
    stream = cls.from_chunks(source, on_close=lambda: closes.append(1))
    assert stream.next()
    stream.close()
    stream.close()
    assert stream.closed
    assert not stream.next()
    assert closes == [1]
    assert list(source) == []  # the generator source was closed too


@pytest.mark.anyio
@pytest.mark.parametrize("cls", ASYNC_KINDS, ids=lambda c: c.__name__)
async def test_aclose_closes_every_async_kind(cls: Any) -> None:
    closes: list[int] = []

    async def on_close() -> None:
        closes.append(1)

    stream = cls.from_chunks(apieces(BODIES[cls]), on_close=on_close)
    assert await stream.next()
    await stream.aclose()
    await stream.aclose()
    assert stream.closed
    assert not await stream.next()
    assert closes == [1]


# --- every wrong shape of a known field is a DecodeError naming event, index and path -------------


def text_delta_event(block: Any) -> bytes:
    return ev("thread.message.delta", {"id": "m", "delta": {"content": [block]}})


def step_delta_event(call: Any) -> bytes:
    details = {"type": "tool_calls", "tool_calls": [call]}
    return ev("thread.run.step.delta", {"id": "s", "delta": {"step_details": details}})


WRONG_SHAPES: list[tuple[str, type, bytes, str]] = [
    (
        "text.value 5",
        RunStream,
        text_delta_event({"index": 0, "type": "text", "text": {"value": 5}}),
        "data.delta.content[0].text.value",
    ),
    (
        "string block index",
        RunStream,
        text_delta_event({"index": "0", "type": "text", "text": {"value": "x"}}),
        "data.delta.content[0].index",
    ),
    (
        "negative block index",
        RunStream,
        text_delta_event({"index": -5, "type": "text", "text": {"value": "x"}}),
        "data.delta.content[0].index",
    ),
    (
        "unhashable tool-call index",
        RunStream,
        step_delta_event({"index": [1], "type": "function"}),
        "data.delta.step_details.tool_calls[0].index",
    ),
    (
        "negative tool-call index",
        RunStream,
        step_delta_event({"index": -5, "type": "function"}),
        "data.delta.step_details.tool_calls[0].index",
    ),
    (
        "block type a list",
        RunStream,
        text_delta_event({"index": 0, "type": ["text"]}),
        "data.delta.content[0].type",
    ),
    (
        "chat logprobs 5",
        ChatStream,
        ev(None, {"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": 5}]}),
        "data.choices[0].logprobs",
    ),
    ("chat content 5", ChatStream, chunk({"content": 5}), "data.choices[0].delta.content"),
    (
        "chat unhashable tool-call index",
        ChatStream,
        chunk({"tool_calls": [{"index": [1]}]}),
        "data.choices[0].delta.tool_calls[0].index",
    ),
    (
        "chat negative tool-call index",
        ChatStream,
        chunk({"tool_calls": [{"index": -5}]}),
        "data.choices[0].delta.tool_calls[0].index",
    ),
    (
        "chat string choice index",
        ChatStream,
        ev(None, {"choices": [{"index": "0", "delta": {}}]}),
        "data.choices[0].index",
    ),
    (
        "chat audio transcript 5",
        ChatStream,
        chunk({"audio": {"transcript": 5}}),
        "data.choices[0].delta.audio.transcript",
    ),
    (
        "responses delta 5",
        ResponseStream,
        ev("response.output_text.delta", {"type": "response.output_text.delta", "delta": 5}),
        "data.delta",
    ),
    (
        "responses output_index a string",
        ResponseStream,
        ev("response.output_item.added", {"type": "response.output_item.added", "output_index": "0"}),
        "data.output_index",
    ),
]


@pytest.mark.parametrize(
    ("cls", "body", "path"), [w[1:] for w in WRONG_SHAPES], ids=[w[0] for w in WRONG_SHAPES]
)
def test_a_wrong_shape_is_a_decode_error_with_its_path(cls: Any, body: bytes, path: str) -> None:
    prefix = RUN_BODY.split(b"event: done")[0] if cls is RunStream else b""
    stream = cls.from_chunks([prefix + body])
    drain(stream)
    error = stream.err()
    assert isinstance(error, DecodeError), error
    assert error.path == path
    assert error.index == (3 if cls is RunStream else 0)
    assert f"#{error.index}" in str(error) and path in str(error)


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_json_nested_100000_deep_is_a_decode_error(cls: Any) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    name = {
        RunStream: "thread.message.delta",
        ChatStream: None,
        ResponseStream: "response.output_text.delta",
    }[cls]
    stream = cls.from_chunks([ev(name, deep)])
    drain(stream)
    error = stream.err()
    assert isinstance(error, DecodeError) and "nested too deeply" in str(error)


# --- an index that sizes a list is bounded --------------------------------------------------------


HUGE = 5_000_000


@pytest.mark.parametrize(
    ("cls", "body", "path"),
    [
        (
            RunStream,
            step_delta_event({"index": HUGE, "type": "function", "function": {"arguments": "x"}}),
            "data.delta.step_details.tool_calls[0].index",
        ),
        (
            RunStream,
            text_delta_event({"index": HUGE, "type": "text", "text": {"value": "x"}}),
            "data.delta.content[0].index",
        ),
        (
            ChatStream,
            chunk({"tool_calls": [{"index": HUGE, "function": {"arguments": "x"}}]}),
            "data.choices[0].delta.tool_calls[0].index",
        ),
        (
            ChatStream,
            ev(None, {"choices": [{"index": HUGE, "delta": {"content": "x"}}]}),
            "data.choices[0].index",
        ),
    ],
    ids=["step tool call", "message content block", "chat tool call", "chat choice"],
)
def test_a_huge_index_is_a_decode_error_not_an_allocation(cls: Any, body: bytes, path: str) -> None:
    tracemalloc.start()
    try:
        stream = cls.from_chunks([body])
        drain(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = stream.err()
    assert isinstance(error, DecodeError) and error.path == path
    assert "out of bounds" in str(error)
    assert peak < 5_000_000, peak  # 5M empty dicts took 375 MB


def test_an_index_within_the_gap_bound_keeps_its_position() -> None:
    first = step_delta_event({"index": 0, "type": "function", "function": {"name": "f", "arguments": "a"}})
    later = step_delta_event({"index": 2, "type": "function", "function": {"name": "g", "arguments": "b"}})
    stream = RunStream.from_chunks([first + later + ev("done", "[DONE]")])
    drain(stream)
    assert stream.err() is None
    step = stream.current_run_step()
    assert step is not None and step.step_details is not None
    calls = step.step_details.tool_calls  # type: ignore[union-attr]
    assert len(calls) == 3 and calls[2].function.name == "g"


# --- in-band errors: flat or nested fields ------------------------------------------------------


NESTED = {
    "type": "insufficient_quota",
    "code": "insufficient_quota",
    "message": "You exceeded your current quota",
}


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (ResponseStream, ev("error", {"type": "error", "sequence_number": 2, "error": NESTED})),
        (ResponseStream, ev("error", {"type": "error", "sequence_number": 2, **NESTED, "type_": 1})),
        (RunStream, ev("error", {"error": NESTED})),
        (RunStream, ev("error", {"code": "insufficient_quota", "message": NESTED["message"]})),
        (ChatStream, ev(None, {"error": NESTED})),
    ],
    ids=["responses nested", "responses flat", "assistants nested", "assistants flat", "chat"],
)
def test_an_error_event_carries_code_and_message(cls: Any, body: bytes) -> None:
    stream = cls.from_chunks([body])
    events = drain(stream)
    error = stream.err()
    assert isinstance(error, StreamAPIError)
    assert error.code == "insufficient_quota"
    assert error.message == NESTED["message"]
    assert len(events) == 1  # the error event is still handed out


# --- chat audio: the transcript is the text when there is no content -----------------------------


AUDIO_BODY = (
    chunk({"role": "assistant", "audio": {"id": "a1", "data": "AAA=", "transcript": "Hel"}})
    + chunk({"audio": {"data": "AAA=", "transcript": "lo"}})
    + chunk({"audio": {"expires_at": 1, "id": "a1"}})
    + b"data: [DONE]\n\n"
)


def test_chat_audio_transcript_is_the_text() -> None:
    stream = ChatStream.from_chunks(pieces(AUDIO_BODY))
    deltas = []
    while stream.next():
        text, ok = stream.text_delta()
        if ok:
            deltas.append(text)
    assert stream.err() is None
    assert deltas == ["Hel", "lo"]
    assert stream.text() == "Hello"
    assert ChatStream.from_chunks([AUDIO_BODY]).text_reader().read() == b"Hello"


def test_chat_content_wins_over_a_transcript() -> None:
    body = chunk({"content": "text", "audio": {"transcript": "spoken"}}) + b"data: [DONE]\n\n"
    stream = ChatStream.from_chunks([body])
    drain(stream)
    assert stream.text() == "text"


@pytest.mark.anyio
async def test_async_chat_audio_transcript_deltas() -> None:
    stream = AsyncChatStream.from_chunks(apieces(AUDIO_BODY))
    assert [t async for t in stream.text_deltas()] == ["Hel", "lo"]


# --- max_event_size is threaded everywhere -----------------------------------------------------


BIG = {
    RunStream: ev(
        "thread.message.delta",
        {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "x" * 500}}]}},
    ),
    ChatStream: chunk({"content": "x" * 500}),
    ResponseStream: ev(
        "response.output_text.delta", {"type": "response.output_text.delta", "delta": "x" * 500}
    ),
}
BIG[AsyncRunStream], BIG[AsyncChatStream], BIG[AsyncResponseStream] = (
    BIG[RunStream],
    BIG[ChatStream],
    BIG[ResponseStream],
)


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("build", ["init", "from_chunks", "open_stream"])
def test_max_event_size_reaches_every_sync_kind(cls: Any, build: str) -> None:
    make: Callable[..., Any] = {"init": cls, "from_chunks": cls.from_chunks, "open_stream": open_stream}[
        build
    ]
    small = make([BIG[cls]], max_event_size=200)
    drain(small)
    assert isinstance(small.err(), EventTooLarge)
    assert type(small) is cls
    large = make([BIG[cls]], max_event_size=2_000)
    assert large.next() and large.text() == "x" * 500


@pytest.mark.anyio
@pytest.mark.parametrize("cls", ASYNC_KINDS, ids=lambda c: c.__name__)
async def test_max_event_size_reaches_every_async_kind(cls: Any) -> None:
    stream = cls.from_chunks(apieces(BIG[cls]), max_event_size=200)
    assert not await stream.next()
    assert isinstance(stream.err(), EventTooLarge)


def test_client_run_stream_takes_max_event_size_over_http() -> None:
    body = BIG[RunStream] + ev("done", "[DONE]")
    with ReplayServer([Reply(body=body), Reply(body=body)]) as server:
        with Client(base_url=server.base_url, api_key="k", max_event_size=200) as client:
            small = client.create_thread_and_run_stream("asst_1")
            drain(small)
        with Client(base_url=server.base_url, api_key="k", max_event_size=2_000) as client:
            large = client.create_thread_and_run_stream("asst_1")
            drain(large)
    assert isinstance(small.err(), EventTooLarge)
    assert large.err() is None and large.text() == "x" * 500


@pytest.mark.anyio
async def test_async_client_run_stream_takes_max_event_size_over_http() -> None:
    body = BIG[RunStream] + ev("done", "[DONE]")
    with ReplayServer([Reply(body=body)]) as server:
        async with AsyncClient(base_url=server.base_url, api_key="k", max_event_size=200) as client:
            stream = await client.create_thread_and_run_stream("asst_1")
            assert not await stream.next()
    assert isinstance(stream.err(), EventTooLarge)


# --- a source that is not an iterable of bytes ----------------------------------------------------


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("source", [5, b"data: x\n\n", "data: x\n\n"], ids=["int", "bytes", "str"])
def test_from_chunks_of_a_non_iterable_is_a_usage_error_at_call_time(cls: Any, source: Any) -> None:
    with pytest.raises(UsageError, match="iterable of bytes"):
        cls.from_chunks(source)


@pytest.mark.parametrize("cls", ASYNC_KINDS, ids=lambda c: c.__name__)
def test_async_from_chunks_of_a_non_iterable_is_a_usage_error(cls: Any) -> None:
    with pytest.raises(UsageError, match="async iterable"):
        cls.from_chunks([b"data: x\n\n"])


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_a_chunk_that_is_not_bytes_ends_the_stream_with_a_protocol_error(cls: Any) -> None:
    stream = cls.from_chunks(["data: x\n\n"])
    assert not stream.next()
    assert isinstance(stream.err(), ProtocolError) and "not bytes" in str(stream.err())


# --- one vocabulary on every kind ---------------------------------------------------------------


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_every_sync_kind_speaks_the_same_text_vocabulary(cls: Any) -> None:
    stream = cls.from_chunks(pieces(BODIES[cls], 5))
    deltas = []
    while stream.next():
        text, ok = stream.text_delta()
        if ok:
            deltas.append(text)
    assert stream.err() is None
    assert "".join(deltas) == stream.text() != ""
    assert cls.from_chunks([BODIES[cls]]).text_reader().read() == stream.text().encode()


@pytest.mark.anyio
@pytest.mark.parametrize("cls", ASYNC_KINDS, ids=lambda c: c.__name__)
async def test_every_async_kind_has_text_deltas(cls: Any) -> None:
    stream = cls.from_chunks(apieces(BODIES[cls]))
    assert "".join([t async for t in stream.text_deltas()]) == stream.text() != ""


def test_the_old_names_are_aliases_of_text_delta() -> None:
    for cls, alias in (
        (RunStream, "message_delta_text"),
        (ChatStream, "content_delta"),
        (ResponseStream, "output_text_delta"),
    ):
        stream = cls.from_chunks([BODIES[cls]])
        assert stream.next()
        assert getattr(stream, alias)() == stream.text_delta()


# --- only StreamError reaches err(), whatever JSON arrives --------------------------------------


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "index",
                    "type",
                    "text",
                    "value",
                    "content",
                    "delta",
                    "choices",
                    "tool_calls",
                    "function",
                    "arguments",
                    "id",
                    "error",
                    "code",
                    "message",
                    "logprobs",
                    "audio",
                    "transcript",
                    "output_index",
                    "item",
                    "response",
                    "step_details",
                    "annotations",
                    "usage",
                    "finish_reason",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
NAMES = {
    RunStream: st.sampled_from(
        [
            "thread.message.delta",
            "thread.run.step.delta",
            "thread.message.created",
            "thread.run.step.created",
            "thread.message.completed",
            "thread.run.requires_action",
            "error",
        ]
    ),
    ChatStream: st.just(None),
    ResponseStream: st.sampled_from(
        [
            "response.output_text.delta",
            "response.output_item.added",
            "error",
            "response.function_call_arguments.delta",
            "response.completed",
        ]
    ),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_only_stream_errors_reach_err_on_hostile_json(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(SYNC_KINDS))
    events = data.draw(st.lists(st.tuples(NAMES[cls], JSON), min_size=1, max_size=4))
    body = b"".join(ev(name, payload) for name, payload in events)
    stream = cls.from_chunks(pieces(body, data.draw(st.integers(1, 64))))
    drain(stream)
    error = stream.err()
    assert error is None or isinstance(error, StreamError), repr(error)
    stream.text()


# --- snapshots=False: text only, for relays and pipes ----------------------------------------------


def long_body(cls: Any, pieces_count: int) -> bytes:
    if cls is RunStream:
        one = ev(
            "thread.message.delta",
            {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "abcdefgh"}}]}},
        )
        return one * pieces_count + ev("done", "[DONE]")
    if cls is ChatStream:
        return chunk({"content": "abcdefgh"}) * pieces_count + b"data: [DONE]\n\n"
    one = ev("response.output_text.delta", {"type": "response.output_text.delta", "delta": "abcdefgh"})
    end = ev("response.completed", {"type": "response.completed", "response": {"status": "completed"}})
    return one * pieces_count + end


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_without_snapshots_the_events_and_deltas_are_the_same(cls: Any) -> None:
    body = BODIES[cls]
    full, light = cls.from_chunks(pieces(body)), cls.from_chunks(pieces(body), snapshots=False)
    deltas: dict[str, list[str]] = {"full": [], "light": []}
    for name, stream in (("full", full), ("light", light)):
        while stream.next():
            text, ok = stream.text_delta()
            if ok:
                deltas[name].append(text)
    assert full.err() is None and light.err() is None
    assert deltas["light"] == deltas["full"] != []
    assert cls.from_chunks([body], snapshots=False).text_reader().read() == full.text().encode()


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_without_snapshots_a_snapshot_accessor_is_a_usage_error(cls: Any) -> None:
    stream = cls.from_chunks([BODIES[cls]], snapshots=False)
    drain(stream)
    with pytest.raises(UsageError, match="snapshots=False"):
        stream.text()


def test_without_snapshots_an_error_event_still_ends_the_stream() -> None:
    body = ev("error", {"type": "error", "sequence_number": 1, "error": NESTED})
    stream = ResponseStream.from_chunks([body], snapshots=False)
    drain(stream)
    assert isinstance(stream.err(), StreamAPIError) and stream.err().code == "insufficient_quota"  # type: ignore[union-attr]


@pytest.mark.parametrize("cls", SYNC_KINDS, ids=lambda c: c.__name__)
def test_without_snapshots_memory_does_not_grow_with_the_text(cls: Any) -> None:
    body = long_body(cls, 20_000)  # 160 KB of text
    peaks = {}
    for keep in (True, False):
        chunks = pieces(body, 4096)
        tracemalloc.start()
        try:
            stream = cls.from_chunks(chunks, snapshots=keep)
            while stream.next():  # keeping no events: only the stream's own memory counts
                stream.text_delta()
            peaks[keep] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert stream.err() is None
    assert peaks[False] < 200_000 < peaks[True], peaks


@pytest.mark.parametrize("command", ["text", "cat"])
def test_the_cli_takes_max_event_size(
    command: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from streamer.cli.main import main

    recording = tmp_path / "big.sse"
    recording.write_bytes(BIG[ChatStream] + b"data: [DONE]\n\n")
    assert main([command, str(recording), "--max-event-size", "200"]) == 1
    assert "max_event_size=200" in capsys.readouterr().err
    assert main([command, str(recording), "--max-event-size", "2000"]) == 0
    out = capsys.readouterr().out
    assert ("x" * 500 in out) if command == "text" else ("ChatChunk" in out)


def test_open_stream_of_a_non_iterable_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="open_stream takes an iterable of bytes"):
        open_stream(5)  # type: ignore[arg-type]


def test_open_stream_of_text_chunks_reports_them_in_err() -> None:
    stream = open_stream(["data: {}\n\n"])  # type: ignore[list-item]
    assert not stream.next()
    assert isinstance(stream.err(), ProtocolError) and "not bytes" in str(stream.err())
