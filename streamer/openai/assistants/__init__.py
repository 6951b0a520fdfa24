"""Assistants v2 run streams: the data objects, one typed class per event, and ``RunStream``."""

from __future__ import annotations

from .events import *  # noqa: F403
from .events import __all__ as _events_all
from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .snapshots import Snapshots
from .stream import AsyncRunStream, RunProtocol, RunState, RunStream

__all__ = ["AsyncRunStream", "RunProtocol", "RunState", "RunStream", "Snapshots", *_events_all, *_models_all]
