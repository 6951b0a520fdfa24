"""The Responses API stream events: one typed class per event type, and ``EVENTS`` to find them.

Every event is a flat object with a ``type`` (also its SSE event name) and a ``sequence_number``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import define, field

from ... import sse
from .._build import Model

__all__ = [
    "EVENTS",
    "ContentPart",
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
    "ResponseError",
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
    #: A string for function calls; other item kinds (tool search, ...) send an object.
    arguments: Any = None
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
class ResponseError(Model):
    """The error object an ``error`` event nests under ``error`` (real servers send this shape)."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


@define(frozen=True, slots=True)
class ResponseErrorEvent(ResponseEvent):
    """``error``: its fields flat, or nested under ``error`` (see :class:`ResponseError`)."""

    event: ClassVar[str] = "error"
    code: str | None = None
    message: str | None = None
    param: str | None = None
    error: ResponseError | None = None


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
    delta: dict[str, Any] | None = None


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
