"""streamer: consume live streams (OpenAI SSE, SwimOS WARP) with Go-style scanners and readers."""

from __future__ import annotations

from .errors import (
    DecodeError,
    EventTooLarge,
    NoCurrentEvent,
    StreamAPIError,
    StreamError,
    StreamReadError,
    ToolOutputsNotExpected,
    UnexpectedEOF,
)
from .openai.stream import AsyncRunStream, RunStream
from .reader import TextReader
from .scanner import AsyncScanner, Scanner

__version__ = "0.1.0"

__all__ = [
    "AsyncRunStream",
    "AsyncScanner",
    "DecodeError",
    "EventTooLarge",
    "NoCurrentEvent",
    "RunStream",
    "Scanner",
    "StreamAPIError",
    "StreamError",
    "StreamReadError",
    "TextReader",
    "ToolOutputsNotExpected",
    "UnexpectedEOF",
    "__version__",
]
