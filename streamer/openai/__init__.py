"""The OpenAI wire: typed Assistants v2 events, run streams, and their data objects."""

from __future__ import annotations

from . import chat, responses
from .chat import AsyncChatStream, ChatStream
from .client import AsyncClient, Client, RetryPolicy, Timeouts, from_openai_response
from .events import *  # noqa: F403
from .events import __all__ as _events_all
from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .responses import AsyncResponseStream, ResponseStream
from .stream import AsyncRunStream, RunState, RunStream

__all__ = [
    "AsyncChatStream",
    "AsyncResponseStream",
    "ChatStream",
    "ResponseStream",
    "chat",
    "responses",
    "AsyncClient",
    "AsyncRunStream",
    "Client",
    "RetryPolicy",
    "RunState",
    "RunStream",
    "Timeouts",
    "from_openai_response",
    *_events_all,
    *_models_all,
]
