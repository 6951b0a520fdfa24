"""Typed events: decoding by name, tolerance, errors, and agreement with the official SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.beta import AssistantStreamEvent
from openai.types.shared import ErrorObject as SdkErrorObject

from streamer import sse
from streamer.errors import DecodeError, StreamError
from streamer.openai import (
    DoneEvent,
    ErrorEvent,
    Message,
    TextContentBlock,
    TextDeltaBlock,
    ThreadMessageDelta,
    ThreadRunRequiresAction,
    UnknownEvent,
    decode_event,
)
from streamer.openai._build import Model, build
from streamer.openai.assistants.events import EVENTS, _text_delta
from streamer.openai.assistants.models import MessageDeltaEvent as MessageDeltaEventModel

from ..conftest import recording_paths
from .payloads import every_event

SDK_EVENT = pydantic.TypeAdapter(AssistantStreamEvent)


def sdk_data(raw: sse.Event) -> Any:
    """What the official SDK builds from the same SSE event."""
    payload = json.loads(raw.data)
    if raw.event == "error":
        return SdkErrorObject.model_validate(payload)
    return SDK_EVENT.validate_python({"event": raw.event, "data": payload}).data


def assert_same(ours: Any, theirs: Any, path: str) -> None:
    """Every value the SDK model carries, ours carries too, equal and at the same place."""
    if isinstance(theirs, pydantic.BaseModel):
        assert isinstance(ours, (Model, dict)), f"{path}: {type(ours).__name__} for {type(theirs).__name__}"
        if isinstance(ours, dict):
            assert ours == theirs.model_dump(mode="json", by_alias=True, exclude_unset=True), path
            return
        declared = type(theirs).model_fields
        for name in theirs.model_fields_set & declared.keys():
            key = declared[name].alias or name
            mine = (
                getattr(ours, key)
                if hasattr(type(ours), "__attrs_attrs__") and key in _fields(ours)
                else ours.extra[key]
            )
            assert_same(mine, getattr(theirs, name), f"{path}.{key}")
        for key, value in (theirs.model_extra or {}).items():
            assert_same(ours.extra[key], value, f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert ours.keys() == theirs.keys(), path
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, float) and type(ours) is int:
        assert ours == theirs, f"{path}: {ours!r} != {theirs!r}"  # the SDK widens a JSON integer to float
    else:
        assert ours == theirs and type(ours) is type(theirs), f"{path}: {ours!r} != {theirs!r}"


def _fields(model: Model) -> set[str]:
    return {a.name for a in type(model).__attrs_attrs__}  # type: ignore[attr-defined]


def sse_events(body: bytes) -> list[sse.Event]:
    return list(sse.iter_events([body]))


@pytest.mark.parametrize("path", recording_paths(), ids=lambda p: Path(p).name)
def test_recordings_decode_like_the_official_sdk(path: Path) -> None:
    checked = 0
    for index, raw in enumerate(sse_events(path.read_bytes())):
        event = decode_event(raw, index)
        if raw.event == "done":
            assert isinstance(event, DoneEvent)
            continue
        assert type(event).event == raw.event
        assert_same(event.data, sdk_data(raw), f"{path.name}#{index}.data")
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize(
    ("name", "payload"), every_event(), ids=[f"{i}-{n}" for i, (n, _) in enumerate(every_event())]
)
def test_every_event_and_content_variant_decodes_like_the_official_sdk(name: str, payload: Any) -> None:
    raw = sse.Event(name, json.dumps(payload))
    event = decode_event(raw, 0)
    assert type(event).event == name
    assert_same(event.data, sdk_data(raw), name)


def test_generated_payloads_cover_every_event_name() -> None:
    assert {name for name, _ in every_event()} == set(EVENTS)


def test_content_variants_are_typed() -> None:
    raw = sse.Event("thread.message.completed", json.dumps(dict(every_event())["thread.message.completed"]))
    message = decode_event(raw, 0).data
    assert isinstance(message, Message)
    assert [type(block).__name__ for block in message.content or []] == [
        "TextContentBlock",
        "ImageFileContentBlock",
        "ImageURLContentBlock",
        "RefusalContentBlock",
    ]
    text = message.content[0] if message.content else None
    assert isinstance(text, TextContentBlock) and text.text is not None
    assert [type(a).__name__ for a in text.text.annotations or []] == [
        "FileCitationAnnotation",
        "FilePathAnnotation",
    ]


def test_dispatch_is_by_event_name() -> None:
    raw = sse.Event(
        "thread.message.delta",
        '{"id":"m","delta":{"content":[{"index":0,"type":"text","text":{"value":"hi"}}]}}',
    )
    event = decode_event(raw, 3)
    assert isinstance(event, ThreadMessageDelta)
    assert event.index == 3
    assert event.raw is raw
    assert event.name == "thread.message.delta"
    block = event.data.delta.content[0] if event.data.delta and event.data.delta.content else None
    assert isinstance(block, TextDeltaBlock)


def test_unknown_event_is_kept_with_name_and_raw_data() -> None:
    raw = sse.Event("thread.run.step.paused", '{"id": "x"}')
    event = decode_event(raw, 0)
    assert isinstance(event, UnknownEvent)
    assert event.name == "thread.run.step.paused"
    assert event.data == '{"id": "x"}'
    assert event.json() == {"id": "x"}


def test_unknown_event_need_not_be_json() -> None:
    assert isinstance(decode_event(sse.Event("ping", "not json"), 0), UnknownEvent)


def test_unknown_fields_are_kept_and_reachable() -> None:
    payload = {
        "id": "run_1",
        "status": "queued",
        "reasoning_effort": "high",
        "usage": {"total_tokens": 3, "cached": 1},
    }
    event = decode_event(sse.Event("thread.run.queued", json.dumps(payload)), 0)
    assert event.data.extra == {"reasoning_effort": "high"}
    assert event.data.usage.extra == {"cached": 1}
    assert event.data.to_dict()["reasoning_effort"] == "high"


def test_missing_optional_fields_are_none() -> None:
    event = decode_event(sse.Event("thread.run.completed", '{"id": "run_1"}'), 0)
    assert event.data.id == "run_1"
    assert event.data.status is None and event.data.usage is None


def test_unknown_content_kind_stays_a_plain_dict() -> None:
    payload = {"id": "m", "content": [{"type": "audio", "audio": {"id": "a"}}]}
    message = decode_event(sse.Event("thread.message.created", json.dumps(payload)), 0).data
    assert message.content == [{"type": "audio", "audio": {"id": "a"}}]


def test_malformed_json_is_a_decode_error_naming_event_index_and_data() -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(sse.Event("thread.message.delta", '{"id": "msg_1", "delta": {'), 17)
    error = info.value
    assert isinstance(error, StreamError)
    assert (error.event, error.index) == ("thread.message.delta", 17)
    assert "invalid JSON" in str(error) and '{"id": "msg_1"' in str(error) and "#17" in str(error)


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("thread.run.created", "[1, 2]", "data: expected an object"),
        ("thread.message.delta", '{"delta": "text"}', "data.delta: expected an object"),
        ("thread.message.completed", '{"content": {"type": "text"}}', "data.content: expected an array"),
        (
            "thread.run.requires_action",
            '{"required_action": {"submit_tool_outputs": {"tool_calls": [3]}}}',
            "tool_calls[0]",
        ),
    ],
    ids=["not-an-object", "delta-not-an-object", "content-not-a-list", "tool-call-not-an-object"],
)
def test_wrong_shape_is_a_decode_error_saying_where(name: str, data: str, where: str) -> None:
    with pytest.raises(DecodeError, match="unexpected shape") as info:
        decode_event(sse.Event(name, data), 0)
    assert where in str(info.value)


def test_error_and_done_events() -> None:
    error = decode_event(sse.Event("error", '{"code": "server_error", "message": "boom"}'), 4)
    assert isinstance(error, ErrorEvent) and error.data.code == "server_error"
    done = decode_event(sse.Event("done", "[DONE]"), 5)
    assert isinstance(done, DoneEvent) and done.data == "[DONE]"


def test_requires_action_carries_the_tool_calls() -> None:
    payload = dict(every_event())["thread.run.requires_action"]
    event = decode_event(sse.Event("thread.run.requires_action", json.dumps(payload)), 0)
    assert isinstance(event, ThreadRunRequiresAction)
    action = event.data.required_action
    assert action is not None and action.submit_tool_outputs is not None
    calls = action.submit_tool_outputs.tool_calls or []
    assert [(c.id, c.function.name) for c in calls if not isinstance(c, dict) and c.function] == [
        ("call_1", "f"),
        ("call_2", "g"),
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in {"id", "object", "delta"}),
        JSON_VALUES,
        max_size=4,
    )
)
def test_any_added_top_level_fields_are_kept(extra: dict[str, Any]) -> None:
    payload = {"id": "msg_1", "object": "thread.message.delta", "delta": {}, **extra}
    event = decode_event(sse.Event("thread.message.delta", json.dumps(payload)), 0)
    assert event.data.extra == extra
    assert event.data.to_dict() == {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"role": None, "content": None},
        **extra,
    }


@pytest.mark.parametrize("path", recording_paths(), ids=lambda p: Path(p).name)
def test_text_delta_fast_path_builds_what_the_generic_builder_builds(path: Path) -> None:
    for raw in sse_events(path.read_bytes()):
        if raw.event == "thread.message.delta":
            payload = json.loads(raw.data)
            fast = _text_delta(payload)
            assert fast is None or fast == build(MessageDeltaEventModel, payload, "data")


@pytest.mark.parametrize(
    "payload",
    [
        {
            "id": "m",
            "delta": {
                "content": [
                    {"index": 0, "type": "text", "text": {"value": "a", "annotations": [{"index": 0}]}}
                ]
            },
        },
        {"id": "m", "delta": {"content": [{"index": 0, "type": "refusal", "refusal": "no"}]}},
        {"id": "m", "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "a"}, "new": 1}]}},
        {"id": "m", "delta": {"content": "text"}},
        {"id": "m", "new": 1, "delta": {"content": []}},
    ],
    ids=["annotations", "refusal", "unknown-block-field", "content-not-a-list", "unknown-top-field"],
)
def test_text_delta_fast_path_declines_what_it_does_not_cover(payload: dict[str, Any]) -> None:
    assert _text_delta(payload) is None
