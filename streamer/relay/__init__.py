"""Relay upstream streams to browsers as SSE, resumable with ``Last-Event-ID``, on memory or Redis.

``relay_response(stream_id, make_stream)`` (or ``Relay(store).response(...)``) is an ASGI response
for Starlette, FastAPI or a bare ASGI server. The upstream runs once per ``stream_id``; every event
carries an ``id``; a request with ``Last-Event-ID`` gets exactly the events after it, from any relay
process sharing the store. ``RedisStore`` is imported from ``streamer.relay.redis_store`` (it needs
``streamer[redis]``).
"""

from __future__ import annotations

from .encode import Encoder, error_data, json_events, text_deltas
from .fanout import Hub, Subscriber
from .response import Relay, RelayResponse, relay_response
from .store import Entry, MemoryStore, Store
from .upstream import MakeStream, Upstream

__all__ = [
    "Encoder",
    "Entry",
    "Hub",
    "MakeStream",
    "MemoryStore",
    "Relay",
    "RelayResponse",
    "Store",
    "Subscriber",
    "Upstream",
    "error_data",
    "json_events",
    "relay_response",
    "text_deltas",
]
