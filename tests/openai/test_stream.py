"""RunStream / AsyncRunStream: endings, unwrappers, snapshots and tool-output continuation."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import DecodeError, StreamAPIError, ToolOutputsNotExpected, UnexpectedEOF
from streamer.openai import (
    AsyncRunStream,
    CodeInterpreterToolCall,
    DoneEvent,
    ErrorEvent,
    FunctionToolCall,
    RunStream,
    TextContentBlock,
    ThreadMessageDelta,
    ThreadRunCompleted,
    ThreadRunRequiresAction,
    ToolCallsStepDetails,
    UnknownEvent,
)

from ..conftest import RECORDINGS
from .payloads import every_event, to_sse

TEXT = (RECORDINGS / "synthetic_text_01.sse").read_bytes()
CALL = (RECORDINGS / "synthetic_function_call_01.sse").read_bytes()
CONTINUE = (RECORDINGS / "synthetic_function_call_02_continue.sse").read_bytes()
ERROR = (RECORDINGS / "synthetic_error_event_01.sse").read_bytes()


def drain(stream: RunStream) -> list[object]:
    events = []
    while stream.next():
        events.append(stream.event())
    return events


def expected_text(body: bytes) -> str:
    pieces = []
    for raw in sse.iter_events([body]):
        if raw.event == "thread.message.delta":
            for block in json.loads(raw.data)["delta"].get("content", []):
                if block.get("type") == "text":
                    pieces.append(block["text"].get("value", ""))
    return "".join(pieces)


class Tracked:
    """A byte source that records being closed."""

    def __init__(self, body: bytes, size: int = 64) -> None:
        self.chunks = iter([body[i : i + size] for i in range(0, len(body), size)])
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self.chunks)

    def close(self) -> None:
        self.closed = True


def test_whole_run_ends_cleanly_at_done() -> None:
    stream = RunStream.from_chunks([TEXT])
    events = drain(stream)
    assert isinstance(events[-1], DoneEvent)
    assert stream.err() is None
    assert [e.index for e in events] == list(range(len(events)))  # type: ignore[attr-defined]


def test_scanner_loop_with_match() -> None:
    stream = RunStream.from_chunks([TEXT])
    text, completed = [], None
    while stream.next():
        match stream.event():
            case ThreadMessageDelta(data=delta) if delta.delta is not None:
                text.append(delta.delta.text())
            case ThreadRunCompleted(data=run):
                completed = run.status
    assert "".join(text) == expected_text(TEXT)
    assert completed == "completed"


@given(st.lists(st.integers(1, 200), min_size=1, max_size=50))
def test_events_do_not_depend_on_chunking(sizes: list[int]) -> None:
    chunks, pos, i = [], 0, 0
    while pos < len(TEXT):
        size = sizes[i % len(sizes)]
        chunks.append(TEXT[pos : pos + size])
        pos, i = pos + size, i + 1
    stream = RunStream.from_chunks(chunks)
    assert [type(e).__name__ for e in drain(stream)] == [
        type(e).__name__ for e in drain(RunStream.from_chunks([TEXT]))
    ]
    assert stream.text() == expected_text(TEXT)


def test_message_delta_text_unwrapper() -> None:
    stream = RunStream.from_chunks([TEXT])
    pieces = []
    while stream.next():
        text, ok = stream.message_delta_text()
        if ok:
            pieces.append(text)
        else:
            assert text == ""
    assert "".join(pieces) == expected_text(TEXT)


def test_unwrappers_answer_only_for_their_event() -> None:
    stream = RunStream.from_chunks([CALL])
    seen = set()
    while stream.next():
        event = stream.event()
        run, ok = stream.run()
        assert ok == (type(event).__name__.startswith("ThreadRun") and "Step" not in type(event).__name__)
        if ok:
            assert run is event.data  # type: ignore[attr-defined]
            seen.add("run")
        delta, ok = stream.run_step_delta()
        if ok:
            assert delta is event.data  # type: ignore[attr-defined]
            seen.add("step delta")
        calls, ok = stream.required_action()
        if ok:
            assert [(c.id, c.function.name) for c in calls if c.function] == [("call_abc123", "get_weather")]
            seen.add("required action")
        _, ok = stream.message_delta()
        assert not ok
        _, ok = stream.error()
        assert not ok
    assert seen == {"run", "step delta", "required action"}


def test_message_completed_and_final_messages() -> None:
    stream = RunStream.from_chunks([TEXT])
    completed = []
    while stream.next():
        message, ok = stream.message_completed()
        if ok:
            completed.append(message)
    assert completed and completed == stream.final_messages()
    assert stream.final_messages()[0].text() == expected_text(TEXT)
    run = stream.final_run()
    assert run is not None and run.status == "completed"


def test_current_message_snapshot_assembles_text_annotations_and_blocks() -> None:
    events = [e for e in every_event() if e[0] in {"thread.message.created", "thread.message.delta"}]
    stream = RunStream.from_chunks([to_sse(events)])
    drain(stream)
    message = stream.current_message()
    assert message is not None
    kinds = [type(b).__name__ for b in message.content or []]
    assert kinds == [
        "TextContentBlock",
        "ImageFileContentBlock",
        "ImageURLContentBlock",
        "RefusalContentBlock",
    ]
    text = message.content[0] if message.content else None
    assert isinstance(text, TextContentBlock) and text.text is not None
    assert text.text.value == "See 【1】 and sandbox:/a.csv"
    assert [type(a).__name__ for a in text.text.annotations or []] == [
        "FileCitationAnnotation",
        "FilePathAnnotation",
    ]
    refusal = message.content[3] if message.content else None
    assert getattr(refusal, "refusal", None) == "I can't help with that."
    assert stream.text() == "See 【1】 and sandbox:/a.csv"


def test_current_run_step_snapshot_assembles_tool_calls() -> None:
    events = [e for e in every_event() if e[0] == "thread.run.step.delta"]
    created = (
        "thread.run.step.created",
        {"id": "step_1", "type": "tool_calls", "step_details": {"type": "tool_calls", "tool_calls": []}},
    )
    stream = RunStream.from_chunks([to_sse([created, *events])])
    drain(stream)
    step = stream.current_run_step()
    assert step is not None and isinstance(step.step_details, ToolCallsStepDetails)
    calls = step.step_details.tool_calls or []
    interpreter, _, function = calls
    assert isinstance(interpreter, CodeInterpreterToolCall) and interpreter.code_interpreter is not None
    assert interpreter.code_interpreter.input == "print(1)"
    assert [type(o).__name__ for o in interpreter.code_interpreter.outputs or []] == [
        "CodeInterpreterLogs",
        "CodeInterpreterImage",
    ]
    assert isinstance(function, FunctionToolCall) and function.function is not None
    assert function.function.arguments == '{"a": 1}'
    assert json.loads(function.function.arguments) == {"a": 1}


def test_function_call_recording_assembles_arguments() -> None:
    stream = RunStream.from_chunks([CALL])
    drain(stream)
    step = stream.current_run_step()
    assert step is not None and isinstance(step.step_details, ToolCallsStepDetails)
    (call,) = step.step_details.tool_calls or []
    assert isinstance(call, FunctionToolCall) and call.function is not None
    assert json.loads(call.function.arguments or "") == {"city": "Paris"}


@pytest.mark.parametrize(
    "cut", [1, 100, len(TEXT) // 2, len(TEXT) - len(b"event: done\ndata: [DONE]\n\n"), len(TEXT) - 2]
)
def test_bytes_ending_before_done_are_unexpected_eof(cut: int) -> None:
    stream = RunStream.from_chunks([TEXT[:cut]])
    events = drain(stream)
    error = stream.err()
    assert isinstance(error, UnexpectedEOF)
    assert f"after {len(events)} events" in str(error)
    if events:
        assert repr(events[-1].name) in str(error)  # type: ignore[attr-defined]


def test_every_event_boundary_cut_is_an_error_except_after_done() -> None:
    boundaries = [i + 2 for i in range(len(TEXT)) if TEXT[i : i + 2] == b"\n\n"]
    for cut in boundaries[:-1]:
        stream = RunStream.from_chunks([TEXT[:cut]])
        drain(stream)
        assert isinstance(stream.err(), UnexpectedEOF), cut
    stream = RunStream.from_chunks([TEXT[: boundaries[-1]]])
    drain(stream)
    assert stream.err() is None


def test_error_event_is_handed_out_then_ends_with_its_code_and_message() -> None:
    stream = RunStream.from_chunks([ERROR])
    events = drain(stream)
    assert isinstance(events[-1], ErrorEvent)
    error = stream.err()
    assert isinstance(error, StreamAPIError)
    assert error.code == "server_error" and error.message
    assert not stream.next()


def test_decode_error_ends_the_stream() -> None:
    stream = RunStream.from_chunks([b"event: thread.run.created\ndata: {oops\n\n"])
    assert not stream.next()
    assert isinstance(stream.err(), DecodeError)


def test_unknown_events_are_passed_through() -> None:
    body = b"event: thread.run.paused\ndata: {}\n\n" + TEXT
    events = drain(RunStream.from_chunks([body]))
    assert isinstance(events[0], UnknownEvent)


def test_bytes_after_done_are_not_read() -> None:
    source = Tracked(TEXT + b"event: thread.created\ndata: {}\n\n" * 100, size=len(TEXT))
    stream = RunStream.from_chunks(source)
    events = drain(stream)
    assert isinstance(events[-1], DoneEvent)
    assert source.closed


def test_close_is_idempotent_and_releases_the_source() -> None:
    source = Tracked(TEXT)
    closed = []
    stream = RunStream.from_chunks(source, on_close=lambda: closed.append(1))
    assert stream.next()
    stream.close()
    stream.close()
    assert source.closed and closed == [1]
    assert not stream.next()


def test_submit_tool_outputs_continues_the_same_stream() -> None:
    calls = []

    def continuation(thread_id: str, run_id: str, outputs: list[dict[str, object]]) -> list[bytes]:
        calls.append((thread_id, run_id, outputs))
        return [CONTINUE]

    stream = RunStream.from_chunks([CALL], continuation=continuation)
    names = []
    while stream.next():
        event = stream.event()
        names.append(event.name)  # type: ignore[attr-defined]
        if isinstance(event, ThreadRunRequiresAction):
            tool_calls, _ = stream.required_action()
            stream.submit_tool_outputs([{"tool_call_id": c.id, "output": "18C"} for c in tool_calls])
    assert stream.err() is None
    assert calls == [("thread_abc123", "run_abc123", [{"tool_call_id": "call_abc123", "output": "18C"}])]
    assert names.count("done") == 1 and names[-1] == "done"
    assert "thread.run.completed" in names
    assert stream.text() == expected_text(CONTINUE)


def test_submit_tool_outputs_without_requires_action_is_refused() -> None:
    stream = RunStream.from_chunks([TEXT], continuation=lambda *_: [CONTINUE])
    stream.next()
    with pytest.raises(ToolOutputsNotExpected, match="requires_action"):
        stream.submit_tool_outputs([])


def test_submit_tool_outputs_without_a_client_is_refused() -> None:
    stream = RunStream.from_chunks([CALL])
    while stream.next():
        if isinstance(stream.event(), ThreadRunRequiresAction):
            with pytest.raises(ToolOutputsNotExpected, match="not opened by a Client"):
                stream.submit_tool_outputs([])
    assert stream.err() is None


def test_requires_action_left_unanswered_ends_cleanly_at_done() -> None:
    stream = RunStream.from_chunks([CALL], continuation=lambda *_: [CONTINUE])
    events = drain(stream)
    assert isinstance(events[-1], DoneEvent) and stream.err() is None


async def achunks(body: bytes, size: int = 50) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


@pytest.mark.anyio
async def test_async_stream_matches_sync() -> None:
    stream = AsyncRunStream.from_chunks(achunks(TEXT))
    names = [e.name async for e in stream]  # type: ignore[attr-defined]
    assert names == [e.name for e in drain(RunStream.from_chunks([TEXT]))]  # type: ignore[attr-defined]
    assert stream.text() == expected_text(TEXT)


@pytest.mark.anyio
async def test_async_text_deltas() -> None:
    stream = AsyncRunStream.from_chunks(achunks(TEXT))
    assert "".join([t async for t in stream.text_deltas()]) == expected_text(TEXT)


@pytest.mark.anyio
async def test_async_truncation_is_unexpected_eof() -> None:
    stream = AsyncRunStream.from_chunks(achunks(TEXT[:-30]))
    while await stream.next():
        pass
    assert isinstance(stream.err(), UnexpectedEOF)


@pytest.mark.anyio
async def test_async_text_deltas_raise_the_stream_error() -> None:
    stream = AsyncRunStream.from_chunks(achunks(ERROR))
    with pytest.raises(StreamAPIError):
        _ = [t async for t in stream.text_deltas()]


@pytest.mark.anyio
async def test_async_submit_tool_outputs_continues() -> None:
    async def continuation(
        thread_id: str, run_id: str, outputs: list[dict[str, object]]
    ) -> AsyncIterator[bytes]:
        assert (thread_id, run_id) == ("thread_abc123", "run_abc123")
        return achunks(CONTINUE)

    closed = []

    async def on_close() -> None:
        closed.append(1)

    stream = AsyncRunStream.from_chunks(achunks(CALL), continuation=continuation, on_close=on_close)
    async with stream:
        while await stream.next():
            if isinstance(stream.event(), ThreadRunRequiresAction):
                await stream.submit_tool_outputs([{"tool_call_id": "call_abc123", "output": "18C"}])
    assert stream.err() is None
    assert stream.final_run() is not None and stream.final_run().status == "completed"  # type: ignore[union-attr]
    assert closed == [1]


def test_current_message_is_assembled_from_plain_text_deltas() -> None:
    stream = RunStream.from_chunks([TEXT])
    snapshots = []
    while stream.next():
        if isinstance(stream.event(), ThreadMessageDelta):
            message = stream.current_message()
            assert message is not None
            snapshots.append(message.text())
    assert snapshots[-1] == expected_text(TEXT)
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(snapshots))


def test_text_delta_for_a_block_the_snapshot_lacks_takes_the_general_merge() -> None:
    body = to_sse(
        [
            ("thread.message.created", {"id": "m", "content": []}),
            (
                "thread.message.delta",
                {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "a"}}]}},
            ),
            (
                "thread.message.delta",
                {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "b"}}]}},
            ),
            (
                "thread.message.delta",
                {"id": "m", "delta": {"content": [{"index": 1, "type": "text", "text": {"value": "c"}}]}},
            ),
        ]
    )
    stream = RunStream.from_chunks([body])
    drain(stream)
    message = stream.current_message()
    assert message is not None and message.text() == "abc"
    assert len(message.content or []) == 2
    assert stream.text() == "abc"
