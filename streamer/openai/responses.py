"""Responses API streams: one typed class per streaming event, and the ``ResponseStream`` scanner.

Every event is a flat object with a ``type`` (also its SSE event name) and a ``sequence_number``.
The stream ends cleanly after ``response.completed``, ``response.failed`` or ``response.incomplete``
(check ``final_response().status``); bytes that stop before one of those are an ``UnexpectedEOF``,
and an ``error`` event ends it with ``StreamAPIError``. Event types this version does not know
arrive as ``UnknownEvent``.
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
from .events import UnknownEvent

__all__ = [
    "AsyncResponseStream",
    "ContentPart",
    "FunctionCallSnapshot",
    "OutputItem",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "ResponseAudioTranscriptDelta",
    "ResponseAudioTranscriptDone",
    "ResponseCodeInterpreterCallCodeDelta",
    "ResponseCodeInterpreterCallCodeDone",
    "ResponseCodeInterpreterCallCompleted",
    "ResponseCodeInterpreterCallInProgress",
    "ResponseCodeInterpreterCallInterpreting",
    "ResponseCompactionCompacting",
    "ResponseCompleted",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseCustomToolCallInputDelta",
    "ResponseCustomToolCallInputDone",
    "ResponseErrorEvent",
    "ResponseEvent",
    "ResponseFailed",
    "ResponseFileSearchCallCompleted",
    "ResponseFileSearchCallInProgress",
    "ResponseFileSearchCallSearching",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseImageGenerationCallCompleted",
    "ResponseImageGenerationCallGenerating",
    "ResponseImageGenerationCallInProgress",
    "ResponseImageGenerationCallPartialImage",
    "ResponseInProgress",
    "ResponseIncomplete",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseMcpListToolsCompleted",
    "ResponseMcpListToolsFailed",
    "ResponseMcpListToolsInProgress",
    "ResponseObject",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextAnnotationAdded",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ResponseProtocol",
    "ResponseQueued",
    "ResponseReasoningSummaryPartAdded",
    "ResponseReasoningSummaryPartDone",
    "ResponseReasoningSummaryTextDelta",
    "ResponseReasoningSummaryTextDone",
    "ResponseReasoningTextDelta",
    "ResponseReasoningTextDone",
    "ResponseRefusalDelta",
    "ResponseRefusalDone",
    "ResponseShellCallCommandAdded",
    "ResponseShellCallCommandDelta",
    "ResponseShellCallCommandDone",
    "ResponseShellCallOutputContentDelta",
    "ResponseShellCallOutputContentDone",
    "ResponseStream",
    "ResponseWebSearchCallCompleted",
    "ResponseWebSearchCallInProgress",
    "ResponseWebSearchCallSearching",
]

_NOT_WIRE = {"wire": False}


@define(frozen=True, slots=True)
class ContentPart(Model):
    """A part of an output message: ``output_text`` (with annotations and logprobs) or ``refusal``."""

    type: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None
    refusal: str | None = None


@define(frozen=True, slots=True)
class OutputItem(Model):
    """An item of a response's output: a message, a function call, reasoning, a tool call..."""

    id: str | None = None
    type: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[ContentPart] | None = None
    name: str | None = None
    arguments: str | None = None
    call_id: str | None = None
    summary: list[dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class ResponseObject(Model):
    """A response, as the lifecycle events carry it."""

    id: str | None = None
    object: str | None = None
    created_at: float | None = None
    status: str | None = None
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    instructions: Any = None
    model: str | None = None
    output: list[OutputItem] | None = None
    usage: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    def output_text(self) -> str:
        """The text of every ``output_text`` part of every message in the output."""
        return "".join(
            part.text or ""
            for item in self.output or ()
            if item.type == "message"
            for part in item.content or ()
            if part.type == "output_text"
        )


@define(frozen=True, slots=True)
class ResponseEvent(Model):
    """Base of every Responses API stream event."""

    #: The event type this class stands for.
    event: ClassVar[str] = ""
    raw: sse.Event | None = field(default=None, kw_only=True, repr=False, eq=False, metadata=_NOT_WIRE)
    index: int | None = field(default=None, kw_only=True, repr=False, eq=False, metadata=_NOT_WIRE)
    type: str | None = None
    sequence_number: int | None = None

    @property
    def name(self) -> str:
        """The event type as received."""
        return self.type or (self.raw.event if self.raw is not None else self.event)


@define(frozen=True, slots=True)
class ResponseAudioDelta(ResponseEvent):
    """``response.audio.delta``."""

    event: ClassVar[str] = "response.audio.delta"
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseAudioDone(ResponseEvent):
    """``response.audio.done``."""

    event: ClassVar[str] = "response.audio.done"


@define(frozen=True, slots=True)
class ResponseAudioTranscriptDelta(ResponseEvent):
    """``response.audio.transcript.delta``."""

    event: ClassVar[str] = "response.audio.transcript.delta"
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseAudioTranscriptDone(ResponseEvent):
    """``response.audio.transcript.done``."""

    event: ClassVar[str] = "response.audio.transcript.done"


@define(frozen=True, slots=True)
class ResponseCodeInterpreterCallCodeDelta(ResponseEvent):
    """``response.code_interpreter_call_code.delta``."""

    event: ClassVar[str] = "response.code_interpreter_call_code.delta"
    output_index: int | None = None
    item_id: str | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseCodeInterpreterCallCodeDone(ResponseEvent):
    """``response.code_interpreter_call_code.done``."""

    event: ClassVar[str] = "response.code_interpreter_call_code.done"
    output_index: int | None = None
    item_id: str | None = None
    code: str | None = None


@define(frozen=True, slots=True)
class ResponseCodeInterpreterCallCompleted(ResponseEvent):
    """``response.code_interpreter_call.completed``."""

    event: ClassVar[str] = "response.code_interpreter_call.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseCodeInterpreterCallInProgress(ResponseEvent):
    """``response.code_interpreter_call.in_progress``."""

    event: ClassVar[str] = "response.code_interpreter_call.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseCodeInterpreterCallInterpreting(ResponseEvent):
    """``response.code_interpreter_call.interpreting``."""

    event: ClassVar[str] = "response.code_interpreter_call.interpreting"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseCompactionCompacting(ResponseEvent):
    """``response.compaction.compacting``."""

    event: ClassVar[str] = "response.compaction.compacting"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseCompleted(ResponseEvent):
    """``response.completed``."""

    event: ClassVar[str] = "response.completed"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseContentPartAdded(ResponseEvent):
    """``response.content_part.added``."""

    event: ClassVar[str] = "response.content_part.added"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    part: ContentPart | None = None


@define(frozen=True, slots=True)
class ResponseContentPartDone(ResponseEvent):
    """``response.content_part.done``."""

    event: ClassVar[str] = "response.content_part.done"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    part: ContentPart | None = None


@define(frozen=True, slots=True)
class ResponseCreated(ResponseEvent):
    """``response.created``."""

    event: ClassVar[str] = "response.created"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseErrorEvent(ResponseEvent):
    """``error``."""

    event: ClassVar[str] = "error"
    code: str | None = None
    message: str | None = None
    param: str | None = None


@define(frozen=True, slots=True)
class ResponseFileSearchCallCompleted(ResponseEvent):
    """``response.file_search_call.completed``."""

    event: ClassVar[str] = "response.file_search_call.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseFileSearchCallInProgress(ResponseEvent):
    """``response.file_search_call.in_progress``."""

    event: ClassVar[str] = "response.file_search_call.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseFileSearchCallSearching(ResponseEvent):
    """``response.file_search_call.searching``."""

    event: ClassVar[str] = "response.file_search_call.searching"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDelta(ResponseEvent):
    """``response.function_call_arguments.delta``."""

    event: ClassVar[str] = "response.function_call_arguments.delta"
    output_index: int | None = None
    item_id: str | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDone(ResponseEvent):
    """``response.function_call_arguments.done``."""

    event: ClassVar[str] = "response.function_call_arguments.done"
    output_index: int | None = None
    item_id: str | None = None
    arguments: str | None = None


@define(frozen=True, slots=True)
class ResponseShellCallCommandAdded(ResponseEvent):
    """``response.shell_call_command.added``."""

    event: ClassVar[str] = "response.shell_call_command.added"
    output_index: int | None = None
    command: Any = None
    command_index: int | None = None


@define(frozen=True, slots=True)
class ResponseShellCallCommandDelta(ResponseEvent):
    """``response.shell_call_command.delta``."""

    event: ClassVar[str] = "response.shell_call_command.delta"
    output_index: int | None = None
    command_index: int | None = None
    delta: str | None = None
    obfuscation: str | None = None


@define(frozen=True, slots=True)
class ResponseShellCallCommandDone(ResponseEvent):
    """``response.shell_call_command.done``."""

    event: ClassVar[str] = "response.shell_call_command.done"
    output_index: int | None = None
    command: Any = None
    command_index: int | None = None


@define(frozen=True, slots=True)
class ResponseShellCallOutputContentDelta(ResponseEvent):
    """``response.shell_call_output_content.delta``."""

    event: ClassVar[str] = "response.shell_call_output_content.delta"
    output_index: int | None = None
    item_id: str | None = None
    command_index: int | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseShellCallOutputContentDone(ResponseEvent):
    """``response.shell_call_output_content.done``."""

    event: ClassVar[str] = "response.shell_call_output_content.done"
    output_index: int | None = None
    item_id: str | None = None
    command_index: int | None = None
    output: Any = None


@define(frozen=True, slots=True)
class ResponseInProgress(ResponseEvent):
    """``response.in_progress``."""

    event: ClassVar[str] = "response.in_progress"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseFailed(ResponseEvent):
    """``response.failed``."""

    event: ClassVar[str] = "response.failed"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseIncomplete(ResponseEvent):
    """``response.incomplete``."""

    event: ClassVar[str] = "response.incomplete"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseOutputItemAdded(ResponseEvent):
    """``response.output_item.added``."""

    event: ClassVar[str] = "response.output_item.added"
    output_index: int | None = None
    item: OutputItem | None = None


@define(frozen=True, slots=True)
class ResponseOutputItemDone(ResponseEvent):
    """``response.output_item.done``."""

    event: ClassVar[str] = "response.output_item.done"
    output_index: int | None = None
    item: OutputItem | None = None


@define(frozen=True, slots=True)
class ResponseReasoningSummaryPartAdded(ResponseEvent):
    """``response.reasoning_summary_part.added``."""

    event: ClassVar[str] = "response.reasoning_summary_part.added"
    output_index: int | None = None
    item_id: str | None = None
    part: ContentPart | None = None
    summary_index: int | None = None


@define(frozen=True, slots=True)
class ResponseReasoningSummaryPartDone(ResponseEvent):
    """``response.reasoning_summary_part.done``."""

    event: ClassVar[str] = "response.reasoning_summary_part.done"
    output_index: int | None = None
    item_id: str | None = None
    part: ContentPart | None = None
    summary_index: int | None = None
    status: str | None = None


@define(frozen=True, slots=True)
class ResponseReasoningSummaryTextDelta(ResponseEvent):
    """``response.reasoning_summary_text.delta``."""

    event: ClassVar[str] = "response.reasoning_summary_text.delta"
    output_index: int | None = None
    item_id: str | None = None
    delta: str | None = None
    summary_index: int | None = None


@define(frozen=True, slots=True)
class ResponseReasoningSummaryTextDone(ResponseEvent):
    """``response.reasoning_summary_text.done``."""

    event: ClassVar[str] = "response.reasoning_summary_text.done"
    output_index: int | None = None
    item_id: str | None = None
    summary_index: int | None = None
    text: str | None = None


@define(frozen=True, slots=True)
class ResponseReasoningTextDelta(ResponseEvent):
    """``response.reasoning_text.delta``."""

    event: ClassVar[str] = "response.reasoning_text.delta"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseReasoningTextDone(ResponseEvent):
    """``response.reasoning_text.done``."""

    event: ClassVar[str] = "response.reasoning_text.done"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    text: str | None = None


@define(frozen=True, slots=True)
class ResponseRefusalDelta(ResponseEvent):
    """``response.refusal.delta``."""

    event: ClassVar[str] = "response.refusal.delta"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseRefusalDone(ResponseEvent):
    """``response.refusal.done``."""

    event: ClassVar[str] = "response.refusal.done"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    refusal: str | None = None


@define(frozen=True, slots=True)
class ResponseOutputTextDelta(ResponseEvent):
    """``response.output_text.delta``."""

    event: ClassVar[str] = "response.output_text.delta"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class ResponseOutputTextDone(ResponseEvent):
    """``response.output_text.done``."""

    event: ClassVar[str] = "response.output_text.done"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    logprobs: list[dict[str, Any]] | None = None
    text: str | None = None


@define(frozen=True, slots=True)
class ResponseWebSearchCallCompleted(ResponseEvent):
    """``response.web_search_call.completed``."""

    event: ClassVar[str] = "response.web_search_call.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseWebSearchCallInProgress(ResponseEvent):
    """``response.web_search_call.in_progress``."""

    event: ClassVar[str] = "response.web_search_call.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseWebSearchCallSearching(ResponseEvent):
    """``response.web_search_call.searching``."""

    event: ClassVar[str] = "response.web_search_call.searching"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseImageGenerationCallCompleted(ResponseEvent):
    """``response.image_generation_call.completed``."""

    event: ClassVar[str] = "response.image_generation_call.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseImageGenerationCallGenerating(ResponseEvent):
    """``response.image_generation_call.generating``."""

    event: ClassVar[str] = "response.image_generation_call.generating"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseImageGenerationCallInProgress(ResponseEvent):
    """``response.image_generation_call.in_progress``."""

    event: ClassVar[str] = "response.image_generation_call.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseImageGenerationCallPartialImage(ResponseEvent):
    """``response.image_generation_call.partial_image``."""

    event: ClassVar[str] = "response.image_generation_call.partial_image"
    output_index: int | None = None
    item_id: str | None = None
    partial_image_b64: str | None = None
    partial_image_index: int | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpCallArgumentsDelta(ResponseEvent):
    """``response.mcp_call_arguments.delta``."""

    event: ClassVar[str] = "response.mcp_call_arguments.delta"
    output_index: int | None = None
    item_id: str | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpCallArgumentsDone(ResponseEvent):
    """``response.mcp_call_arguments.done``."""

    event: ClassVar[str] = "response.mcp_call_arguments.done"
    output_index: int | None = None
    item_id: str | None = None
    arguments: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpCallCompleted(ResponseEvent):
    """``response.mcp_call.completed``."""

    event: ClassVar[str] = "response.mcp_call.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpCallFailed(ResponseEvent):
    """``response.mcp_call.failed``."""

    event: ClassVar[str] = "response.mcp_call.failed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpCallInProgress(ResponseEvent):
    """``response.mcp_call.in_progress``."""

    event: ClassVar[str] = "response.mcp_call.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpListToolsCompleted(ResponseEvent):
    """``response.mcp_list_tools.completed``."""

    event: ClassVar[str] = "response.mcp_list_tools.completed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpListToolsFailed(ResponseEvent):
    """``response.mcp_list_tools.failed``."""

    event: ClassVar[str] = "response.mcp_list_tools.failed"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseMcpListToolsInProgress(ResponseEvent):
    """``response.mcp_list_tools.in_progress``."""

    event: ClassVar[str] = "response.mcp_list_tools.in_progress"
    output_index: int | None = None
    item_id: str | None = None


@define(frozen=True, slots=True)
class ResponseOutputTextAnnotationAdded(ResponseEvent):
    """``response.output_text.annotation.added``."""

    event: ClassVar[str] = "response.output_text.annotation.added"
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    annotation: dict[str, Any] | None = None
    annotation_index: int | None = None


@define(frozen=True, slots=True)
class ResponseQueued(ResponseEvent):
    """``response.queued``."""

    event: ClassVar[str] = "response.queued"
    response: ResponseObject | None = None


@define(frozen=True, slots=True)
class ResponseCustomToolCallInputDelta(ResponseEvent):
    """``response.custom_tool_call_input.delta``."""

    event: ClassVar[str] = "response.custom_tool_call_input.delta"
    output_index: int | None = None
    item_id: str | None = None
    delta: str | None = None


@define(frozen=True, slots=True)
class ResponseCustomToolCallInputDone(ResponseEvent):
    """``response.custom_tool_call_input.done``."""

    event: ClassVar[str] = "response.custom_tool_call_input.done"
    output_index: int | None = None
    item_id: str | None = None
    input: str | None = None


#: Event type -> class, for every event type of the Responses API stream.
EVENTS: dict[str, type[ResponseEvent]] = {cls.event: cls for cls in ResponseEvent.__subclasses__()}
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
    terminal: bool = False
    error: StreamAPIError | None = None
    last: ResponseEvent | UnknownEvent | None = None
    text: list[str] = field(factory=list)
    calls: dict[str, dict[str, Any]] = field(factory=dict)

    def accept(self, raw: sse.Event) -> ResponseEvent | UnknownEvent:
        """Decode one SSE event and fold it into the snapshots."""
        name = raw.event
        try:
            payload = json.loads(raw.data)
        except ValueError as exc:
            if name not in EVENTS and name != "message":
                return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index))
            raise DecodeError(name, self.index, raw.data, f"invalid JSON ({exc})") from None
        if name == "message" and isinstance(payload, dict) and isinstance(payload.get("type"), str):
            name = payload["type"]  # a server that sends no `event:` lines
        cls = EVENTS.get(name)
        if cls is None:
            return self._keep(UnknownEvent(raw.data, raw=raw, index=self.index))
        try:
            event = build(cls, payload, "data", raw=raw, index=self.index)
        except ShapeError as exc:
            raise DecodeError(name, self.index, raw.data, f"unexpected shape at {exc}") from None
        self._fold(event)
        return self._keep(event)

    def _keep(self, event: ResponseEvent | UnknownEvent) -> ResponseEvent | UnknownEvent:
        self.index += 1
        self.last = event
        return event

    def _fold(self, event: ResponseEvent) -> None:
        if isinstance(event, ResponseOutputTextDelta) and event.delta:
            self.text.append(event.delta)
        elif isinstance(event, (ResponseOutputItemAdded, ResponseOutputItemDone)):
            item = event.item
            if item is not None and item.type == "function_call" and item.id:
                call = self.calls.setdefault(item.id, {"call_id": None, "name": None, "arguments": []})
                call["call_id"] = item.call_id or call["call_id"]
                call["name"] = item.name or call["name"]
                if isinstance(event, ResponseOutputItemDone) and item.arguments is not None:
                    call["arguments"] = [item.arguments]
        elif isinstance(event, ResponseFunctionCallArgumentsDelta) and event.item_id and event.delta:
            call = self.calls.setdefault(event.item_id, {"call_id": None, "name": None, "arguments": []})
            call["arguments"].append(event.delta)
        elif (
            isinstance(event, ResponseFunctionCallArgumentsDone)
            and event.item_id
            and event.arguments is not None
        ):
            call = self.calls.setdefault(event.item_id, {"call_id": None, "name": None, "arguments": []})
            call["arguments"] = [event.arguments]
        elif isinstance(event, ResponseErrorEvent):
            self.error = StreamAPIError(event.code, event.message, index=event.index)
        if event.event in _LIFECYCLE:
            self.response = getattr(event, "response", None) or self.response
            self.terminal = self.terminal or event.event in _TERMINAL

    def finished(self) -> bool:
        """True once the response completed, failed or ended incomplete."""
        return self.terminal

    def failure(self) -> StreamError | None:
        """The error of an ``error`` event, if one arrived."""
        return self.error

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

    def output_text_delta(self) -> tuple[str, bool]:
        """The text of the current event if it is ``response.output_text.delta``."""
        event = self._current
        if isinstance(event, ResponseOutputTextDelta) and event.delta:
            return event.delta, True
        return "", False

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
        return [
            FunctionCallSnapshot(item_id, call["call_id"], call["name"], "".join(call["arguments"]))
            for item_id, call in self._protocol.calls.items()
        ]

    def text(self) -> str:
        """All output text so far."""
        return "".join(self._protocol.text)


class ResponseStream(_ResponseUnwrappers, TypedStream[ResponseEvent | UnknownEvent]):
    """A scanner of typed Responses API events over any iterable of bytes; its text is the output text."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        on_close: Callable[[], object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._protocol = ResponseProtocol()
        super().__init__(chunks, self._protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls, chunks: Iterable[bytes], *, on_close: Callable[[], object] | None = None
    ) -> ResponseStream:
        """A response stream over any iterable of bytes."""
        return cls(chunks, on_close=on_close)

    def _text_delta(self) -> tuple[str, bool]:
        return self.output_text_delta()


class AsyncResponseStream(_ResponseUnwrappers, AsyncTypedStream[ResponseEvent | UnknownEvent]):
    """The async twin of :class:`ResponseStream`."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        *,
        on_close: Callable[[], Awaitable[object] | object] | None = None,
        max_event_size: int = sse.DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._protocol = ResponseProtocol()
        super().__init__(chunks, self._protocol, on_close=on_close, max_event_size=max_event_size)

    @classmethod
    def from_chunks(
        cls, chunks: AsyncIterable[bytes], *, on_close: Callable[[], Awaitable[object] | object] | None = None
    ) -> AsyncResponseStream:
        """A response stream over any async iterable of bytes."""
        return cls(chunks, on_close=on_close)

    def _text_delta(self) -> tuple[str, bool]:
        return self.output_text_delta()
