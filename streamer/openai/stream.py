"""``RunStream`` and ``AsyncRunStream``: scanners of typed Assistants v2 events.

The pure part, :class:`RunState`, turns SSE events into typed events, keeps the snapshots and
decides how the stream ends; the sync and async scanners only move bytes into it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from attrs import define, field

from .. import sse
from ..errors import StreamAPIError, ToolOutputsNotExpected, UnexpectedEOF
from ..reader import TextReader
from ..scanner import AsyncScanner, Scanner
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
)
from .models import ErrorObject, Message, MessageDeltaEvent, RequiredActionFunctionToolCall, Run, RunStep
from .models import RunStepDeltaEvent as RunStepDeltaData
from .snapshots import Snapshots

__all__ = ["AsyncRunStream", "RunState", "RunStream"]

ToolOutputs = list[dict[str, Any]]
Continuation = Callable[[str, str, ToolOutputs], Iterable[bytes]]
AsyncContinuation = Callable[[str, str, ToolOutputs], Awaitable[AsyncIterable[bytes]]]


@define(slots=True)
class RunState:
    """Sans-IO core of a run stream: SSE events in, typed events out, snapshots kept."""

    snapshots: Snapshots = field(factory=Snapshots)
    #: The position the next event gets (counted across tool-output continuations).
    index: int = 0
    last: AssistantEvent | None = None
    run: Run | None = None
    #: (thread_id, run_id) of a run waiting for tool outputs.
    pending_action: tuple[str, str] | None = None
    #: Tool outputs were submitted: the segment's ``done`` is not the end of the stream.
    continuing: bool = False

    def accept(self, raw: sse.Event) -> AssistantEvent:
        """Decode one SSE event and fold it into the state (raises DecodeError)."""
        event, payload = decode_with_payload(raw, self.index)
        self.index += 1
        snapshots = self.snapshots
        if isinstance(event, ThreadMessageDelta):
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
        self.last = event
        return event

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

    def continues_after_done(self) -> bool:
        """At ``done``: True (once) if tool outputs were submitted, so a follow-up stream comes next."""
        if self.continuing:
            self.continuing = False
            return True
        return False

    def error_for(self, event: ErrorEvent) -> StreamAPIError:
        """The error an ``error`` event ends the stream with."""
        return StreamAPIError(event.data.code, event.data.message, index=event.index)

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


class _Unwrappers:
    """The Go-style ``(value, ok)`` helpers, shared by the sync and async run streams."""

    _state: RunState
    _current: Any

    def message_delta_text(self) -> tuple[str, bool]:
        """The text of the current event if it is a message delta carrying text."""
        event = self._current
        if isinstance(event, ThreadMessageDelta) and event.data.delta is not None:
            text = event.data.delta.text()
            return text, bool(text)
        return "", False

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
        return self._state.snapshots.current_message()

    def current_run_step(self) -> RunStep | None:
        """The run step in progress, with tool call arguments assembled so far."""
        return self._state.snapshots.current_run_step()

    def final_run(self) -> Run | None:
        """The run as of its most recent event."""
        return self._state.run

    def final_messages(self) -> list[Message]:
        """The messages that completed, in order."""
        return self._state.snapshots.final_messages()

    def text(self) -> str:
        """All message text streamed so far."""
        return self._state.snapshots.text()


class RunStream(_Unwrappers, Scanner[AssistantEvent]):
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
    ) -> None:
        self._state = RunState()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._follow_up: Iterator[bytes] | None = None
        self._continuation = continuation
        self._on_close_user = on_close
        super().__init__(self._events(), on_close=self._release_sources)

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        continuation: Continuation | None = None,
    ) -> RunStream:
        """A run stream over any iterable of bytes (a file, a recording, an HTTP body)."""
        return cls(chunks, on_close=on_close, continuation=continuation)

    def _events(self) -> Iterator[AssistantEvent]:
        state = self._state
        while True:
            decoder = sse.Decoder()
            for chunk in self._chunks:
                for raw in decoder.feed(chunk):
                    event = state.accept(raw)
                    if isinstance(event, DoneEvent):
                        if state.continues_after_done() and self._follow_up is not None:
                            self._switch()
                            break
                        yield event
                        return
                    yield event
                    if isinstance(event, ErrorEvent):
                        raise state.error_for(event)
                else:
                    continue
                break
            else:
                decoder.close()
                raise state.eof_error(decoder.truncated)

    def _switch(self) -> None:
        assert self._follow_up is not None
        _close_quietly(self._chunks)
        self._chunks, self._follow_up = self._follow_up, None

    def submit_tool_outputs(self, outputs: ToolOutputs) -> None:
        """Answer the pending ``requires_action``; the stream goes on with the run's follow-up events."""
        if self._continuation is None:
            raise ToolOutputsNotExpected(
                "this RunStream has no way to submit tool outputs (it was not opened by a Client); "
                "submit them yourself and open a new stream"
            )
        thread_id, run_id = self._state.submit()
        self._follow_up = iter(self._continuation(thread_id, run_id, outputs))

    def text_reader(self) -> TextReader:
        """An ``io.RawIOBase`` of the text deltas' UTF-8 bytes; closing it closes the stream."""
        return TextReader(self._text_pieces(), on_close=self.close)

    def _text_pieces(self) -> Iterator[str]:
        while self.next():
            text, ok = self.message_delta_text()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    def _release_sources(self) -> None:
        try:
            _close_quietly(self._chunks)
            if self._follow_up is not None:
                _close_quietly(self._follow_up)
        finally:
            if self._on_close_user is not None:
                self._on_close_user()


class AsyncRunStream(_Unwrappers, AsyncScanner[AssistantEvent]):
    """The async twin of :class:`RunStream`, over any async iterable of bytes."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        continuation: AsyncContinuation | None = None,
    ) -> None:
        self._state = RunState()
        self._chunks: AsyncIterator[bytes] = aiter(chunks)
        self._follow_up: AsyncIterator[bytes] | None = None
        self._continuation = continuation
        self._on_close_user = on_close
        super().__init__(self._events(), on_close=self._release_sources)

    @classmethod
    def from_chunks(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        continuation: AsyncContinuation | None = None,
    ) -> AsyncRunStream:
        """A run stream over any async iterable of bytes."""
        return cls(chunks, on_close=on_close, continuation=continuation)

    async def _events(self) -> AsyncIterator[AssistantEvent]:
        state = self._state
        while True:
            decoder = sse.Decoder()
            switched = False
            async for chunk in self._chunks:
                for raw in decoder.feed(chunk):
                    event = state.accept(raw)
                    if isinstance(event, DoneEvent):
                        if state.continues_after_done() and self._follow_up is not None:
                            await _aclose_quietly(self._chunks)
                            self._chunks, self._follow_up = self._follow_up, None
                            switched = True
                            break
                        yield event
                        return
                    yield event
                    if isinstance(event, ErrorEvent):
                        raise state.error_for(event)
                if switched:
                    break
            if not switched:
                decoder.close()
                raise state.eof_error(decoder.truncated)

    async def submit_tool_outputs(self, outputs: ToolOutputs) -> None:
        """Answer the pending ``requires_action``; the stream goes on with the run's follow-up events."""
        if self._continuation is None:
            raise ToolOutputsNotExpected(
                "this AsyncRunStream has no way to submit tool outputs (it was not opened by an "
                "AsyncClient); submit them yourself and open a new stream"
            )
        thread_id, run_id = self._state.submit()
        self._follow_up = aiter(await self._continuation(thread_id, run_id, outputs))

    async def text_deltas(self) -> AsyncIterator[str]:
        """Yield each text delta as it arrives; raises the stream's error at the end."""
        while await self.next():
            text, ok = self.message_delta_text()
            if ok:
                yield text
        error = self.err()
        if error is not None:
            raise error

    async def _release_sources(self) -> None:
        try:
            await _aclose_quietly(self._chunks)
            if self._follow_up is not None:
                await _aclose_quietly(self._follow_up)
        finally:
            if self._on_close_user is not None:
                result = self._on_close_user()
                if inspect.isawaitable(result):
                    await result


def _close_quietly(chunks: object) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


async def _aclose_quietly(chunks: object) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
