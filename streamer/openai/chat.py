"""Chat Completions streams: typed ``chat.completion.chunk`` events and the ``ChatStream`` scanner.

The wire: ``data:`` lines of chunk objects, ending with ``data: [DONE]``. That marker is the only
clean end; bytes that stop before it are an ``UnexpectedEOF``, and an error object sent in place of
a chunk ends the stream with ``StreamAPIError``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, ClassVar

from attrs import define, field

from .. import sse
from ..errors import DecodeError, StreamAPIError, StreamError, UnexpectedEOF
from ._build import Model, ShapeError, build
from ._typed import AsyncTypedStream, TypedStream
from .events import StreamEvent, UnknownEvent

__all__ = [
    "AsyncChatStream",
    "ChatChunk",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatProtocol",
    "ChatStream",
    "ChatToolCall",
    "ChatToolCallDelta",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionUsage",
    "FunctionDelta",
]


@define(frozen=True, slots=True)
class FunctionDelta(Model):
    """A piece of a function call: its name, then its arguments a few characters at a time."""

    name: str | None = None
    arguments: str | None = None


@define(frozen=True, slots=True)
class ChatToolCallDelta(Model):
    """A piece of a tool call; ``index`` says which call it belongs to."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None


@define(frozen=True, slots=True)
class ChoiceDelta(Model):
    """What a chunk adds to one choice's message."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatToolCallDelta] | None = None
    function_call: FunctionDelta | None = None


@define(frozen=True, slots=True)
class ChunkChoice(Model):
    """One choice in a chunk."""

    index: int | None = None
    delta: ChoiceDelta | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


@define(frozen=True, slots=True)
class CompletionUsage(Model):
    """Token usage, in the last chunk when ``stream_options.include_usage`` is set."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None


@define(frozen=True, slots=True)
class ChatCompletionChunk(Model):
    """One ``chat.completion.chunk`` object."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    choices: list[ChunkChoice] | None = None
    usage: CompletionUsage | None = None


@define(frozen=True, slots=True)
class ChatChunk(StreamEvent):
    """A chunk of a chat completion stream."""

    event: ClassVar[str] = "chat.completion.chunk"
    data: ChatCompletionChunk


@define(frozen=True, slots=True)
class ChatToolCall:
    """A tool call assembled from its deltas: complete ``arguments``."""

    index: int
    id: str | None
    type: str | None
    name: str | None
    arguments: str

    def parsed_arguments(self) -> Any:
        """The arguments decoded as JSON (raises ``json.JSONDecodeError`` if the model wrote bad JSON)."""
        return json.loads(self.arguments)


@define(frozen=True, slots=True)
class ChatMessage:
    """One choice's message as assembled so far."""

    index: int
    role: str | None
    content: str
    refusal: str
    tool_calls: list[ChatToolCall]
    finish_reason: str | None
    logprobs: list[Any]


@define(slots=True)
class _ChoiceSnapshot:
    role: str | None = None
    content: list[str] = field(factory=list)
    refusal: list[str] = field(factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(factory=dict)
    finish_reason: str | None = None
    logprobs: list[Any] = field(factory=list)

    def fold(self, delta: ChoiceDelta) -> None:
        if delta.role is not None:
            self.role = delta.role
        if delta.content:
            self.content.append(delta.content)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            index = call.index if call.index is not None else len(self.tool_calls)
            slot = self.tool_calls.setdefault(
                index, {"id": None, "type": None, "name": None, "arguments": []}
            )
            slot["id"] = call.id or slot["id"]
            slot["type"] = call.type or slot["type"]
            if call.function is not None:
                slot["name"] = call.function.name or slot["name"]
                if call.function.arguments:
                    slot["arguments"].append(call.function.arguments)

    def message(self, index: int) -> ChatMessage:
        calls = [
            ChatToolCall(i, c["id"], c["type"], c["name"], "".join(c["arguments"]))
            for i, c in sorted(self.tool_calls.items())
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
    text: list[str] = field(factory=list)

    def accept(self, raw: sse.Event) -> ChatChunk | UnknownEvent | None:
        """Decode one SSE event; ``[DONE]`` ends the stream and is not handed out."""
        if raw.event != "message":
            event: ChatChunk | UnknownEvent = UnknownEvent(raw.data, raw=raw, index=self.index)
        elif raw.data == "[DONE]":
            self.done = True
            return None
        else:
            event = ChatChunk(self._decode(raw), raw=raw, index=self.index)
            chunk = event.data
            if chunk.usage is not None:
                self.usage = chunk.usage
            for choice in chunk.choices or ():
                snapshot = self.choices.setdefault(choice.index or 0, _ChoiceSnapshot())
                if choice.delta is not None:
                    snapshot.fold(choice.delta)
                    if choice.delta.content and (choice.index or 0) == 0:
                        self.text.append(choice.delta.content)
                if choice.finish_reason is not None:
                    snapshot.finish_reason = choice.finish_reason
                if choice.logprobs and isinstance(choice.logprobs.get("content"), list):
                    snapshot.logprobs.extend(choice.logprobs["content"])
        self.index += 1
        self.last = event
        return event

    def _decode(self, raw: sse.Event) -> ChatCompletionChunk:
        name = "chat.completion.chunk"
        try:
            payload = json.loads(raw.data)
        except ValueError as exc:
            raise DecodeError(name, self.index, raw.data, f"invalid JSON ({exc})") from None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict) and "choices" not in payload:
            error = payload["error"]
            self.error = StreamAPIError(
                error.get("code") or error.get("type"), error.get("message"), index=self.index
            )
        try:
            return build(ChatCompletionChunk, payload, "data")
        except ShapeError as exc:
            raise DecodeError(name, self.index, raw.data, f"unexpected shape at {exc}") from None

    def finished(self) -> bool:
        """True once ``[DONE]`` arrived."""
        return self.done

    def failure(self) -> StreamError | None:
        """The error object the server sent, if any."""
        return self.error

    def eof_error(self, truncated: bool) -> StreamError:
        """Bytes that ended before ``[DONE]``."""
        where = "in the middle of an event" if truncated else "between chunks"
        last = "none" if self.last is None else f"#{self.last.index}"
        return UnexpectedEOF(
            f"the chat completion stream ended {where} before 'data: [DONE]', after {self.index} chunks "
            f"(the last was {last}); the answer may be incomplete"
        )


class _ChatUnwrappers:
    """The ``(value, ok)`` helpers and snapshots, shared by the sync and async chat streams."""

    _protocol: ChatProtocol
    _current: Any

    def content_delta(self, choice: int = 0) -> tuple[str, bool]:
        """The content text the current chunk adds to ``choice``."""
        delta = self._delta(choice)
        text = delta.content if delta is not None else None
        return (text, True) if text else ("", False)

    def refusal_delta(self, choice: int = 0) -> tuple[str, bool]:
        """The refusal text the current chunk adds to ``choice``."""
        delta = self._delta(choice)
        text = delta.refusal if delta is not None else None
        return (text, True) if text else ("", False)

    def tool_call_deltas(self, choice: int = 0) -> tuple[list[ChatToolCallDelta], bool]:
        """The tool call pieces in the current chunk for ``choice``."""
        delta = self._delta(choice)
        calls = delta.tool_calls if delta is not None else None
        return (list(calls), True) if calls else ([], False)

    def finish_reason(self, choice: int = 0) -> tuple[str | None, bool]:
        """Why ``choice`` stopped, if the current chunk says so."""
        for item in self._choices():
            if (item.index or 0) == choice and item.finish_reason is not None:
                return item.finish_reason, True
        return None, False

    def usage(self) -> tuple[CompletionUsage | None, bool]:
        """The usage the current chunk carries (``stream_options.include_usage``)."""
        event = self._current
        if isinstance(event, ChatChunk) and event.data.usage is not None:
            return event.data.usage, True
        return None, False

    def message(self, choice: int = 0) -> ChatMessage | None:
        """The message of ``choice`` assembled so far (content, refusal, complete tool calls)."""
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
        """All content text of choice 0 so far."""
        return "".join(self._protocol.text)

    def _choices(self) -> list[ChunkChoice]:
        event = self._current
        return (event.data.choices or []) if isinstance(event, ChatChunk) else []

    def _delta(self, choice: int) -> ChoiceDelta | None:
        for item in self._choices():
            if (item.index or 0) == choice:
                return item.delta
        return None


class ChatStream(_ChatUnwrappers, TypedStream[ChatChunk | UnknownEvent]):
    """A scanner of chat completion chunks over any iterable of bytes; its text is choice 0's content."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._protocol = ChatProtocol()
        super().__init__(chunks, self._protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls, chunks: Iterable[bytes], *, on_close: Callable[[], object] | None = None
    ) -> ChatStream:
        """A chat stream over any iterable of bytes."""
        return cls(chunks, on_close=on_close)

    def _text_delta(self) -> tuple[str, bool]:
        return self.content_delta()


class AsyncChatStream(_ChatUnwrappers, AsyncTypedStream[ChatChunk | UnknownEvent]):
    """The async twin of :class:`ChatStream`."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._protocol = ChatProtocol()
        super().__init__(chunks, self._protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls, chunks: AsyncIterable[bytes], *, on_close: Callable[[], Awaitable[object] | object] | None = None
    ) -> AsyncChatStream:
        """A chat stream over any async iterable of bytes."""
        return cls(chunks, on_close=on_close)

    def _text_delta(self) -> tuple[str, bool]:
        return self.content_delta()
