"""streamer: consume live streams (OpenAI SSE, SwimOS WARP) with Go-style scanners and readers."""

from __future__ import annotations

from ._version import __version__
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .openai.assistants import AsyncRunStream, RunStream
from .openai.chat import AsyncChatStream, ChatStream
from .openai.client import AsyncClient, Client, RetryPolicy, Timeouts
from .openai.responses import AsyncResponseStream, ResponseStream
from .reader import TextReader
from .scanner import AsyncScanner, Scanner

__all__ = [
    "AsyncChatStream",
    "AsyncResponseStream",
    "ChatStream",
    "ResponseStream",
    "AsyncClient",
    "AsyncRunStream",
    "Client",
    "RetryPolicy",
    "Timeouts",
    "AsyncScanner",
    "RunStream",
    "Scanner",
    "TextReader",
    "__version__",
    *_errors_all,
]
