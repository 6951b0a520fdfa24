"""The objects of a Chat Completions stream: ``chat.completion.chunk`` and its parts."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from attrs import define

from .._build import Model
from .._event import StreamEvent

__all__ = [
    "ChatChunk",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatToolCall",
    "ChatToolCallDelta",
    "ChoiceDelta",
    "ChoiceDeltaAudio",
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
class ChoiceDeltaAudio(Model):
    """A piece of a spoken answer (audio models): base64 ``data`` and its ``transcript`` text."""

    id: str | None = None
    data: str | None = None
    expires_at: int | None = None
    transcript: str | None = None


@define(frozen=True, slots=True)
class ChoiceDelta(Model):
    """What a chunk adds to one choice's message."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatToolCallDelta] | None = None
    function_call: FunctionDelta | None = None
    audio: ChoiceDeltaAudio | None = None


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
