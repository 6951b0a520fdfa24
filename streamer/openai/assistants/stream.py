"""``RunStream`` and ``AsyncRunStream``: scanners of typed Assistants v2 events.

The pure part, :class:`RunProtocol`, turns SSE events into typed events, keeps the snapshots and
decides how the stream ends; the scanners run it on the typed-stream core shared with chat and
responses. Submitting tool outputs is the protocol's continuation hook: the run's follow-up
stream is read as the next segment of the same stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any

from attrs import define, field

from ... import sse
from ...errors import StreamAPIError, ToolOutputsNotExpected, UnexpectedEOF
from .._core import AsyncTypedStream, TypedStream, need_snapshots
from .._deltas import api_error
from .events import (
    AssistantEvent,
    DoneEvent,
    ErrorEvent,
    MessageEvent,
    RunEvent,
    RunStepEvent,
    ThreadMessageCompleted,
    ThreadMessageDelta,
    ThreadMessageIncomplete,
    ThreadRunRequiresAction,
    ThreadRunStepDelta,
    decode_with_payload,
    hot_text_delta,
)
from .models import ErrorObject, Message, MessageDeltaEvent, RequiredActionFunctionToolCall, Run, RunStep
from .models import RunStepDeltaEvent as RunStepDeltaData
from .snapshots import Snapshots

__all__ = ["AsyncRunStream", "RunProtocol", "RunState", "RunStream"]

ToolOutputs = list[dict[str, Any]]
Continuation = Callable[[str, str, ToolOutputs], Iterable[bytes]]
AsyncContinuation = Callable[[str, str, ToolOutputs], Awaitable[AsyncIterable[bytes]]]


@define(slots=True)
class RunProtocol:
    """Sans-IO core of a run stream: SSE events in, typed events out, snapshots kept."""

    snapshots: Snapshots = field(factory=Snapshots)
    #: The position of the next event (counted across tool-output continuations).
    index: int = 0
    last: AssistantEvent | None = None
    run: Run | None = None
    #: (thread_id, run_id) of a run waiting for tool outputs.
    pending_action: tuple[str, str] | None = None
    #: Tool outputs were submitted: the segment's ``done`` is not the end of the stream.
    continuing: bool = False
    done: bool = False
    error: StreamAPIError | None = None
    #: False: keep no snapshots and no text (a relay or a pipe that only passes deltas on).
    keep_snapshots: bool = True
    #: False: never take the hot path (the full path is the reference the hot path is tested against).
    hot: bool = True

    def accept(self, raw: sse.Event) -> AssistantEvent:
        """Decode one SSE event and fold it into the state (raises DecodeError or ShapeError)."""
        if raw.event == "thread.message.delta" and self.hot:
            found = hot_text_delta(raw, self.index)
            if found is not None:
                delta, (ident, position, value, _, _, _) = found
                if self.keep_snapshots and not self.snapshots.text_piece(
                    ident, 0 if position == "0" else int(position), value
                ):
                    self.snapshots.message_text(delta.data)
                self.index += 1
                self.last = delta
                return delta
        event, payload = decode_with_payload(raw, self.index)
        snapshots = self.snapshots
        if not self.keep_snapshots:
            self._light(event, payload)
        elif isinstance(event, ThreadMessageDelta):
            if payload is None:  # plain text blocks, already checked by the decoder
                snapshots.message_text(event.data)
            else:
                snapshots.message_delta(payload, event.data.delta.text() if event.data.delta else "")
        elif isinstance(event, ThreadRunStepDelta):
            snapshots.step_delta(payload)
        elif isinstance(event, RunEvent):
            self.run = event.data
            if isinstance(event, ThreadRunRequiresAction):
                self.pending_action = (event.data.thread_id or "", event.data.id or "")
        elif isinstance(event, RunStepEvent):
            snapshots.step_created(payload)
        elif isinstance(event, (ThreadMessageCompleted, ThreadMessageIncomplete)):
            snapshots.message_done(payload)
        elif isinstance(event, MessageEvent):
            snapshots.message_created(payload)
        elif isinstance(event, DoneEvent):
            self.done = True
        elif isinstance(event, ErrorEvent):
            self.error = api_error(payload, self.index)
        self.index += 1
        self.last = event
        return event

    def _light(self, event: AssistantEvent, payload: Any) -> None:
        """What a stream without snapshots still keeps: the run, a pending action, the ending."""
        if isinstance(event, RunEvent):
            self.run = event.data
            if isinstance(event, ThreadRunRequiresAction):
                self.pending_action = (event.data.thread_id or "", event.data.id or "")
        elif isinstance(event, DoneEvent):
            self.done = True
        elif isinstance(event, ErrorEvent):
            self.error = api_error(payload, self.index)

    def event_name(self, raw: sse.Event) -> str:
        """The SSE event name."""
        return raw.event

    def continues(self) -> bool:
        """At ``done``: True (once) if tool outputs were submitted, so a follow-up segment comes."""
        if self.continuing:
            self.continuing = False
            self.done = False
            return True
        return False

    def submit(self) -> tuple[str, str]:
        """Record that tool outputs are being submitted; returns (thread_id, run_id)."""
        if self.pending_action is None:
            raise ToolOutputsNotExpected(
                "submit_tool_outputs() needs a thread.run.requires_action event first; "
                f"the last event was {self.describe_last()}"
            )
        ids = self.pending_action
        self.pending_action = None
        self.continuing = True
        return ids

    def eof_error(self, truncated: bool) -> UnexpectedEOF:
        """The error for bytes that ended before ``done``."""
        where = "in the middle of an event" if truncated else "between events"
        return UnexpectedEOF(
            f"the run stream ended {where} before its 'done' event, after {self.index} events "
            f"(the last was {self.describe_last()}); the answer may be incomplete"
        )

    def describe_last(self) -> str:
        """The last event, for error messages."""
        if self.last is None:
            return "none"
        return f"#{self.last.index} {self.last.name!r}"


#: The name this protocol had before the three kinds shared one core.
RunState = RunProtocol


class _Unwrappers:
    """The Go-style ``(value, ok)`` helpers, shared by the sync and async run streams."""

    _protocol: RunProtocol
    _current: Any

    def text_delta(self) -> tuple[str, bool]:
        """The text the current event adds, if it is a message delta carrying text."""
        event = self._current
        if isinstance(event, ThreadMessageDelta):
            text = event.text()
            return text, bool(text)
        return "", False

    def message_delta_text(self) -> tuple[str, bool]:
        """Alias of :meth:`text_delta`, the name this kind used first."""
        return self.text_delta()

    def message_delta(self) -> tuple[MessageDeltaEvent | None, bool]:
        """The current event's data if it is ``thread.message.delta``."""
        event = self._current
        return (event.data, True) if isinstance(event, ThreadMessageDelta) else (None, False)

    def run_step_delta(self) -> tuple[RunStepDeltaData | None, bool]:
        """The current event's data if it is ``thread.run.step.delta``."""
        event = self._current
        return (event.data, True) if isinstance(event, ThreadRunStepDelta) else (None, False)

    def required_action(self) -> tuple[list[RequiredActionFunctionToolCall], bool]:
        """The tool calls to answer if the current event is ``thread.run.requires_action``."""
        event = self._current
        if not isinstance(event, ThreadRunRequiresAction):
            return [], False
        action = event.data.required_action
        calls = action.submit_tool_outputs.tool_calls if action and action.submit_tool_outputs else None
        return [c for c in calls or [] if isinstance(c, RequiredActionFunctionToolCall)], True

    def run(self) -> tuple[Run | None, bool]:
        """The Run of the current event if it is a ``thread.run.*`` event."""
        event = self._current
        return (event.data, True) if isinstance(event, RunEvent) else (None, False)

    def message_completed(self) -> tuple[Message | None, bool]:
        """The Message if the current event is ``thread.message.completed``."""
        event = self._current
        return (event.data, True) if isinstance(event, ThreadMessageCompleted) else (None, False)

    def error(self) -> tuple[ErrorObject | None, bool]:
        """The error object if the current event is ``error``."""
        event = self._current
        return (event.data, True) if isinstance(event, ErrorEvent) else (None, False)

    def current_message(self) -> Message | None:
        """The message being written, assembled from its deltas so far."""
        need_snapshots(self._protocol.keep_snapshots, "current_message")
        return self._protocol.snapshots.current_message()

    def current_run_step(self) -> RunStep | None:
        """The run step in progress, with tool call arguments assembled so far."""
        need_snapshots(self._protocol.keep_snapshots, "current_run_step")
        return self._protocol.snapshots.current_run_step()

    def final_run(self) -> Run | None:
        """The run as of its most recent event."""
        return self._protocol.run

    def final_messages(self) -> list[Message]:
        """The messages that completed, in order."""
        need_snapshots(self._protocol.keep_snapshots, "final_messages")
        return self._protocol.snapshots.final_messages()

    def text(self) -> str:
        """All message text streamed so far."""
        need_snapshots(self._protocol.keep_snapshots, "text")
        return self._protocol.snapshots.text()


class RunStream(_Unwrappers, TypedStream[AssistantEvent, RunProtocol]):
    """A scanner of typed Assistants v2 events over any iterable of bytes.

    It ends cleanly only at ``done``; bytes that end before it set ``err()`` to
    :class:`~streamer.errors.UnexpectedEOF`, and an ``error`` event (which is still handed out)
    ends it with :class:`~streamer.errors.StreamAPIError`.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        continuation: Continuation | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        self._continuation = continuation
        super().__init__(
            chunks, RunProtocol(keep_snapshots=snapshots), on_close=on_close, max_event_size=max_event_size
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        continuation: Continuation | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> RunStream:
        """A run stream over any iterable of bytes (a file, a recording, an HTTP body)."""
        return cls(
            chunks,
            on_close=on_close,
            continuation=continuation,
            max_event_size=max_event_size,
            snapshots=snapshots,
        )

    def submit_tool_outputs(self, outputs: ToolOutputs) -> None:
        """Answer the pending ``requires_action``; the stream goes on with the run's follow-up events."""
        if self._continuation is None:
            raise ToolOutputsNotExpected(
                "this RunStream has no way to submit tool outputs (it was not opened by a Client); "
                "submit them yourself and open a new stream"
            )
        thread_id, run_id = self._protocol.submit()
        self._follow_up = iter(self._continuation(thread_id, run_id, outputs))


class AsyncRunStream(_Unwrappers, AsyncTypedStream[AssistantEvent, RunProtocol]):
    """The async twin of :class:`RunStream`, over any async iterable of bytes."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        continuation: AsyncContinuation | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        self._continuation = continuation
        super().__init__(
            chunks, RunProtocol(keep_snapshots=snapshots), on_close=on_close, max_event_size=max_event_size
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        continuation: AsyncContinuation | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> AsyncRunStream:
        """A run stream over any async iterable of bytes."""
        return cls(
            chunks,
            on_close=on_close,
            continuation=continuation,
            max_event_size=max_event_size,
            snapshots=snapshots,
        )

    async def submit_tool_outputs(self, outputs: ToolOutputs) -> None:
        """Answer the pending ``requires_action``; the stream goes on with the run's follow-up events."""
        if self._continuation is None:
            raise ToolOutputsNotExpected(
                "this AsyncRunStream has no way to submit tool outputs (it was not opened by an "
                "AsyncClient); submit them yourself and open a new stream"
            )
        thread_id, run_id = self._protocol.submit()
        self._follow_up = aiter(await self._continuation(thread_id, run_id, outputs))
