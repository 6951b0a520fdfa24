"""Chat Completions streams: the ``ChatStream`` scanner over ``chat.completion.chunk`` events.

The wire: ``data:`` lines of chunk objects, ending with ``data: [DONE]``. That marker is the only
clean end; bytes that stop before it are an ``UnexpectedEOF``, and an error object sent in place of
a chunk ends the stream with ``StreamAPIError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any

from attrs import define, field

from ... import sse
from ...errors import StreamAPIError, StreamError, UnexpectedEOF
from .._build import build
from .._core import AsyncTypedStream, TypedStream, loads, need_snapshots
from .._deltas import ToolCalls, api_error, check_index
from .._event import UnknownEvent
from .._lazy import lazy_state
from ._fast import HOT_FILLS, TextCapture, TextChunks
from .models import (
    ChatChunk,
    ChatCompletionChunk,
    ChatMessage,
    ChatToolCall,
    ChatToolCallDelta,
    ChoiceDelta,
    ChunkChoice,
    CompletionUsage,
)

__all__ = ["AsyncChatStream", "ChatProtocol", "ChatStream"]

_CHUNK = "chat.completion.chunk"


@define(slots=True)
class _ChoiceSnapshot:
    role: str | None = None
    content: list[str] = field(factory=list)
    refusal: list[str] = field(factory=list)
    transcript: list[str] = field(factory=list)
    tool_calls: ToolCalls[int] = field(factory=ToolCalls)
    finish_reason: str | None = None
    logprobs: list[Any] = field(factory=list)

    def fold(self, delta: ChoiceDelta, choice: int) -> None:
        if delta.role is not None:
            self.role = delta.role
        if delta.content:
            self.content.append(delta.content)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        if delta.audio is not None and delta.audio.transcript:
            self.transcript.append(delta.audio.transcript)
        if delta.tool_calls:
            self._fold_calls(delta.tool_calls, choice)

    def _fold_calls(self, pieces: list[ChatToolCallDelta], choice: int) -> None:
        calls = self.tool_calls
        for n, call in enumerate(pieces):
            index = call.index
            if index is None:
                index = len(calls.calls)
            elif index not in calls.calls:
                path = f"data.choices[{choice}].delta.tool_calls[{n}].index"
                index = check_index(index, len(calls.calls), path)
            function = call.function
            calls.add(
                index,
                id=call.id,
                type=call.type,
                name=function.name if function is not None else None,
                arguments=function.arguments if function is not None else None,
            )

    def message(self, index: int) -> ChatMessage:
        calls = [
            ChatToolCall(i, c.id, c.type, c.name, c.text()) for i, c in sorted(self.tool_calls.calls.items())
        ]
        return ChatMessage(
            index,
            self.role,
            "".join(self.content),
            "".join(self.refusal),
            calls,
            self.finish_reason,
            self.logprobs,
        )


@define(slots=True)
class ChatProtocol:
    """Sans-IO core of a chat completion stream: decoding, snapshots, the end marker."""

    index: int = 0
    done: bool = False
    error: StreamAPIError | None = None
    usage: CompletionUsage | None = None
    last: ChatChunk | UnknownEvent | None = None
    choices: dict[int, _ChoiceSnapshot] = field(factory=dict)
    #: Choice 0's content pieces, and its audio transcript pieces (the text when there is no content).
    text: list[str] = field(factory=list)
    transcript: list[str] = field(factory=list)
    #: Choice 0 had content (so a transcript is not its text).
    has_content: bool = False
    #: False: keep no snapshots and no text (a relay or a pipe that only passes deltas on).
    keep_snapshots: bool = True
    #: False: never take the hot path (the full path is the reference the hot path is tested against).
    hot: bool = True
    #: The hot path's memory of the chunks' common head.
    text_chunks: TextChunks = field(factory=TextChunks, repr=False, eq=False)

    def accept(self, raw: sse.Event) -> ChatChunk | UnknownEvent | None:
        """Decode one SSE event; ``[DONE]`` ends the stream and is not handed out."""
        if raw.event != "message":
            event: ChatChunk | UnknownEvent = UnknownEvent(raw.data, raw=raw, index=self.index)
        elif raw.data == "[DONE]":
            self.done = True
            return None
        elif self.hot and (found := self.text_chunks.match(raw, self.index)) is not None:
            event, (_, _, role, content) = found
            if self.keep_snapshots:
                self._fold_text(role, content)
            elif content:
                self.has_content = True
        else:
            payload = loads(_CHUNK, self.index, raw.data)
            if type(payload) is dict and "choices" not in payload and isinstance(payload.get("error"), dict):
                self.error = api_error(payload, self.index)
            event = ChatChunk(build(ChatCompletionChunk, payload, "data"), raw=raw, index=self.index)
            chunk = event.data
            if chunk.usage is not None:
                self.usage = chunk.usage
            if chunk.choices:
                if self.keep_snapshots:
                    self._fold(chunk.choices)
                else:
                    self._check(chunk.choices)
        self.index += 1
        self.last = event
        return event

    def _fold_text(self, role: str | None, content: str | None) -> None:
        """What :meth:`_fold` does for a hot-path chunk: choice 0's role and content."""
        snapshot = self.choices.get(0)
        if snapshot is None:
            snapshot = self.choices[0] = _ChoiceSnapshot()  # index 0 is always within bounds
        if role is not None:
            snapshot.role = role
        if content:
            snapshot.content.append(content)
            self.has_content = True
            self.text.append(content)

    def _check(self, choices: list[ChunkChoice]) -> None:
        """Without snapshots: only note whether choice 0 has content."""
        if not self.has_content:
            for choice in choices:
                if not choice.index and choice.delta is not None and choice.delta.content:
                    self.has_content = True

    def _fold(self, choices: list[ChunkChoice]) -> None:
        for n, choice in enumerate(choices):
            number = choice.index or 0
            snapshot = self.choices.get(number)
            if snapshot is None:
                check_index(number, len(self.choices), f"data.choices[{n}].index")
                snapshot = self.choices[number] = _ChoiceSnapshot()
            delta = choice.delta
            if delta is not None:
                snapshot.fold(delta, n)
                if number == 0:
                    if delta.content:
                        self.has_content = True
                        self.text.append(delta.content)
                    elif delta.audio is not None and delta.audio.transcript:
                        self.transcript.append(delta.audio.transcript)
            if choice.finish_reason is not None:
                snapshot.finish_reason = choice.finish_reason
            if choice.logprobs:
                content = choice.logprobs.get("content")
                if isinstance(content, list):
                    snapshot.logprobs.extend(content)

    def event_name(self, raw: sse.Event) -> str:
        """``chat.completion.chunk`` for the data events, else the SSE event name."""
        return _CHUNK if raw.event == "message" else raw.event

    def continues(self) -> bool:
        """A chat stream has one segment."""
        return False

    def eof_error(self, truncated: bool) -> StreamError:
        """Bytes that ended before ``[DONE]``."""
        where = "in the middle of an event" if truncated else "between chunks"
        last = "none" if self.last is None else f"#{self.last.index}"
        return UnexpectedEOF(
            f"the chat completion stream ended {where} before 'data: [DONE]', after {self.index} chunks "
            f"(the last was {last}); the answer may be incomplete"
        )


def _hot_capture(event: object) -> TextCapture | None:
    """What the hot path captured for a chunk whose ``data`` is not built yet (else None)."""
    if type(event) is not ChatChunk:
        return None
    state = lazy_state(event)
    if state is None or state[0] not in HOT_FILLS:
        return None
    capture: TextCapture = state[1]
    return capture


class _ChatUnwrappers:
    """The ``(value, ok)`` helpers and snapshots, shared by the sync and async chat streams."""

    _protocol: ChatProtocol
    _current: Any

    def text_delta(self) -> tuple[str, bool]:
        """The text the current chunk adds to choice 0: its content, else its audio transcript."""
        capture = _hot_capture(self._current)
        if capture is not None:
            content = capture[3]
            return (content, True) if content else ("", False)
        delta = self._delta(0)
        if delta is None:
            return "", False
        if delta.content:
            return delta.content, True
        audio = delta.audio
        if audio is not None and audio.transcript and not self._protocol.has_content:
            return audio.transcript, True
        return "", False

    def content_delta(self, choice: int = 0) -> tuple[str, bool]:
        """The content text the current chunk adds to ``choice``."""
        capture = _hot_capture(self._current)
        if capture is not None:
            content = capture[3] if choice == 0 else None
            return (content, True) if content else ("", False)
        delta = self._delta(choice)
        text = delta.content if delta is not None else None
        return (text, True) if text else ("", False)

    def refusal_delta(self, choice: int = 0) -> tuple[str, bool]:
        """The refusal text the current chunk adds to ``choice``."""
        delta = self._delta(choice)
        text = delta.refusal if delta is not None else None
        return (text, True) if text else ("", False)

    def transcript_delta(self, choice: int = 0) -> tuple[str, bool]:
        """The audio transcript text the current chunk adds to ``choice`` (audio models)."""
        delta = self._delta(choice)
        audio = delta.audio if delta is not None else None
        text = audio.transcript if audio is not None else None
        return (text, True) if text else ("", False)

    def tool_call_deltas(self, choice: int = 0) -> tuple[list[ChatToolCallDelta], bool]:
        """The tool call pieces in the current chunk for ``choice``."""
        delta = self._delta(choice)
        calls = delta.tool_calls if delta is not None else None
        return (list(calls), True) if calls else ([], False)

    def finish_reason(self, choice: int = 0) -> tuple[str | None, bool]:
        """Why ``choice`` stopped, if the current chunk says so."""
        if _hot_capture(self._current) is not None:
            return None, False  # a hot-path chunk has no finish reason
        for item in self._choices():
            if (item.index or 0) == choice and item.finish_reason is not None:
                return item.finish_reason, True
        return None, False

    def usage(self) -> tuple[CompletionUsage | None, bool]:
        """The usage the current chunk carries (``stream_options.include_usage``)."""
        event = self._current
        if _hot_capture(event) is not None:
            return None, False  # a hot-path chunk has no usage
        if isinstance(event, ChatChunk) and event.data.usage is not None:
            return event.data.usage, True
        return None, False

    def message(self, choice: int = 0) -> ChatMessage | None:
        """The message of ``choice`` assembled so far (content, refusal, complete tool calls)."""
        need_snapshots(self._protocol.keep_snapshots, "message")
        snapshot = self._protocol.choices.get(choice)
        return None if snapshot is None else snapshot.message(choice)

    def tool_calls(self, choice: int = 0) -> list[ChatToolCall]:
        """The tool calls of ``choice`` with their arguments assembled so far."""
        message = self.message(choice)
        return [] if message is None else message.tool_calls

    def final_usage(self) -> CompletionUsage | None:
        """The usage reported by the stream, if it asked for it."""
        return self._protocol.usage

    def text(self) -> str:
        """All text of choice 0 so far: its content, or its audio transcript when it has no content."""
        need_snapshots(self._protocol.keep_snapshots, "text")
        protocol = self._protocol
        return "".join(protocol.text or protocol.transcript)

    def _choices(self) -> list[ChunkChoice]:
        event = self._current
        return (event.data.choices or []) if isinstance(event, ChatChunk) else []

    def _delta(self, choice: int) -> ChoiceDelta | None:
        for item in self._choices():
            if (item.index or 0) == choice:
                return item.delta
        return None


class ChatStream(_ChatUnwrappers, TypedStream[ChatChunk | UnknownEvent, ChatProtocol]):
    """A scanner of chat completion chunks over any iterable of bytes; its text is choice 0's content."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        super().__init__(
            chunks, ChatProtocol(keep_snapshots=snapshots), on_close=on_close, max_event_size=max_event_size
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> ChatStream:
        """A chat stream over any iterable of bytes."""
        return cls(chunks, on_close=on_close, max_event_size=max_event_size, snapshots=snapshots)


class AsyncChatStream(_ChatUnwrappers, AsyncTypedStream[ChatChunk | UnknownEvent, ChatProtocol]):
    """The async twin of :class:`ChatStream`."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> None:
        super().__init__(
            chunks, ChatProtocol(keep_snapshots=snapshots), on_close=on_close, max_event_size=max_event_size
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
        snapshots: bool = True,
    ) -> AsyncChatStream:
        """A chat stream over any async iterable of bytes."""
        return cls(chunks, on_close=on_close, max_event_size=max_event_size, snapshots=snapshots)
