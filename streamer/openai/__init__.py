"""The OpenAI wire: typed streams of Assistants v2 runs, Chat Completions and the Responses API.

Every kind is a scanner on one typed-stream core (``_core``), with one vocabulary:
``text_delta()``, ``text()``, ``text_reader()`` / ``text_deltas()``, and a sticky ``err()``.
"""

from __future__ import annotations

from . import assistants, chat, responses
from ._core import StreamProtocol
from .assistants import *  # noqa: F403
from .assistants import __all__ as _assistants_all
from .chat import AsyncChatStream, ChatProtocol, ChatStream
from .client import AsyncClient, Client, Resume, RetryPolicy, Timeouts, from_openai_response
from .responses import AsyncResponseStream, ResponseProtocol, ResponseStream

__all__ = [
    "AsyncChatStream",
    "AsyncClient",
    "AsyncResponseStream",
    "ChatProtocol",
    "ChatStream",
    "Client",
    "ResponseProtocol",
    "ResponseStream",
    "Resume",
    "RetryPolicy",
    "StreamProtocol",
    "Timeouts",
    "assistants",
    "chat",
    "from_openai_response",
    "responses",
    *_assistants_all,
]
