"""streamer: consume live streams (OpenAI SSE, SwimOS WARP) with Go-style scanners and readers.

The public names are imported lazily (PEP 562): ``import streamer`` and ``import streamer.sse`` load
neither httpx nor anyio nor the OpenAI models; ``streamer.ChatStream`` (or ``from streamer import
ChatStream``) imports its module on first use.
"""

# ruff: noqa: F405  (__all__ names the errors that the star import brings)

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import *  # noqa: F403  (errors.py imports nothing: every error is available at once)

if TYPE_CHECKING:
    from .openai.assistants import AsyncRunStream, RunStream
    from .openai.chat import AsyncChatStream, ChatStream
    from .openai.client import AsyncClient, Client, Resume, RetryPolicy, Timeouts
    from .openai.responses import AsyncResponseStream, ResponseStream
    from .reader import TextReader
    from .scanner import AsyncScanner, Scanner

# Each lazy public name and the module that defines it (imported on first access).
_LAZY = {
    "AsyncChatStream": "streamer.openai",
    "AsyncClient": "streamer.openai",
    "AsyncResponseStream": "streamer.openai",
    "AsyncRunStream": "streamer.openai",
    "AsyncScanner": "streamer.scanner",
    "ChatStream": "streamer.openai",
    "Client": "streamer.openai",
    "ResponseStream": "streamer.openai",
    "Resume": "streamer.openai",
    "RetryPolicy": "streamer.openai",
    "RunStream": "streamer.openai",
    "Scanner": "streamer.scanner",
    "TextReader": "streamer.reader",
    "Timeouts": "streamer.openai",
}

__all__ = [
    "APIError",
    "APIStatusError",
    "AsyncChatStream",
    "AsyncClient",
    "AsyncResponseStream",
    "AsyncRunStream",
    "AsyncScanner",
    "AuthenticationError",
    "BadRequestError",
    "BufferOverflow",
    "CallbackError",
    "ChatStream",
    "Client",
    "ConflictError",
    "ConnectionLost",
    "DecodeError",
    "Disconnected",
    "EventTooLarge",
    "GenerationFailed",
    "InternalServerError",
    "LinkFailed",
    "MissingAPIKey",
    "ModelNotConfigured",
    "NoCurrentEvent",
    "NotFoundError",
    "OperatorConfigError",
    "OperatorError",
    "OperatorFailed",
    "OperatorRejected",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ReconError",
    "RelayCancelled",
    "RelayError",
    "ResponseStream",
    "Resume",
    "ResumeTooOld",
    "RetryPolicy",
    "RunStream",
    "Scanner",
    "StreamAPIError",
    "StreamError",
    "StreamReadError",
    "StreamTimeout",
    "SyncTimeout",
    "TextReader",
    "Timeouts",
    "ToolOutputsNotExpected",
    "TransportError",
    "UnexpectedEOF",
    "UnexpectedResponse",
    "UnprocessableEntityError",
    "UsageError",
    "WarpProtocolError",
    "__version__",
]


# Subpackages reachable as attributes (``streamer.openai.RunStream``) without an import of their own.
_SUBMODULES = frozenset({"errors", "openai", "reader", "scanner", "sse", "swim", "testing"})


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"streamer.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streamer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy public ones included."""
    return sorted({*globals(), *_LAZY})
