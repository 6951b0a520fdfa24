"""Responses API streams: every event type against the official SDK, endings, unwrappers, reader."""

from __future__ import annotations

import io
import json
import typing
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import ResponseStreamEvent

from streamer import sse
from streamer.errors import DecodeError, StreamAPIError, StreamReadError, UnexpectedEOF
from streamer.openai import UnknownEvent
from streamer.openai.client import AsyncClient, Client
from streamer.openai.responses import (
    EVENTS,
    AsyncResponseStream,
    ResponseCompleted,
    ResponseOutputTextDelta,
    ResponseProtocol,
    ResponseStream,
)
from streamer.testing.replay import ReplayServer, Reply

from .sdk_fill import fill
from .test_events import assert_same

SDK_CLASSES = typing.get_args(typing.get_args(ResponseStreamEvent)[0])
ADAPTER = pydantic.TypeAdapter(ResponseStreamEvent)


def encode(events: list[dict[str, Any]]) -> bytes:
    return b"".join(sse.encode(sse.Event(e["type"], json.dumps(e, ensure_ascii=False))) for e in events)


def response(status: str, text: str = "") -> dict[str, Any]:
    output = []
    if text:
        output = [
            {
                "id": "msg_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        ]
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "gpt-4.1",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
    }


def realistic(pieces: list[str], *, end: str = "response.completed") -> list[dict[str, Any]]:
    seq = iter(range(10_000))
    events: list[dict[str, Any]] = [
        {"type": "response.created", "sequence_number": next(seq), "response": response("in_progress")},
        {"type": "response.in_progress", "sequence_number": next(seq), "response": response("in_progress")},
        {
            "type": "response.output_item.added",
            "sequence_number": next(seq),
            "output_index": 0,
            "item": {
                "id": "msg_1",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
        {
            "type": "response.content_part.added",
            "sequence_number": next(seq),
            "output_index": 0,
            "item_id": "msg_1",
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    for piece in pieces:
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": next(seq),
                "output_index": 0,
                "item_id": "msg_1",
                "content_index": 0,
                "delta": piece,
                "logprobs": [],
            }
        )
    text = "".join(pieces)
    events += [
        {
            "type": "response.output_text.done",
            "sequence_number": next(seq),
            "output_index": 0,
            "item_id": "msg_1",
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {
            "type": "response.output_item.added",
            "sequence_number": next(seq),
            "output_index": 1,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "status": "in_progress",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": "",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "sequence_number": next(seq),
            "output_index": 1,
            "item_id": "fc_1",
            "delta": '{"q":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "sequence_number": next(seq),
            "output_index": 1,
            "item_id": "fc_1",
            "delta": ' "x"}',
        },
        {"type": end, "sequence_number": next(seq), "response": response(end.split(".")[1], text)},
    ]
    return events


@pytest.mark.parametrize("cls", SDK_CLASSES, ids=lambda c: c.__name__)
def test_every_event_type_decodes_like_the_official_sdk(cls: type[pydantic.BaseModel]) -> None:
    payload = fill(cls)
    theirs = ADAPTER.validate_python(payload)
    protocol = ResponseProtocol()
    ours = protocol.accept(sse.Event(payload["type"], json.dumps(payload)))
    assert not isinstance(ours, UnknownEvent), payload["type"]
    assert type(ours).event == payload["type"]
    assert_same(ours, theirs, payload["type"])


def test_every_sdk_event_type_has_a_class() -> None:
    sdk_types = {typing.get_args(c.model_fields["type"].annotation)[0] for c in SDK_CLASSES}
    assert sdk_types == set(EVENTS)


def test_realistic_stream_decodes_like_the_official_sdk() -> None:
    protocol = ResponseProtocol()
    for payload in realistic(["Hel", "lo"]):
        ours = protocol.accept(sse.Event(payload["type"], json.dumps(payload)))
        assert_same(ours, ADAPTER.validate_python(payload), payload["type"])


def test_scanner_ends_cleanly_at_response_completed_with_snapshots() -> None:
    stream = ResponseStream.from_chunks([encode(realistic(["Hel", "lo ", "w\u00f6rld"]))])
    names, texts = [], []
    while stream.next():
        names.append(stream.event().name)
        text, ok = stream.output_text_delta()
        if ok:
            texts.append(text)
    assert stream.err() is None
    assert names[-1] == "response.completed"
    assert "".join(texts) == stream.text() == "Hello w\u00f6rld"
    final = stream.final_response()
    assert final is not None and final.status == "completed" and final.output_text() == "Hello w\u00f6rld"
    (call,) = stream.function_calls()
    assert (call.call_id, call.name, call.parsed_arguments()) == ("call_1", "lookup", {"q": "x"})


@pytest.mark.parametrize("end", ["response.failed", "response.incomplete"])
def test_failed_and_incomplete_responses_end_the_stream_cleanly(end: str) -> None:
    stream = ResponseStream.from_chunks([encode(realistic(["a"], end=end))])
    while stream.next():
        pass
    assert stream.err() is None
    assert stream.final_response() is not None and stream.final_response().status == end.split(".")[1]  # type: ignore[union-attr]


def test_bytes_ending_before_the_final_event_are_unexpected_eof() -> None:
    body = encode(realistic(["a", "b"]))
    for cut in (len(body) // 3, body.rindex(b"event: response.completed")):
        stream = ResponseStream.from_chunks([body[:cut]])
        while stream.next():
            pass
        error = stream.err()
        assert isinstance(error, UnexpectedEOF) and "before response.completed" in str(error)


def test_error_event_ends_with_its_code_and_message() -> None:
    events = [
        *realistic(["a"])[:5],
        {"type": "error", "sequence_number": 9, "code": "server_error", "message": "boom", "param": None},
    ]
    stream = ResponseStream.from_chunks([encode(events)])
    while stream.next():
        pass
    error = stream.err()
    assert isinstance(error, StreamAPIError) and (error.code, error.message) == ("server_error", "boom")


def test_unknown_event_types_are_kept() -> None:
    events = realistic(["a"])
    events.insert(2, {"type": "response.teleport.started", "sequence_number": 99, "where": "mars"})
    stream = ResponseStream.from_chunks([encode(events)])
    kinds = []
    while stream.next():
        kinds.append(type(stream.event()).__name__)
    assert "UnknownEvent" in kinds and stream.err() is None


def test_events_without_event_lines_are_typed_by_their_type_field() -> None:
    body = b"".join(sse.encode(sse.Event(data=json.dumps(e))) for e in realistic(["x"]))
    stream = ResponseStream.from_chunks([body])
    assert any(isinstance(e, ResponseOutputTextDelta) for e in stream)


def test_bad_json_is_a_decode_error() -> None:
    stream = ResponseStream.from_chunks([b"event: response.created\ndata: {nope\n\n"])
    assert not stream.next() and isinstance(stream.err(), DecodeError)


def test_unknown_fields_are_kept() -> None:
    payload = {"type": "response.output_text.delta", "sequence_number": 1, "delta": "a", "obfuscation": "zz"}
    event = ResponseProtocol().accept(sse.Event(payload["type"], json.dumps(payload)))
    assert isinstance(event, ResponseOutputTextDelta) and event.extra == {"obfuscation": "zz"}


def test_text_reader_fails_loudly_on_truncation() -> None:
    body = encode(realistic(["abc", "def"]))
    reader = ResponseStream.from_chunks([body[: body.rindex(b"event: response.completed")]]).text_reader()
    with pytest.raises(StreamReadError) as info:
        reader.read()
    assert isinstance(info.value.__cause__, UnexpectedEOF)


@given(st.lists(st.text(max_size=8), max_size=12), st.integers(1, 64), st.integers(1, 9))
def test_text_reader_bytes_equal_the_utf8_of_the_deltas(pieces: list[str], chunk: int, size: int) -> None:
    body = encode(realistic(pieces))
    reader = ResponseStream.from_chunks(
        [body[i : i + chunk] for i in range(0, len(body), chunk)]
    ).text_reader()
    assert io.TextIOWrapper(io.BufferedReader(reader, size), encoding="utf-8", newline="").read() == "".join(
        pieces
    )


def test_client_responses_stream_over_http() -> None:
    body = encode(realistic(["Hi", " there"]))
    with (
        ReplayServer([Reply(body=body, chunk_size=50)]) as server,
        Client(base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="gpt-4.1", input="hello")
        with stream.text_reader() as reader:
            assert reader.read().decode() == "Hi there"
    assert server.requests[0].path == "/v1/responses"
    assert server.requests[0].body == {"model": "gpt-4.1", "input": "hello", "stream": True}
    assert "openai-beta" not in server.requests[0].headers


def test_client_responses_stream_cut_mid_stream() -> None:
    body = encode(realistic(["Hi", " there"]))
    with (
        ReplayServer([Reply(body=body, cut_at=len(body) // 2, cut_how="reset")]) as server,
        Client(base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="x")
        events = list(_drain(stream))
    assert events and stream.err() is not None
    assert not isinstance(events[-1], ResponseCompleted)


def _drain(stream: ResponseStream) -> list[object]:
    out = []
    while stream.next():
        out.append(stream.event())
    return out


@pytest.mark.anyio
async def test_async_responses_stream_over_http() -> None:
    body = encode(realistic(["a", "b", "c"]))
    with ReplayServer([Reply(body=body, chunk_size=40)]) as server:
        async with AsyncClient(base_url=server.base_url) as client:
            stream = await client.responses_stream(model="m", input="x")
            assert isinstance(stream, AsyncResponseStream)
            assert "".join([t async for t in stream.text_deltas()]) == "abc"
    assert stream.err() is None
