"""Chat Completions streams: chunks against the official SDK, endings, unwrappers, snapshots, reader."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk as SdkChunk

from streamer import sse
from streamer.errors import DecodeError, StreamAPIError, StreamReadError, UnexpectedEOF
from streamer.openai.chat import AsyncChatStream, ChatChunk, ChatProtocol, ChatStream
from streamer.openai.client import AsyncClient, Client
from streamer.testing.replay import ReplayServer, Reply

from .test_events import assert_same


def chunk(
    delta: dict[str, Any] | None = None, *, finish: str | None = None, index: int = 0, **extra: Any
) -> dict[str, Any]:
    choices = (
        []
        if delta is None
        else [
            {"index": index, "delta": delta, "finish_reason": finish, "logprobs": extra.pop("logprobs", None)}
        ]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "system_fingerprint": "fp",
        "choices": choices,
        **extra,
    }


CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk(
        {"content": "Hel"},
        logprobs={
            "content": [{"token": "Hel", "logprob": -0.1, "bytes": [72, 101, 108], "top_logprobs": []}],
            "refusal": None,
        },
    ),
    chunk({"content": "lo \u00e9\U0001f600"}),
    chunk({"refusal": "I can't "}, index=1),
    chunk({"refusal": "do that."}, index=1),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(
        None,
        usage={
            "prompt_tokens": 9,
            "completion_tokens": 12,
            "total_tokens": 21,
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    ),
]


def encode(chunks: list[dict[str, Any]], done: bool = True) -> bytes:
    body = b"".join(sse.encode(sse.Event(data=json.dumps(c, ensure_ascii=False))) for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def drain(stream: ChatStream) -> list[Any]:
    out = []
    while stream.next():
        out.append(stream.event())
    return out


@pytest.mark.parametrize("payload", CHUNKS, ids=[f"chunk-{i}" for i in range(len(CHUNKS))])
def test_chunks_decode_like_the_official_sdk(payload: dict[str, Any]) -> None:
    event = ChatProtocol().accept(sse.Event(data=json.dumps(payload)))
    assert isinstance(event, ChatChunk)
    assert_same(event.data, SdkChunk.model_validate(payload), "chunk")


def test_stream_ends_cleanly_at_done_and_assembles_everything() -> None:
    stream = ChatStream.from_chunks([encode(CHUNKS)])
    events = drain(stream)
    assert stream.err() is None and len(events) == len(CHUNKS)
    message = stream.message()
    assert message is not None
    assert (message.role, message.content, message.finish_reason) == (
        "assistant",
        "Hello \u00e9\U0001f600",
        "tool_calls",
    )
    assert [(c.id, c.name, c.parsed_arguments()) for c in message.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_time", {}),
    ]
    assert len(message.logprobs) == 1
    refusal = stream.message(1)
    assert refusal is not None and refusal.refusal == "I can't do that."
    usage = stream.final_usage()
    assert (
        usage is not None
        and usage.total_tokens == 21
        and usage.completion_tokens_details == {"reasoning_tokens": 0}
    )
    assert stream.text() == "Hello \u00e9\U0001f600"


def test_unwrappers_answer_for_the_current_chunk_only() -> None:
    stream = ChatStream.from_chunks([encode(CHUNKS)])
    seen: dict[str, list[Any]] = {"content": [], "tools": [], "finish": [], "usage": [], "refusal": []}
    while stream.next():
        text, ok = stream.content_delta()
        if ok:
            seen["content"].append(text)
        calls, ok = stream.tool_call_deltas()
        if ok:
            seen["tools"].append([c.index for c in calls])
        reason, ok = stream.finish_reason()
        if ok:
            seen["finish"].append(reason)
        usage, ok = stream.usage()
        if ok:
            seen["usage"].append(usage.total_tokens if usage else None)
        refusal, ok = stream.refusal_delta(choice=1)
        if ok:
            seen["refusal"].append(refusal)
    assert seen == {
        "content": ["Hel", "lo \u00e9\U0001f600"],
        "tools": [[0], [0], [1], [0]],
        "finish": ["tool_calls"],
        "usage": [21],
        "refusal": ["I can't ", "do that."],
    }


@pytest.mark.parametrize("cut", ["before-done", "mid-chunk", "nothing"])
def test_bytes_ending_before_done_are_unexpected_eof(cut: str) -> None:
    body = encode(CHUNKS)
    body = {
        "before-done": body[: -len(b"data: [DONE]\n\n")],
        "mid-chunk": body[: len(body) // 2],
        "nothing": b"",
    }[cut]
    stream = ChatStream.from_chunks([body])
    drain(stream)
    assert isinstance(stream.err(), UnexpectedEOF)
    assert "before 'data: [DONE]'" in str(stream.err())


def test_error_object_in_the_stream_ends_it_with_stream_api_error() -> None:
    body = (
        encode(CHUNKS[:2], done=False)
        + b'data: {"error": {"message": "overloaded", "type": "server_error", "code": null}}\n\n'
    )
    stream = ChatStream.from_chunks([body])
    events = drain(stream)
    error = stream.err()
    assert isinstance(error, StreamAPIError) and error.message == "overloaded"
    assert len(events) == 3


def test_bad_json_is_a_decode_error() -> None:
    stream = ChatStream.from_chunks([b"data: {oops\n\n"])
    assert not stream.next() and isinstance(stream.err(), DecodeError)


def test_unknown_fields_and_events_are_kept() -> None:
    payload = chunk({"content": "a", "speech": {"id": "x"}}, new_top_level=1)
    body = b"event: ping\ndata: {}\n\n" + encode([payload])
    events = drain(ChatStream.from_chunks([body]))
    assert type(events[0]).__name__ == "UnknownEvent"
    chunk_event = events[1]
    assert chunk_event.data.extra == {"new_top_level": 1}
    assert chunk_event.data.choices[0].delta.extra == {"speech": {"id": "x"}}


def test_text_reader_fails_loudly_on_truncation() -> None:
    reader = ChatStream.from_chunks([encode(CHUNKS, done=False)]).text_reader()
    with pytest.raises(StreamReadError):
        reader.read()


@given(st.lists(st.text(max_size=8), max_size=12), st.integers(1, 64), st.integers(1, 9))
def test_text_reader_bytes_equal_the_utf8_of_the_deltas(
    pieces: list[str], chunk_size: int, size: int
) -> None:
    body = encode([chunk({"content": p}) for p in pieces])
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    reader = ChatStream.from_chunks(chunks).text_reader()
    assert io.TextIOWrapper(io.BufferedReader(reader, size), encoding="utf-8", newline="").read() == "".join(
        pieces
    )


def test_client_chat_completions_stream_over_http() -> None:
    with (
        ReplayServer([Reply(body=encode(CHUNKS), chunk_size=30)]) as server,
        Client(base_url=server.base_url) as client,
    ):
        stream = client.chat_completions_stream(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        drain(stream)
    assert stream.err() is None and stream.text() == "Hello \u00e9\U0001f600"
    assert server.requests[0].path == "/v1/chat/completions"
    assert server.requests[0].body["stream"] is True


def test_client_chat_stream_reset_mid_stream_is_an_error() -> None:
    body = encode(CHUNKS)
    with (
        ReplayServer([Reply(body=body, cut_at=len(body) // 2, cut_how="reset")]) as server,
        Client(base_url=server.base_url) as client,
    ):
        stream = client.chat_completions_stream(model="m", messages=[])
        events = drain(stream)
    assert stream.err() is not None and len(events) < len(CHUNKS)


@pytest.mark.anyio
async def test_async_chat_stream_over_http() -> None:
    with ReplayServer([Reply(body=encode(CHUNKS), chunk_size=25)]) as server:
        async with AsyncClient(base_url=server.base_url) as client:
            stream = await client.chat_completions_stream(model="m", messages=[])
            assert isinstance(stream, AsyncChatStream)
            assert "".join([t async for t in stream.text_deltas()]) == "Hello \u00e9\U0001f600"
    assert stream.err() is None
