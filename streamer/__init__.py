"""streamer: consume live streams (OpenAI SSE, SwimOS WARP) with Go-style scanners and readers."""

from __future__ import annotations

from .errors import EventTooLarge, NoCurrentEvent, StreamError, UnexpectedEOF
from .scanner import AsyncScanner, Scanner

__version__ = "0.1.0"

__all__ = [
    "AsyncScanner",
    "EventTooLarge",
    "NoCurrentEvent",
    "Scanner",
    "StreamError",
    "UnexpectedEOF",
    "__version__",
]
