"""What a relay sends for each upstream event, and for the end of the stream.

An encoder is called after each successful ``next()`` of the upstream scanner with the scanner
itself, and returns ``(event_type, data)`` to relay or None to skip the event. The stream then ends
with one final event: ``done`` (data ``[DONE]``) or ``error`` (data: JSON ``{"type", "message"}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import StreamError

__all__ = ["Encoder", "error_data", "json_events", "text_deltas"]

#: Turns the upstream scanner's current event into ``(event_type, data)``, or None to skip it.
Encoder = Callable[[Any], "tuple[str, str] | None"]

_TEXT_DELTA_METHODS = ("message_delta_text", "content_delta", "output_text_delta")


def text_deltas(stream: Any) -> tuple[str, str] | None:
    """The default: a model's text deltas as ``delta`` events (JSON strings); other events as JSON."""
    for name in _TEXT_DELTA_METHODS:
        method = getattr(stream, name, None)
        if method is not None:
            text, ok = method()
            return ("delta", json.dumps(text, ensure_ascii=False)) if ok else None
    return json_events(stream)


def json_events(stream: Any) -> tuple[str, str] | None:
    """Every event as a ``message`` whose data is the event as JSON (attrs classes as objects)."""
    return (
        "message",
        json.dumps(_plain(stream.event()), default=repr, ensure_ascii=False, separators=(",", ":")),
    )


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=True)
    return value


def error_data(error: BaseException) -> str:
    """The data of the final ``error`` event: the typed error's class name and message, as JSON.

    Only a ``StreamError``'s own message is sent to the browser; any other exception is named by its
    class only (its text may hold server details), and the relay logs it.
    """
    if isinstance(error, StreamError):
        message = str(error)
    else:
        message = f"the upstream failed ({type(error).__name__}); the server log has the details"
    return json.dumps({"type": type(error).__name__, "message": message})
