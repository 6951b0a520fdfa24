"""The data objects of the OpenAI Assistants v2 stream, as the API reference defines them.

Every field is optional (None when the server left it out), unknown fields are kept in ``extra``,
and members of a union (content blocks, tool calls, outputs, annotations) whose ``type`` this
version does not know stay plain dicts. ``to_dict()`` gives back the JSON object.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import define

from .._build import Model

__all__ = [
    "CodeInterpreter",
    "CodeInterpreterDelta",
    "CodeInterpreterImage",
    "CodeInterpreterImageDelta",
    "CodeInterpreterLogs",
    "CodeInterpreterLogsDelta",
    "CodeInterpreterToolCall",
    "CodeInterpreterToolCallDelta",
    "ContentBlock",
    "ContentDeltaBlock",
    "ErrorObject",
    "FileCitation",
    "FileCitationAnnotation",
    "FileCitationDeltaAnnotation",
    "FilePath",
    "FilePathAnnotation",
    "FilePathDeltaAnnotation",
    "FileSearchToolCall",
    "FileSearchToolCallDelta",
    "FunctionCall",
    "FunctionToolCall",
    "FunctionToolCallDelta",
    "ImageFile",
    "ImageFileContentBlock",
    "ImageFileDeltaBlock",
    "ImageRef",
    "ImageURL",
    "ImageURLContentBlock",
    "ImageURLDeltaBlock",
    "IncompleteDetails",
    "LastError",
    "Message",
    "MessageCreation",
    "MessageCreationStepDetails",
    "MessageDelta",
    "MessageDeltaEvent",
    "RefusalContentBlock",
    "RefusalDeltaBlock",
    "RequiredAction",
    "RequiredActionFunctionToolCall",
    "Run",
    "RunStep",
    "RunStepDelta",
    "RunStepDeltaEvent",
    "SubmitToolOutputs",
    "Text",
    "TextContentBlock",
    "TextDelta",
    "TextDeltaBlock",
    "Thread",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallsStepDetails",
    "ToolCallsStepDetailsDelta",
    "Usage",
]


# --- shared pieces ---------------------------------------------------------------------------


@define(frozen=True, slots=True)
class Usage(Model):
    """Token usage of a run or run step."""

    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    total_tokens: int | None = None


@define(frozen=True, slots=True)
class LastError(Model):
    """Why a run or run step failed."""

    code: str | None = None
    message: str | None = None


@define(frozen=True, slots=True)
class IncompleteDetails(Model):
    """Why a run or message is incomplete."""

    reason: str | None = None


@define(frozen=True, slots=True)
class ErrorObject(Model):
    """The payload of an ``error`` event."""

    code: str | None = None
    message: str | None = None
    param: str | None = None
    type: str | None = None


# --- thread ----------------------------------------------------------------------------------


@define(frozen=True, slots=True)
class Thread(Model):
    """A conversation thread."""

    id: str | None = None
    object: str | None = None
    created_at: int | None = None
    metadata: dict[str, Any] | None = None
    tool_resources: dict[str, Any] | None = None


# --- run -------------------------------------------------------------------------------------


@define(frozen=True, slots=True)
class FunctionCall(Model):
    """A function the model wants called: its name and JSON arguments (and output, in run steps)."""

    name: str | None = None
    arguments: str | None = None
    output: str | None = None


@define(frozen=True, slots=True)
class RequiredActionFunctionToolCall(Model):
    """A tool call the caller must answer with ``submit_tool_outputs``."""

    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


@define(frozen=True, slots=True)
class SubmitToolOutputs(Model):
    """The tool calls awaiting outputs."""

    tool_calls: list[RequiredActionFunctionToolCall] | None = None


@define(frozen=True, slots=True)
class RequiredAction(Model):
    """What a run needs before it can continue."""

    type: str | None = None
    submit_tool_outputs: SubmitToolOutputs | None = None


@define(frozen=True, slots=True)
class Run(Model):
    """An execution of an assistant on a thread."""

    id: str | None = None
    object: str | None = None
    created_at: int | None = None
    thread_id: str | None = None
    assistant_id: str | None = None
    status: str | None = None
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    expires_at: int | None = None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: IncompleteDetails | None = None
    model: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    usage: Usage | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: dict[str, Any] | None = None
    response_format: Any = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None


# --- run steps -------------------------------------------------------------------------------


@define(frozen=True, slots=True)
class MessageCreation(Model):
    """The message a message-creation step made."""

    message_id: str | None = None


@define(frozen=True, slots=True)
class MessageCreationStepDetails(Model):
    """Details of a step that created a message."""

    KIND: ClassVar[str | None] = "message_creation"
    type: str | None = None
    message_creation: MessageCreation | None = None


@define(frozen=True, slots=True)
class CodeInterpreterLogs(Model):
    """Text output of a code interpreter call."""

    KIND: ClassVar[str | None] = "logs"
    type: str | None = None
    logs: str | None = None


@define(frozen=True, slots=True)
class ImageRef(Model):
    """A reference to an image file."""

    file_id: str | None = None


@define(frozen=True, slots=True)
class CodeInterpreterImage(Model):
    """Image output of a code interpreter call."""

    KIND: ClassVar[str | None] = "image"
    type: str | None = None
    image: ImageRef | None = None


@define(frozen=True, slots=True)
class CodeInterpreter(Model):
    """The code a code interpreter call ran, and its outputs."""

    input: str | None = None
    outputs: list[CodeInterpreterLogs | CodeInterpreterImage | dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class CodeInterpreterToolCall(Model):
    """A code interpreter tool call."""

    KIND: ClassVar[str | None] = "code_interpreter"
    id: str | None = None
    type: str | None = None
    code_interpreter: CodeInterpreter | None = None


@define(frozen=True, slots=True)
class FileSearchToolCall(Model):
    """A file search tool call (its ``file_search`` object is kept as the API sends it)."""

    KIND: ClassVar[str | None] = "file_search"
    id: str | None = None
    type: str | None = None
    file_search: dict[str, Any] | None = None


@define(frozen=True, slots=True)
class FunctionToolCall(Model):
    """A function tool call, with its output once submitted."""

    KIND: ClassVar[str | None] = "function"
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


@define(frozen=True, slots=True)
class ToolCallsStepDetails(Model):
    """Details of a step that called tools."""

    KIND: ClassVar[str | None] = "tool_calls"
    type: str | None = None
    tool_calls: list[ToolCall] | None = None


@define(frozen=True, slots=True)
class RunStep(Model):
    """One step of a run: creating a message or calling tools."""

    id: str | None = None
    object: str | None = None
    created_at: int | None = None
    assistant_id: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    type: str | None = None
    status: str | None = None
    step_details: MessageCreationStepDetails | ToolCallsStepDetails | dict[str, Any] | None = None
    last_error: LastError | None = None
    expired_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    metadata: dict[str, Any] | None = None
    usage: Usage | None = None


@define(frozen=True, slots=True)
class CodeInterpreterLogsDelta(Model):
    """A piece of code interpreter text output."""

    KIND: ClassVar[str | None] = "logs"
    index: int | None = None
    type: str | None = None
    logs: str | None = None


@define(frozen=True, slots=True)
class CodeInterpreterImageDelta(Model):
    """A code interpreter image output, as it arrives in a delta."""

    KIND: ClassVar[str | None] = "image"
    index: int | None = None
    type: str | None = None
    image: ImageRef | None = None


@define(frozen=True, slots=True)
class CodeInterpreterDelta(Model):
    """A piece of a code interpreter call: more input, or outputs."""

    input: str | None = None
    outputs: list[CodeInterpreterLogsDelta | CodeInterpreterImageDelta | dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class CodeInterpreterToolCallDelta(Model):
    """A piece of a code interpreter tool call."""

    KIND: ClassVar[str | None] = "code_interpreter"
    index: int | None = None
    id: str | None = None
    type: str | None = None
    code_interpreter: CodeInterpreterDelta | None = None


@define(frozen=True, slots=True)
class FileSearchToolCallDelta(Model):
    """A piece of a file search tool call."""

    KIND: ClassVar[str | None] = "file_search"
    index: int | None = None
    id: str | None = None
    type: str | None = None
    file_search: dict[str, Any] | None = None


@define(frozen=True, slots=True)
class FunctionToolCallDelta(Model):
    """A piece of a function tool call: the name, then its arguments a few characters at a time."""

    KIND: ClassVar[str | None] = "function"
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


@define(frozen=True, slots=True)
class ToolCallsStepDetailsDelta(Model):
    """The tool calls part of a run step delta."""

    KIND: ClassVar[str | None] = "tool_calls"
    type: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


@define(frozen=True, slots=True)
class RunStepDelta(Model):
    """What changed in a run step."""

    step_details: MessageCreationStepDetails | ToolCallsStepDetailsDelta | dict[str, Any] | None = None


@define(frozen=True, slots=True)
class RunStepDeltaEvent(Model):
    """The payload of ``thread.run.step.delta``."""

    id: str | None = None
    object: str | None = None
    delta: RunStepDelta | None = None


# --- messages --------------------------------------------------------------------------------


@define(frozen=True, slots=True)
class FileCitation(Model):
    """The file a citation points at."""

    file_id: str | None = None
    quote: str | None = None


@define(frozen=True, slots=True)
class FilePath(Model):
    """The file a path annotation points at."""

    file_id: str | None = None


@define(frozen=True, slots=True)
class FileCitationAnnotation(Model):
    """A citation of a file in message text."""

    KIND: ClassVar[str | None] = "file_citation"
    type: str | None = None
    text: str | None = None
    file_citation: FileCitation | None = None
    start_index: int | None = None
    end_index: int | None = None


@define(frozen=True, slots=True)
class FilePathAnnotation(Model):
    """A path to a file the assistant produced, in message text."""

    KIND: ClassVar[str | None] = "file_path"
    type: str | None = None
    text: str | None = None
    file_path: FilePath | None = None
    start_index: int | None = None
    end_index: int | None = None


@define(frozen=True, slots=True)
class Text(Model):
    """Message text with its annotations."""

    value: str | None = None
    annotations: list[FileCitationAnnotation | FilePathAnnotation | dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class TextContentBlock(Model):
    """A text content block."""

    KIND: ClassVar[str | None] = "text"
    type: str | None = None
    text: Text | None = None


@define(frozen=True, slots=True)
class ImageFile(Model):
    """An image file in a message."""

    file_id: str | None = None
    detail: str | None = None


@define(frozen=True, slots=True)
class ImageURL(Model):
    """An image URL in a message."""

    url: str | None = None
    detail: str | None = None


@define(frozen=True, slots=True)
class ImageFileContentBlock(Model):
    """An image file content block."""

    KIND: ClassVar[str | None] = "image_file"
    type: str | None = None
    image_file: ImageFile | None = None


@define(frozen=True, slots=True)
class ImageURLContentBlock(Model):
    """An image URL content block."""

    KIND: ClassVar[str | None] = "image_url"
    type: str | None = None
    image_url: ImageURL | None = None


@define(frozen=True, slots=True)
class RefusalContentBlock(Model):
    """A refusal content block."""

    KIND: ClassVar[str | None] = "refusal"
    type: str | None = None
    refusal: str | None = None


@define(frozen=True, slots=True)
class Message(Model):
    """A message in a thread."""

    id: str | None = None
    object: str | None = None
    created_at: int | None = None
    thread_id: str | None = None
    status: str | None = None
    incomplete_details: IncompleteDetails | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: str | None = None
    content: list[ContentBlock] | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None

    def text(self) -> str:
        """The message's text: the values of its text blocks, concatenated."""
        return "".join(
            block.text.value or ""
            for block in self.content or ()
            if isinstance(block, TextContentBlock) and block.text is not None
        )


@define(frozen=True, slots=True)
class FileCitationDeltaAnnotation(Model):
    """A file citation, as it arrives in a delta."""

    KIND: ClassVar[str | None] = "file_citation"
    index: int | None = None
    type: str | None = None
    text: str | None = None
    file_citation: FileCitation | None = None
    start_index: int | None = None
    end_index: int | None = None


@define(frozen=True, slots=True)
class FilePathDeltaAnnotation(Model):
    """A file path annotation, as it arrives in a delta."""

    KIND: ClassVar[str | None] = "file_path"
    index: int | None = None
    type: str | None = None
    text: str | None = None
    file_path: FilePath | None = None
    start_index: int | None = None
    end_index: int | None = None


@define(frozen=True, slots=True)
class TextDelta(Model):
    """A piece of message text."""

    value: str | None = None
    annotations: list[FileCitationDeltaAnnotation | FilePathDeltaAnnotation | dict[str, Any]] | None = None


@define(frozen=True, slots=True)
class TextDeltaBlock(Model):
    """A text content block delta."""

    KIND: ClassVar[str | None] = "text"
    index: int | None = None
    type: str | None = None
    text: TextDelta | None = None


@define(frozen=True, slots=True)
class ImageFileDeltaBlock(Model):
    """An image file content block delta."""

    KIND: ClassVar[str | None] = "image_file"
    index: int | None = None
    type: str | None = None
    image_file: ImageFile | None = None


@define(frozen=True, slots=True)
class ImageURLDeltaBlock(Model):
    """An image URL content block delta."""

    KIND: ClassVar[str | None] = "image_url"
    index: int | None = None
    type: str | None = None
    image_url: ImageURL | None = None


@define(frozen=True, slots=True)
class RefusalDeltaBlock(Model):
    """A piece of a refusal."""

    KIND: ClassVar[str | None] = "refusal"
    index: int | None = None
    type: str | None = None
    refusal: str | None = None


@define(frozen=True, slots=True)
class MessageDelta(Model):
    """What changed in a message."""

    role: str | None = None
    content: list[ContentDeltaBlock] | None = None

    def text(self) -> str:
        """The text this delta adds: its text blocks' values, concatenated."""
        return "".join(
            block.text.value or ""
            for block in self.content or ()
            if isinstance(block, TextDeltaBlock) and block.text is not None
        )


@define(frozen=True, slots=True)
class MessageDeltaEvent(Model):
    """The payload of ``thread.message.delta``."""

    id: str | None = None
    object: str | None = None
    delta: MessageDelta | None = None


#: Members of the tool call, content block and output unions; a plain dict is a kind this
#: version does not know, kept as the API sent it.
ToolCall = CodeInterpreterToolCall | FileSearchToolCall | FunctionToolCall | dict[str, Any]
ToolCallDelta = (
    CodeInterpreterToolCallDelta | FileSearchToolCallDelta | FunctionToolCallDelta | dict[str, Any]
)
ContentBlock = (
    TextContentBlock | ImageFileContentBlock | ImageURLContentBlock | RefusalContentBlock | dict[str, Any]
)
ContentDeltaBlock = (
    TextDeltaBlock | ImageFileDeltaBlock | ImageURLDeltaBlock | RefusalDeltaBlock | dict[str, Any]
)
