"""Responses API streams: the ``ResponseStream`` scanner.

The stream ends cleanly after ``response.completed``, ``response.failed`` or ``response.incomplete``
(check ``final_response().status``); bytes that stop before one of those are an ``UnexpectedEOF``,
and an ``error`` event ends it with ``StreamAPIError``. Event types this version does not know
arrive as ``UnknownEvent``.

A stream can start in the middle (a background response streamed again with ``starting_after=N``):
``from_chunks(..., starting_after=N, snapshot=...)`` takes the snapshots to continue from. Once a
stream has joined a resumed segment (so, or after an automatic resume), every event's
``sequence_number`` must be above the last one handed out: one at or below it is a duplicate the
server should not have sent, and ends the stream with a ``ProtocolError`` (it is not skipped, so
that nothing is silently dropped or repeated).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeAlias

from attrs import define, field

from ... import sse
from ...errors import ProtocolError, StreamAPIError, StreamError, UnexpectedEOF, UsageError
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
    #: The response's id (from ``response.created``, or from the snapshot a stream resumes from).
    response_id: str | None = None
    #: The last ``sequence_number`` handed out (None: none seen).
    sequence: int | None = None
    #: True once the stream continues after a cut: sequence numbers must rise from here on.
    joined: bool = False
    #: How many times the stream resumed by itself after a cut.
    resumes: int = 0

    def accept(self, raw: sse.Event) -> ResponseEvent | UnknownEvent:
        """Decode one SSE event and fold it into the snapshots."""
        name = raw.event
        if self.hot and name == "response.output_text.delta":  # the hot path (responses/_fast.py)
            hot = accept_text_delta(self, raw)
            if hot is not None:
                return hot
        cls = EVENTS.get(name)
        if cls is None and name != "message":
            return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index), raw.data)
        payload = loads(name, self.index, raw.data)
        if name == "message" and isinstance(payload, dict) and isinstance(payload.get("type"), str):
            name = payload["type"]  # a server that sends no `event:` lines
            cls = EVENTS.get(name)
        if cls is None:
            return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index), raw.data)
        event = build(cls, payload, "data", raw=raw, index=self.index)
        number = event.sequence_number
        if number is not None:  # the resume point (inline: every event passes here)
            if self.joined and self.sequence is not None and number <= self.sequence:
                raise self._duplicate(number, name)
            self.sequence = number
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

    def _duplicate(self, number: int, name: str) -> ProtocolError:
        """After a join, a sequence number that does not rise: the server sent an event again."""
        return ProtocolError(
            f"event #{self.index} ({name!r}) of a resumed response stream has sequence_number "
            f"{number}, not above {self.sequence}, the last one handed out: the server sent an event again"
        )

    def _keep(self, event: ResponseEvent | UnknownEvent, data: str) -> ResponseEvent | UnknownEvent:
        if '"sequence_number"' in data:  # an unknown event still moves the resume point
            try:
                number = json.loads(data).get("sequence_number")
            except (ValueError, AttributeError, RecursionError):
                number = None
            if type(number) is int:
                if self.joined and self.sequence is not None and number <= self.sequence:
                    raise self._duplicate(number, event.name)
                self.sequence = number
        self.index += 1
        self.last = event
        return event

    def start_after(self, starting_after: int | None, snapshot: ResponseSnapshot | None) -> None:
        """Continue a stream by hand: after ``sequence_number`` ``starting_after``, from ``snapshot``.

        ``snapshot`` is the stream that was cut (its snapshots carry on), or the response as of
        that event (a ``ResponseObject`` or its JSON dict): its output text and function calls
        seed the snapshots.
        """
        if starting_after is not None and (type(starting_after) is not int or starting_after < -1):
            raise UsageError(f"starting_after must be a sequence number (an int), got {starting_after!r}")
        if isinstance(snapshot, (ResponseStream, AsyncResponseStream)):
            self._copy(snapshot._protocol)
        elif snapshot is not None:
            self._seed(_response_object(snapshot))
        if starting_after is not None:
            self.sequence = starting_after
        self.joined = self.joined or starting_after is not None or snapshot is not None

    def _copy(self, other: ResponseProtocol) -> None:
        for name in ("index", "response", "last", "response_id", "sequence", "outputs"):
            setattr(self, name, getattr(other, name))
        self.text = list(other.text)
        self.calls = copy.deepcopy(other.calls)
        self.contents = dict(other.contents)

    def _seed(self, response: ResponseObject) -> None:
        self.response = response
        self.response_id = response.id
        output = response.output or []
        self.outputs = len(output)
        self.contents = {i: len(item.content or ()) for i, item in enumerate(output)}
        if self.keep_snapshots:
            text = response.output_text()
            self.text = [text] if text else []
            for item in output:
                if item.type == "function_call" and item.id:
                    arguments = item.arguments if isinstance(item.arguments, str) else None
                    call = item.call_id
                    self.calls.add(item.id, id=call, name=item.name, arguments=arguments, complete=True)

    def _fold(self, event: ResponseEvent, payload: dict[str, Any]) -> None:
        if isinstance(event, ResponseErrorEvent):
            self.error = api_error(payload, self.index)
        elif self.keep_snapshots:
            self._snapshot(event)
        if event.event in _LIFECYCLE:
            self.response = getattr(event, "response", None) or self.response
            self.done = self.done or event.event in _TERMINAL
            if self.response is not None and self.response.id:
                self.response_id = self.response.id

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

    @property
    def response_id(self) -> str | None:
        """The response's id, once ``response.created`` has arrived (what a resume asks for)."""
        return self._protocol.response_id

    @property
    def sequence_number(self) -> int | None:
        """The ``sequence_number`` of the last event handed out (resume with ``starting_after=`` it)."""
        return self._protocol.sequence

    @property
    def resumes(self) -> int:
        """How many times the stream resumed by itself after a cut (``Client`` with ``background=True``)."""
        return self._protocol.resumes

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
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> None:
        protocol = ResponseProtocol(keep_snapshots=snapshots)
        protocol.start_after(starting_after, snapshot)
        super().__init__(chunks, protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> ResponseStream:
        """A response stream over any iterable of bytes.

        To continue a stream that was cut (the bytes of ``GET /responses/{id}?stream=true&
        starting_after=N``): ``starting_after=N`` and ``snapshot=`` the cut stream, or the response
        as of event N (a ``ResponseObject`` or its dict), so that text and snapshots carry on.
        """
        return cls(
            chunks,
            on_close=on_close,
            max_event_size=max_event_size,
            snapshots=snapshots,
            starting_after=starting_after,
            snapshot=snapshot,
        )


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
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> None:
        protocol = ResponseProtocol(keep_snapshots=snapshots)
        protocol.start_after(starting_after, snapshot)
        super().__init__(chunks, protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
        starting_after: int | None = None,
        snapshot: ResponseSnapshot | None = None,
    ) -> AsyncResponseStream:
        """A response stream over any async iterable of bytes (``starting_after``, ``snapshot``: as for
        :meth:`ResponseStream.from_chunks`)."""
        return cls(
            chunks,
            on_close=on_close,
            max_event_size=max_event_size,
            snapshots=snapshots,
            starting_after=starting_after,
            snapshot=snapshot,
        )


#: What a stream can continue from: the cut stream, or the response as of the last event handed out.
ResponseSnapshot: TypeAlias = ResponseStream | AsyncResponseStream | ResponseObject | Mapping[str, Any]


def _response_object(snapshot: ResponseObject | Mapping[str, Any]) -> ResponseObject:
    if isinstance(snapshot, ResponseObject):
        return snapshot
    if isinstance(snapshot, Mapping):
        try:
            return build(ResponseObject, dict(snapshot), "snapshot")
        except ShapeError as exc:
            raise UsageError(f"the snapshot is not a response object: unexpected shape at {exc}") from None
    raise UsageError(
        "snapshot takes the stream that was cut, or a response (ResponseObject or dict); "
        f"not {type(snapshot).__name__}"
    )
