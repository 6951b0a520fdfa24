"""streamer: consume live streams (OpenAI SSE, SwimOS WARP) with Go-style scanners and readers."""

from __future__ import annotations

from ._version import __version__
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
