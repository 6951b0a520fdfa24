"""Responses API streams: the ``ResponseStream`` scanner.

The stream ends cleanly after ``response.completed``, ``response.failed`` or ``response.incomplete``
(check ``final_response().status``); bytes that stop before one of those are an ``UnexpectedEOF``,
and an ``error`` event ends it with ``StreamAPIError``. Event types this version does not know
arrive as ``UnknownEvent``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any

from attrs import define, field

from ... import sse
from ...errors import StreamAPIError, StreamError, UnexpectedEOF
from .._build import ShapeError, build
from .._core import AsyncTypedStream, TypedStream, loads, need_snapshots
from .._deltas import ToolCalls, api_error, check_index
from .._event import UnknownEvent
from ._fast import accept_text_delta
from .events import (
    EVENTS,
    ResponseErrorEvent,
    ResponseEvent,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseObject,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseReasoningSummaryTextDelta,
    ResponseRefusalDelta,
)

__all__ = ["AsyncResponseStream", "FunctionCallSnapshot", "ResponseProtocol", "ResponseStream"]

_TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})
_LIFECYCLE = frozenset({"response.created", "response.in_progress", "response.queued", *_TERMINAL})


@define(frozen=True, slots=True)
class FunctionCallSnapshot:
    """A function call of the output, with its arguments assembled so far."""

    item_id: str
    call_id: str | None
    name: str | None
    arguments: str

    def parsed_arguments(self) -> Any:
        """The arguments decoded as JSON (raises ``json.JSONDecodeError`` if the model wrote bad JSON)."""
        return json.loads(self.arguments)


@define(slots=True)
class ResponseProtocol:
    """Sans-IO core of a Responses stream: decoding, snapshots, the end rule."""

    index: int = 0
    response: ResponseObject | None = None
    #: True once the response completed, failed or ended incomplete.
    done: bool = False
    error: StreamAPIError | None = None
    last: ResponseEvent | UnknownEvent | None = None
    text: list[str] = field(factory=list)
    calls: ToolCalls[str] = field(factory=ToolCalls)
    #: False: keep no snapshots and no text (a relay or a pipe that only passes deltas on).
    keep_snapshots: bool = True
    #: How many output items, and content parts per item, the indexes so far imply (for bounds checks).
    outputs: int = 0
    contents: dict[int, int] = field(factory=dict)
    #: False: never take the hot path (the full path is the reference the hot path is tested against).
    hot: bool = True

    def accept(self, raw: sse.Event) -> ResponseEvent | UnknownEvent:
        """Decode one SSE event and fold it into the snapshots."""
        name = raw.event
        if self.hot and name == "response.output_text.delta":  # the hot path (responses/_fast.py)
            hot = accept_text_delta(self, raw)
            if hot is not None:
                return hot
        cls = EVENTS.get(name)
        if cls is None and name != "message":
            return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index))
        payload = loads(name, self.index, raw.data)
        if name == "message" and isinstance(payload, dict) and isinstance(payload.get("type"), str):
            name = payload["type"]  # a server that sends no `event:` lines
            cls = EVENTS.get(name)
        if cls is None:
            return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index))
        event = build(cls, payload, "data", raw=raw, index=self.index)
        self._check_indexes(event)
        if type(event) is ResponseOutputTextDelta:  # the hot path: more text
            if event.delta and self.keep_snapshots:
                self.text.append(event.delta)
        else:
            self._fold(event, payload)
        self.index += 1
        self.last = event
        return event

    def _check_indexes(self, event: ResponseEvent) -> None:
        # A negative index, or one far past what the stream has shown, is a malformed event.
        output = getattr(event, "output_index", None)
        if output is None:
            return
        check_index(output, self.outputs, "data.output_index")
        if output >= self.outputs:
            self.outputs = output + 1
        content = getattr(event, "content_index", None)
        if content is not None:
            parts = self.contents.get(output, 0)
            check_index(content, parts, "data.content_index")
            if content >= parts:
                self.contents[output] = content + 1

    def _keep(self, event: ResponseEvent | UnknownEvent) -> ResponseEvent | UnknownEvent:
        self.index += 1
        self.last = event
        return event

    def _fold(self, event: ResponseEvent, payload: dict[str, Any]) -> None:
        if isinstance(event, ResponseErrorEvent):
            self.error = api_error(payload, self.index)
        elif self.keep_snapshots:
            self._snapshot(event)
        if event.event in _LIFECYCLE:
            self.response = getattr(event, "response", None) or self.response
            self.done = self.done or event.event in _TERMINAL

    def _snapshot(self, event: ResponseEvent) -> None:
        if isinstance(event, ResponseOutputTextDelta):
            if event.delta:
                self.text.append(event.delta)
        elif isinstance(event, (ResponseOutputItemAdded, ResponseOutputItemDone)):
            item = event.item
            if item is not None and item.type == "function_call" and item.id:
                arguments = item.arguments if isinstance(event, ResponseOutputItemDone) else None
                if arguments is not None and type(arguments) is not str:
                    got = type(arguments).__name__
                    raise ShapeError("data.item.arguments", f"expected a string, got {got}")
                self.calls.add(item.id, id=item.call_id, name=item.name, arguments=arguments, complete=True)
        elif isinstance(event, ResponseFunctionCallArgumentsDelta):
            if event.item_id and event.delta:
                self.calls.add(event.item_id, arguments=event.delta)
        elif isinstance(event, ResponseFunctionCallArgumentsDone):
            if event.item_id and event.arguments is not None:
                self.calls.add(event.item_id, arguments=event.arguments, complete=True)

    def event_name(self, raw: sse.Event) -> str:
        """The SSE event name."""
        return raw.event

    def continues(self) -> bool:
        """A response stream has one segment."""
        return False

    def eof_error(self, truncated: bool) -> StreamError:
        """Bytes that ended before the response's final event."""
        where = "in the middle of an event" if truncated else "between events"
        last = "none" if self.last is None else f"#{self.last.index} {self.last.name!r}"
        return UnexpectedEOF(
            f"the response stream ended {where} before response.completed, .failed or .incomplete, "
            f"after {self.index} events (the last was {last}); the answer may be incomplete"
        )


class _ResponseUnwrappers:
    """The ``(value, ok)`` helpers and snapshots, shared by the sync and async response streams."""

    _protocol: ResponseProtocol
    _current: Any

    def text_delta(self) -> tuple[str, bool]:
        """The text the current event adds, if it is ``response.output_text.delta``."""
        event = self._current
        if isinstance(event, ResponseOutputTextDelta) and event.delta:
            return event.delta, True
        return "", False

    def output_text_delta(self) -> tuple[str, bool]:
        """Alias of :meth:`text_delta`, the name of the event it reads."""
        return self.text_delta()

    def refusal_delta(self) -> tuple[str, bool]:
        """The text of the current event if it is ``response.refusal.delta``."""
        event = self._current
        if isinstance(event, ResponseRefusalDelta) and event.delta:
            return event.delta, True
        return "", False

    def function_call_arguments_delta(self) -> tuple[str, bool]:
        """The arguments piece of the current event if it is ``response.function_call_arguments.delta``."""
        event = self._current
        if isinstance(event, ResponseFunctionCallArgumentsDelta) and event.delta is not None:
            return event.delta, True
        return "", False

    def reasoning_summary_delta(self) -> tuple[str, bool]:
        """The text of the current event if it is ``response.reasoning_summary_text.delta``."""
        event = self._current
        if isinstance(event, ResponseReasoningSummaryTextDelta) and event.delta:
            return event.delta, True
        return "", False

    def response(self) -> tuple[ResponseObject | None, bool]:
        """The response the current event carries, if it is a lifecycle event."""
        event = self._current
        value = getattr(event, "response", None)
        return (value, True) if isinstance(value, ResponseObject) else (None, False)

    def final_response(self) -> ResponseObject | None:
        """The response as of its most recent lifecycle event."""
        return self._protocol.response

    def function_calls(self) -> list[FunctionCallSnapshot]:
        """The function calls of the output, with their arguments assembled so far."""
        need_snapshots(self._protocol.keep_snapshots, "function_calls")
        return [
            FunctionCallSnapshot(item_id, call.id, call.name, call.text())
            for item_id, call in self._protocol.calls.calls.items()
        ]

    def text(self) -> str:
        """All output text so far."""
        need_snapshots(self._protocol.keep_snapshots, "text")
        return "".join(self._protocol.text)


class ResponseStream(_ResponseUnwrappers, TypedStream[ResponseEvent | UnknownEvent, ResponseProtocol]):
    """A scanner of typed Responses API events over any iterable of bytes; its text is the output text."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        super().__init__(
            chunks,
            ResponseProtocol(keep_snapshots=snapshots),
            on_close=on_close,
            max_event_size=max_event_size,
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> ResponseStream:
        """A response stream over any iterable of bytes."""
        return cls(chunks, on_close=on_close, max_event_size=max_event_size, snapshots=snapshots)


class AsyncResponseStream(
    _ResponseUnwrappers, AsyncTypedStream[ResponseEvent | UnknownEvent, ResponseProtocol]
):
    """The async twin of :class:`ResponseStream`."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        super().__init__(
            chunks,
            ResponseProtocol(keep_snapshots=snapshots),
            on_close=on_close,
            max_event_size=max_event_size,
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> AsyncResponseStream:
        """A response stream over any async iterable of bytes."""
        return cls(chunks, on_close=on_close, max_event_size=max_event_size, snapshots=snapshots)
