"""One typed class per Assistants v2 stream event, and ``decode_event`` to build them from SSE."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, cast

from attrs import define

from ... import sse
from ...errors import DecodeError
from .._build import Model, ShapeError, build
from .._core import loads
from .._event import StreamEvent, UnknownEvent
from .._lazy import ESCAPED_STRING, INDEX, STRING, json_string, lazy_state, maker, setter
from .models import (
    ContentDeltaBlock,
    ErrorObject,
    Message,
    MessageDelta,
    MessageDeltaEvent,
    Run,
    RunStep,
    RunStepDeltaEvent,
    TextDelta,
    TextDeltaBlock,
    Thread,
)

__all__ = [
    "AssistantEvent",
    "DoneEvent",
    "ErrorEvent",
    "MessageEvent",
    "RunEvent",
    "RunStepEvent",
    "StreamEvent",
    "ThreadCreated",
    "ThreadMessageCompleted",
    "ThreadMessageCreated",
    "ThreadMessageDelta",
    "ThreadMessageInProgress",
    "ThreadMessageIncomplete",
    "ThreadRunCancelled",
    "ThreadRunCancelling",
    "ThreadRunCompleted",
    "ThreadRunCreated",
    "ThreadRunExpired",
    "ThreadRunFailed",
    "ThreadRunInProgress",
    "ThreadRunIncomplete",
    "ThreadRunQueued",
    "ThreadRunRequiresAction",
    "ThreadRunStepCancelled",
    "ThreadRunStepCompleted",
    "ThreadRunStepCreated",
    "ThreadRunStepDelta",
    "ThreadRunStepExpired",
    "ThreadRunStepFailed",
    "ThreadRunStepInProgress",
    "UnknownEvent",
    "decode_event",
]


@define(frozen=True, slots=True)
class ThreadCreated(StreamEvent):
    """``thread.created``: a thread was created."""

    event: ClassVar[str] = "thread.created"
    data: Thread


@define(frozen=True, slots=True)
class RunEvent(StreamEvent):
    """Base of the ``thread.run.*`` events, whose data is a Run."""

    data: Run


@define(frozen=True, slots=True)
class ThreadRunCreated(RunEvent):
    """``thread.run.created``."""

    event: ClassVar[str] = "thread.run.created"


@define(frozen=True, slots=True)
class ThreadRunQueued(RunEvent):
    """``thread.run.queued``."""

    event: ClassVar[str] = "thread.run.queued"


@define(frozen=True, slots=True)
class ThreadRunInProgress(RunEvent):
    """``thread.run.in_progress``."""

    event: ClassVar[str] = "thread.run.in_progress"


@define(frozen=True, slots=True)
class ThreadRunRequiresAction(RunEvent):
    """``thread.run.requires_action``: the run waits for tool outputs."""

    event: ClassVar[str] = "thread.run.requires_action"


@define(frozen=True, slots=True)
class ThreadRunCompleted(RunEvent):
    """``thread.run.completed``."""

    event: ClassVar[str] = "thread.run.completed"


@define(frozen=True, slots=True)
class ThreadRunIncomplete(RunEvent):
    """``thread.run.incomplete``: the run ended early (token limits)."""

    event: ClassVar[str] = "thread.run.incomplete"


@define(frozen=True, slots=True)
class ThreadRunFailed(RunEvent):
    """``thread.run.failed``: see ``data.last_error``."""

    event: ClassVar[str] = "thread.run.failed"


@define(frozen=True, slots=True)
class ThreadRunCancelling(RunEvent):
    """``thread.run.cancelling``."""

    event: ClassVar[str] = "thread.run.cancelling"


@define(frozen=True, slots=True)
class ThreadRunCancelled(RunEvent):
    """``thread.run.cancelled``."""

    event: ClassVar[str] = "thread.run.cancelled"


@define(frozen=True, slots=True)
class ThreadRunExpired(RunEvent):
    """``thread.run.expired``."""

    event: ClassVar[str] = "thread.run.expired"


@define(frozen=True, slots=True)
class RunStepEvent(StreamEvent):
    """Base of the ``thread.run.step.*`` events whose data is a RunStep."""

    data: RunStep


@define(frozen=True, slots=True)
class ThreadRunStepCreated(RunStepEvent):
    """``thread.run.step.created``."""

    event: ClassVar[str] = "thread.run.step.created"


@define(frozen=True, slots=True)
class ThreadRunStepInProgress(RunStepEvent):
    """``thread.run.step.in_progress``."""

    event: ClassVar[str] = "thread.run.step.in_progress"


@define(frozen=True, slots=True)
class ThreadRunStepDelta(StreamEvent):
    """``thread.run.step.delta``: a piece of a run step (tool call arguments, outputs)."""

    event: ClassVar[str] = "thread.run.step.delta"
    data: RunStepDeltaEvent


@define(frozen=True, slots=True)
class ThreadRunStepCompleted(RunStepEvent):
    """``thread.run.step.completed``."""

    event: ClassVar[str] = "thread.run.step.completed"


@define(frozen=True, slots=True)
class ThreadRunStepFailed(RunStepEvent):
    """``thread.run.step.failed``."""

    event: ClassVar[str] = "thread.run.step.failed"


@define(frozen=True, slots=True)
class ThreadRunStepCancelled(RunStepEvent):
    """``thread.run.step.cancelled``."""

    event: ClassVar[str] = "thread.run.step.cancelled"


@define(frozen=True, slots=True)
class ThreadRunStepExpired(RunStepEvent):
    """``thread.run.step.expired``."""

    event: ClassVar[str] = "thread.run.step.expired"


@define(frozen=True, slots=True)
class MessageEvent(StreamEvent):
    """Base of the ``thread.message.*`` events whose data is a Message."""

    data: Message


@define(frozen=True, slots=True)
class ThreadMessageCreated(MessageEvent):
    """``thread.message.created``."""

    event: ClassVar[str] = "thread.message.created"


@define(frozen=True, slots=True)
class ThreadMessageInProgress(MessageEvent):
    """``thread.message.in_progress``."""

    event: ClassVar[str] = "thread.message.in_progress"


@define(frozen=True, slots=True)
class ThreadMessageDelta(StreamEvent):
    """``thread.message.delta``: a piece of a message (text, usually)."""

    event: ClassVar[str] = "thread.message.delta"
    data: MessageDeltaEvent

    def text(self) -> str:
        """The text this delta adds: its text blocks' values, concatenated (cheap on the hot path)."""
        state = lazy_state(self)
        if state is not None and state[0] in _HOT_FILLS:
            value: str = state[1][2]
            return value
        delta = self.data.delta
        return delta.text() if delta is not None else ""


@define(frozen=True, slots=True)
class ThreadMessageCompleted(MessageEvent):
    """``thread.message.completed``."""

    event: ClassVar[str] = "thread.message.completed"


@define(frozen=True, slots=True)
class ThreadMessageIncomplete(MessageEvent):
    """``thread.message.incomplete``."""

    event: ClassVar[str] = "thread.message.incomplete"


@define(frozen=True, slots=True)
class ErrorEvent(StreamEvent):
    """``error``: the server gave up; the stream ends after it."""

    event: ClassVar[str] = "error"
    data: ErrorObject


@define(frozen=True, slots=True)
class DoneEvent(StreamEvent):
    """``done``: the clean end of the stream (its data is ``[DONE]``)."""

    event: ClassVar[str] = "done"
    data: str = "[DONE]"


AssistantEvent = (
    ThreadCreated
    | ThreadRunCreated
    | ThreadRunQueued
    | ThreadRunInProgress
    | ThreadRunRequiresAction
    | ThreadRunCompleted
    | ThreadRunIncomplete
    | ThreadRunFailed
    | ThreadRunCancelling
    | ThreadRunCancelled
    | ThreadRunExpired
    | ThreadRunStepCreated
    | ThreadRunStepInProgress
    | ThreadRunStepDelta
    | ThreadRunStepCompleted
    | ThreadRunStepFailed
    | ThreadRunStepCancelled
    | ThreadRunStepExpired
    | ThreadMessageCreated
    | ThreadMessageInProgress
    | ThreadMessageDelta
    | ThreadMessageCompleted
    | ThreadMessageIncomplete
    | ErrorEvent
    | DoneEvent
    | UnknownEvent
)

_DATA: dict[type[StreamEvent], type[Model]] = {
    ThreadCreated: Thread,
    ThreadRunStepDelta: RunStepDeltaEvent,
    ThreadMessageDelta: MessageDeltaEvent,
    ErrorEvent: ErrorObject,
}
for _base, _model in ((RunEvent, Run), (RunStepEvent, RunStep), (MessageEvent, Message)):
    for _cls in _base.__subclasses__():
        _DATA[_cls] = _model

#: Event name -> (event class, data model).
EVENTS: dict[str, tuple[type[StreamEvent], type[Model]]] = {c.event: (c, m) for c, m in _DATA.items()}


def decode_event(raw: sse.Event, index: int) -> AssistantEvent:
    """Build the typed event for one SSE event; ``index`` is its position in the stream.

    Unknown event names give an :class:`UnknownEvent`; bad JSON or a wrong shape raises
    :class:`~streamer.errors.DecodeError`.
    """
    return decode_with_payload(raw, index)[0]


def decode_with_payload(raw: sse.Event, index: int) -> tuple[AssistantEvent, Any]:
    """:func:`decode_event`, also returning the decoded JSON payload (None for done/unknown).

    For a message delta of plain text blocks (the hot path) the payload is None too: the typed
    event holds everything in it.
    """
    name = raw.event
    spec = EVENTS.get(name)
    if spec is None:
        if name == "done":
            return DoneEvent(raw.data, raw=raw, index=index), None
        return UnknownEvent(raw.data, raw=raw, index=index), None
    cls, model = spec
    payload = loads(name, index, raw.data)
    if cls is ThreadMessageDelta:
        delta = _text_delta(payload)
        if delta is not None:
            return ThreadMessageDelta(delta, raw=raw, index=index), None
    try:
        data = build(model, payload, "data")
    except ShapeError as exc:
        raise DecodeError(name, index, raw.data, f"unexpected shape at {exc}", path=exc.path) from None
    event: AssistantEvent = cast(Any, cls)(data, raw=raw, index=index)
    return event, payload


#: The common ``thread.message.delta``: one plain text block, as the API sends it byte for byte.
#: Groups: message id (no escapes), block index, text (JSON escapes allowed), ``"annotations":[]``.
_TEXT_DELTA = re.compile(
    rf'\{{"id":"({STRING})","object":"thread\.message\.delta","delta":\{{"content":\[\{{"index":({INDEX}),'
    rf'"type":"text","text":\{{"value":"({ESCAPED_STRING})"(,"annotations":\[\])?\}}\}}\]\}}\}}'
).fullmatch
_make_text_delta: Callable[..., ThreadMessageDelta] = maker(ThreadMessageDelta, lazy=True)
_set_raw = setter(ThreadMessageDelta, "raw")
_set_index = setter(ThreadMessageDelta, "index")
_set_data = setter(ThreadMessageDelta, "data")
_set_lazy = setter(ThreadMessageDelta, "_lazy")

#: What the hot path captured: message id, block index (its digits), text (unescaped),
#: ``"annotations":[]`` when the delta had it (else None); then the raw event and its index.
TextDeltaCapture = tuple[str, str, str, "str | None", sse.Event, int]


def _fill_head(event: ThreadMessageDelta, capture: TextDeltaCapture) -> None:
    """Set ``raw`` and ``index`` of a hot-path text delta; ``data`` waits for its own first read."""
    _set_raw(event, capture[4])
    _set_index(event, capture[5])
    _set_lazy(event, (_fill_text_delta, capture))


def _fill_text_delta(event: ThreadMessageDelta, capture: TextDeltaCapture) -> None:
    """Build the ``data`` of a hot-path text delta (cannot fail: the match checked every value)."""
    ident, position, value, annotated = capture[:4]
    block = TextDeltaBlock(int(position), "text", TextDelta(value, None if annotated is None else []))
    _set_data(event, MessageDeltaEvent(ident, "thread.message.delta", MessageDelta(None, [block])))


_HOT_FILLS = (_fill_head, _fill_text_delta)


def hot_text_delta(raw: sse.Event, index: int) -> tuple[ThreadMessageDelta, TextDeltaCapture] | None:
    """The hot path for the common text delta: the event (built as its fields are first read) and
    what it holds; None for anything else, which :func:`decode_event` then decodes (or rejects) in
    full.
    """
    match = _TEXT_DELTA(raw.data)
    if match is None:
        return None
    ident, position, value, annotated = match.groups()
    if "\\" in value:
        text = json_string(value)
        if text is None:
            return None  # a bad escape: the full path names it
        value = text
    capture = (ident, position, value, annotated, raw, index)
    return _make_text_delta((_fill_head, capture)), capture


_DELTA_EVENT_KEYS = frozenset({"id", "object", "delta"})
_DELTA_KEYS = frozenset({"role", "content"})
_TEXT_BLOCK_KEYS = frozenset({"index", "type", "text"})
_TEXT_KEYS = frozenset({"value", "annotations"})


def _text_delta(payload: Any) -> MessageDeltaEvent | None:
    """The hot path: a message delta of plain text blocks, built without the generic walk.

    Returns None for anything else (annotations, other blocks, unknown fields, odd shapes), which
    the generic builder then handles, or rejects with a DecodeError.
    """
    if type(payload) is not dict or not payload.keys() <= _DELTA_EVENT_KEYS:
        return None
    delta = payload.get("delta")
    if type(delta) is not dict or not delta.keys() <= _DELTA_KEYS:
        return None
    content = delta.get("content")
    if type(content) is not list:
        return None
    blocks: list[ContentDeltaBlock] = []
    for block in content:
        if type(block) is not dict or block.get("type") != "text" or not block.keys() <= _TEXT_BLOCK_KEYS:
            return None
        text = block.get("text")
        if type(text) is not dict or not text.keys() <= _TEXT_KEYS or text.get("annotations"):
            return None
        value, position = text.get("value"), block.get("index")
        if (value is not None and type(value) is not str) or (
            position is not None and type(position) is not int
        ):
            return None  # a wrong shape: the generic builder names the field
        blocks.append(TextDeltaBlock(position, "text", TextDelta(value, text.get("annotations"))))
    ident, kind, role = payload.get("id"), payload.get("object"), delta.get("role")
    for scalar in (ident, kind, role):
        if scalar is not None and type(scalar) is not str:
            return None
    return MessageDeltaEvent(ident, kind, MessageDelta(role, blocks))
