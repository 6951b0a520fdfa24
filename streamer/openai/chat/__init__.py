"""Chat Completions streams: chunk models and the ``ChatStream`` scanner."""

from __future__ import annotations

from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .stream import AsyncChatStream, ChatProtocol, ChatStream

__all__ = ["AsyncChatStream", "ChatProtocol", "ChatStream", *_models_all]
