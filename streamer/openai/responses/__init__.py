"""Responses API streams: one typed class per event, and the ``ResponseStream`` scanner."""

from __future__ import annotations

from .events import *  # noqa: F403
from .events import __all__ as _events_all
from .stream import AsyncResponseStream, FunctionCallSnapshot, ResponseProtocol, ResponseStream

__all__ = ["AsyncResponseStream", "FunctionCallSnapshot", "ResponseProtocol", "ResponseStream", *_events_all]
