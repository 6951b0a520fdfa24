"""How a stream that ended cleanly ended: a complete answer, or failed, incomplete, waiting, refused.

Pure: it reads only the scanners' public snapshots (``final_run()``, ``final_messages()``,
``message()``, ``final_response()``, ``function_calls()``) and returns the exit code and the one line
the command prints on stderr. The exit codes are the command's contract (README, ``--help``).
"""

from __future__ import annotations

from typing import Any

from attrs import define

from ..openai import ChatStream, ResponseStream, RunStream
from ..openai.assistants.models import RefusalContentBlock, RefusalDeltaBlock, Run
from .display import escape

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TOOL_CALL",
    "EXIT_USAGE",
    "Outcome",
    "outcome",
    "refusal_delta",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_INCOMPLETE = 4
EXIT_TOOL_CALL = 5
EXIT_REFUSED = 6
EXIT_INTERRUPTED = 130

#: Every exit code of ``streamer text``/``cat``/``run``/``chat``, and what it means.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "a complete answer",
    EXIT_ERROR: "the stream broke: cut short, not SSE, malformed, an error event, an HTTP or network error",
    EXIT_USAGE: "a wrong option or argument",
    EXIT_FAILED: "the run or response failed (or was cancelled or expired)",
    EXIT_INCOMPLETE: "the answer is incomplete: cut at the token limit (finish_reason 'length') or filtered",
    EXIT_TOOL_CALL: "the model asks for a tool call (requires_action, finish_reason 'tool_calls')",
    EXIT_REFUSED: "the model refused (the refusal is printed on stderr)",
    EXIT_INTERRUPTED: "interrupted (Ctrl+C)",
}

AnyStream = RunStream | ChatStream | ResponseStream


@define(frozen=True, slots=True)
class Outcome:
    """An exit code and the one stderr line that explains it (empty for a complete answer)."""

    code: int
    line: str = ""


_OK = Outcome(EXIT_OK)


def refusal_delta(stream: AnyStream) -> str:
    """The refusal text the current event adds, whatever the kind of stream ('' if none)."""
    if isinstance(stream, (ChatStream, ResponseStream)):
        text, ok = stream.refusal_delta()
        return text if ok else ""
    delta, ok = stream.message_delta()
    if not ok or delta is None or delta.delta is None:
        return ""
    return "".join(
        block.refusal or "" for block in delta.delta.content or () if isinstance(block, RefusalDeltaBlock)
    )


def outcome(stream: AnyStream, refusal: str = "") -> Outcome:
    """How a stream that ended without error ended; ``refusal`` is the refusal text seen on the way."""
    if isinstance(stream, ChatStream):
        found = _chat(stream)
    elif isinstance(stream, ResponseStream):
        found = _response(stream)
    else:
        found = _run(stream)
    if found is not None:
        return found
    refusal = refusal or _snapshot_refusal(stream)
    if refusal:
        return Outcome(EXIT_REFUSED, f"refusal: {escape(refusal, 2000)}")
    return _OK


def _line(kind: str, what: str, *details: Any) -> str:
    said = ": ".join(escape(str(d), 500) for d in details if d)
    return f"{kind}: {what}" + (f": {said}" if said else "")


def _run(stream: RunStream) -> Outcome | None:
    run = stream.final_run()
    if run is not None:
        error = run.last_error
        code, message = (error.code, error.message) if error else (None, None)
        name = f"run {run.id}" if run.id else "the run"
        if run.status == "failed":
            return Outcome(EXIT_FAILED, _line("failed", f"{name} failed", code, message))
        if run.status in ("cancelled", "expired"):
            return Outcome(EXIT_FAILED, _line("failed", f"{name} {run.status}", code, message))
        if run.status == "incomplete":
            reason = run.incomplete_details.reason if run.incomplete_details else None
            return Outcome(EXIT_INCOMPLETE, _line("incomplete", f"{name} ended incomplete", reason))
        if run.status == "requires_action":
            return Outcome(EXIT_TOOL_CALL, _line("needs a tool call", f"{name} waits for", _run_calls(run)))
    for item in [*stream.final_messages(), stream.current_message()]:
        if item is not None and item.status == "incomplete":
            reason = item.incomplete_details.reason if item.incomplete_details else None
            what = f"message {item.id} is incomplete" if item.id else "a message is incomplete"
            return Outcome(EXIT_INCOMPLETE, _line("incomplete", what, reason))
    return None


def _run_calls(run: Run) -> str:
    action = run.required_action
    calls = action.submit_tool_outputs.tool_calls if action and action.submit_tool_outputs else None
    names = [
        f"{call.function.name}({call.function.arguments or ''})" if call.function else str(call.id)
        for call in calls or ()
    ]
    return ", ".join(names) or "tool outputs"


def _chat(stream: ChatStream) -> Outcome | None:
    message = stream.message(0)
    reason = message.finish_reason if message else None
    if reason == "length":
        return Outcome(
            EXIT_INCOMPLETE,
            "incomplete: the answer was cut at the token limit (finish_reason 'length')",
        )
    if reason == "content_filter":
        return Outcome(
            EXIT_INCOMPLETE,
            "incomplete: the answer was withheld by the content filter (finish_reason 'content_filter')",
        )
    if reason in ("tool_calls", "function_call") and message is not None:
        calls = ", ".join(f"{call.name}({call.arguments})" for call in message.tool_calls)
        return Outcome(
            EXIT_TOOL_CALL,
            _line("needs a tool call", f"finish_reason {reason!r}", calls or "a tool call"),
        )
    return None


def _response(stream: ResponseStream) -> Outcome | None:
    response = stream.final_response()
    if response is None:
        return None
    name = f"response {response.id}" if response.id else "the response"
    if response.status in ("failed", "cancelled"):
        error = response.error or {}
        return Outcome(
            EXIT_FAILED, _line("failed", f"{name} {response.status}", error.get("code"), error.get("message"))
        )
    if response.status == "incomplete":
        details = response.incomplete_details or {}
        return Outcome(
            EXIT_INCOMPLETE, _line("incomplete", f"{name} ended incomplete", details.get("reason"))
        )
    calls = stream.function_calls()
    if calls:
        names = ", ".join(f"{call.name}({call.arguments})" for call in calls)
        return Outcome(EXIT_TOOL_CALL, _line("needs a tool call", f"{name} asks for", names))
    return None


def _snapshot_refusal(stream: AnyStream) -> str:
    if isinstance(stream, ChatStream):
        message = stream.message(0)
        return message.refusal if message else ""
    if isinstance(stream, ResponseStream):
        response = stream.final_response()
        return "".join(
            part.refusal or ""
            for item in (response.output or () if response else ())
            for part in item.content or ()
            if part.type == "refusal"
        )
    return "".join(
        block.refusal or ""
        for message in stream.final_messages()
        for block in message.content or ()
        if isinstance(block, RefusalContentBlock)
    )
