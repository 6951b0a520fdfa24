"""The lazy-object mechanism every kind's hot path builds on (streamer.openai._lazy)."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest
from attrs.exceptions import FrozenInstanceError

from streamer import sse
from streamer.openai._build import build
from streamer.openai._lazy import ESCAPED_STRING, Lazy, json_string, lazy_state, maker, setter
from streamer.openai.assistants.events import ThreadMessageDelta
from streamer.openai.assistants.models import MessageDelta, MessageDeltaEvent, TextDelta, TextDeltaBlock

RAW = sse.Event("thread.message.delta", '{"id":"msg_1"}')
calls: list[Any] = []


def _data(ident: str) -> MessageDeltaEvent:
    block = TextDeltaBlock(0, "text", TextDelta("hi", None))
    return MessageDeltaEvent(ident, "thread.message.delta", MessageDelta(None, [block]))


def _fill(obj: Any, state: Any) -> None:
    calls.append(state)
    setter(type(obj), "data")(obj, _data(state))


_make = maker(ThreadMessageDelta, "raw", "index", lazy=True)


def _lazy_event() -> ThreadMessageDelta:
    event: ThreadMessageDelta = _make(RAW, 7, (_fill, "msg_1"))
    return event


def test_the_data_is_built_on_first_read_and_only_once() -> None:
    calls.clear()
    event = _lazy_event()
    assert lazy_state(event) is not None and calls == []
    assert event.index == 7 and event.raw is RAW and calls == []  # eager fields need no build
    assert event.data == _data("msg_1")
    assert event.data is event.data and calls == ["msg_1"]
    assert lazy_state(event) is None


def test_a_lazy_event_is_equal_to_and_looks_like_an_eager_one() -> None:
    eager = ThreadMessageDelta(_data("msg_1"), raw=RAW, index=7)
    assert _lazy_event() == eager and eager == _lazy_event()
    assert repr(_lazy_event()) == repr(eager)
    assert attrs.asdict(_lazy_event()) == attrs.asdict(eager)
    assert [f.name for f in attrs.fields(ThreadMessageDelta)] == ["raw", "index", "data"]
    assert copy.copy(_lazy_event()) == eager
    assert attrs.evolve(_lazy_event(), index=8).index == 8


def test_lazy_objects_stay_read_only() -> None:
    event = _lazy_event()
    with pytest.raises(FrozenInstanceError):
        event.data = _data("other")  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        event.index = 1  # type: ignore[misc]
    assert event.data.id == "msg_1"


def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _lazy_event().nope  # type: ignore[attr-defined]  # noqa: B018
    unfilled = maker(ThreadMessageDelta, "raw", "index")(RAW, 0)
    with pytest.raises(AttributeError, match="no attribute 'data'"):
        unfilled.data  # noqa: B018
    assert isinstance(unfilled, Lazy)


def test_setter_refuses_a_name_that_is_not_a_slot() -> None:
    with pytest.raises(TypeError, match="no slot 'nope'"):
        setter(ThreadMessageDelta, "nope")


def test_the_builder_makes_the_same_models_as_their_constructors() -> None:
    payload = {
        "id": "m",
        "object": "o",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "x"}}]},
    }
    built = build(MessageDeltaEvent, payload, "data")
    block = TextDeltaBlock(index=0, type="text", text=TextDelta(value="x"))
    assert built == MessageDeltaEvent(id="m", object="o", delta=MessageDelta(content=[block]))
    with pytest.raises(FrozenInstanceError):
        built.id = "n"  # type: ignore[misc]
    odd = build(MessageDeltaEvent, {**payload, "new": 1}, "data")
    assert dict(odd.extra) == {"new": 1} and odd.to_dict()["new"] == 1


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("plain", "plain"),
        (r"a\"b\\c\nd", 'a"b\\c\nd'),
        (r"\u00e9\ud83d\ude00", "\u00e9\U0001f600"),
        (r"\ud800", "\ud800"),
    ],
)
def test_json_string_unescapes_like_the_loader(body: str, text: str) -> None:
    import re

    assert re.fullmatch(ESCAPED_STRING, body)
    assert json_string(body) == text


@pytest.mark.parametrize("body", [r"\x", r"\u12", r"\q"])
def test_json_string_gives_up_on_a_bad_escape(body: str) -> None:
    assert json_string(body) is None


def test_threads_reading_one_lazy_event_at_once_all_see_its_data() -> None:
    import sys
    import threading

    from streamer.openai.assistants.events import hot_text_delta

    data = (
        '{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
        '"text":{"value":"hi"}}]}}'
    )
    raw = sse.Event("thread.message.delta", data)
    failures: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        for _ in range(200):
            found = hot_text_delta(raw, 0)
            assert found is not None
            event = found[0]
            start = threading.Barrier(4)

            def read(event: Any = event, start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    assert event.data.delta.text() == "hi" and event.index == 0
                except BaseException as exc:  # reported below, whatever it is
                    failures.append(exc)

            threads = [threading.Thread(target=read) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
