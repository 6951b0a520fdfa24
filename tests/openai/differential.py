"""Helpers of the hot-path differential tests: what accepting an event or reading a helper gives."""

from __future__ import annotations

from typing import Any

from streamer import sse
from streamer.errors import DecodeError
from streamer.openai._core import _SHAPE_FAULTS, _decode_error


def outcome(protocol: Any, raw: sse.Event) -> Any:
    """What accepting ``raw`` gives: the event, or the DecodeError the core would raise."""
    try:
        return protocol.accept(raw)
    except _SHAPE_FAULTS as exc:
        return _decode_error(protocol, raw, exc)
    except DecodeError as exc:
        return exc


def result(read: Any) -> Any:
    """What ``read()`` gives, or its exception's type and message (a snapshot may be unreadable)."""
    try:
        return read()
    except Exception as exc:
        return type(exc), str(exc)
