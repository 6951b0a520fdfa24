"""The store interface a relay keeps its streams in, and ``MemoryStore``, the one-process default.

A store holds, per ``stream_id``, the relayed events in order (ids 1, 2, 3, ... with no gaps; the
last one is marked ``last``), who runs the upstream (``claim``) and whether anybody still listens
(``touch`` / ``watched``). Every method is async; a store is shared by all the requests of a relay
(and, for a shared store such as ``RedisStore``, by every relay process pointed at it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .. import sse
from ._signal import Signal

__all__ = ["Entry", "MemoryStore", "Store"]


class Entry:
    """One relayed event: its id (1, 2, ...), its SSE bytes, and whether it ends the stream.

    Only the encoded form is kept (``wire``, with the ``id:`` line): it is what every subscriber
    is sent and what a store keeps, so an event costs its bytes once. ``event`` and ``data`` decode
    it on demand (as a browser would: a CR or CRLF in the data arrives as LF).
    """

    __slots__ = ("id", "last", "wire")

    def __init__(self, id: int, event: str, data: str, last: bool = False) -> None:
        self.id = id
        self.last = last
        self.wire = sse.encode(sse.Event(event, data, str(id)))

    @classmethod
    def from_wire(cls, id: int, wire: bytes, last: bool) -> Entry:
        """An entry from its stored form."""
        entry = cls.__new__(cls)
        entry.id, entry.wire, entry.last = id, wire, last
        return entry

    def _decoded(self) -> sse.Event:
        return next(iter(sse.iter_events([self.wire])))

    @property
    def event(self) -> str:
        """The SSE event type."""
        return self._decoded().event

    @property
    def data(self) -> str:
        """The SSE data, as a browser receives it."""
        return self._decoded().data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return (self.id, self.wire, self.last) == (other.id, other.wire, other.last)

    def __hash__(self) -> int:
        return hash((self.id, self.wire, self.last))

    def __repr__(self) -> str:
        return f"Entry({self.id}, {self.wire[:60]!r}{', last=True' if self.last else ''})"


@runtime_checkable
class Store(Protocol):
    """Where a relay keeps its streams; implement these seven methods to add an engine."""

    async def claim(self, stream_id: str, ttl: float) -> bool:
        """Atomically claim the right to run the upstream: True for one caller until ``ttl`` seconds pass."""
        ...

    async def exists(self, stream_id: str) -> bool:
        """True while the stream is claimed or has events (until it expires)."""
        ...

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        """Add entries, whose ids continue the stream's without a gap."""
        ...

    async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> list[Entry]:
        """Up to ``limit`` entries with id > ``after``, in order; waits up to ``timeout`` s for one."""
        ...

    async def finish(self, stream_id: str, retain: float) -> None:
        """The last entry is written: keep the stream ``retain`` more seconds, then forget it."""
        ...

    async def touch(self, stream_id: str, ttl: float) -> None:
        """Somebody listens to the stream; ``watched`` stays True for ``ttl`` seconds."""
        ...

    async def watched(self, stream_id: str) -> bool:
        """True if ``touch`` was called within its ``ttl``."""
        ...


class _MemoryStream:
    __slots__ = ("claimed_until", "entries", "expires_at", "grew", "seen_until")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.claimed_until = 0.0
        self.seen_until = 0.0
        self.expires_at: float | None = None
        self.grew = Signal()


class MemoryStore:
    """The embedded default: streams in this process's memory, for the relays of one event loop."""

    def __init__(self) -> None:
        self._streams: dict[str, _MemoryStream] = {}

    def _live(self, stream_id: str) -> _MemoryStream | None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return None
        now = time.monotonic()
        expired = stream.expires_at is not None and now >= stream.expires_at
        if expired or (not stream.entries and stream.claimed_until <= now):
            del self._streams[stream_id]
            stream.grew.set()
            return None
        return stream

    async def claim(self, stream_id: str, ttl: float) -> bool:
        """Atomically claim the right to run the upstream: True for one caller until ``ttl`` seconds pass."""
        stream = self._live(stream_id)
        now = time.monotonic()
        if stream is not None and stream.claimed_until > now:
            return False
        if stream is None:
            stream = self._streams[stream_id] = _MemoryStream()
        stream.claimed_until = now + ttl
        return True

    async def exists(self, stream_id: str) -> bool:
        """True while the stream is claimed or has events (until it expires)."""
        return self._live(stream_id) is not None

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        """Add entries, whose ids continue the stream's without a gap."""
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._streams[stream_id] = _MemoryStream()
        for entry in entries:
            expected = len(stream.entries) + 1
            if entry.id != expected:
                raise ValueError(
                    f"stream {stream_id!r}: entry id {entry.id} appended where {expected} belongs"
                )
            stream.entries.append(entry)
        stream.grew.set()
        stream.grew.clear()

    async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> list[Entry]:
        """Up to ``limit`` entries with id > ``after``, in order; waits up to ``timeout`` s for one."""
        stream = self._live(stream_id)
        if stream is None:
            return []
        if len(stream.entries) <= after and timeout > 0:
            await stream.grew.wait(timeout)
        return stream.entries[after : after + limit]

    async def finish(self, stream_id: str, retain: float) -> None:
        """The last entry is written: keep the stream ``retain`` more seconds, then forget it."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.expires_at = time.monotonic() + retain

    async def touch(self, stream_id: str, ttl: float) -> None:
        """Somebody listens to the stream; ``watched`` stays True for ``ttl`` seconds."""
        stream = self._live(stream_id)
        if stream is not None:
            stream.seen_until = max(stream.seen_until, time.monotonic() + ttl)

    async def watched(self, stream_id: str) -> bool:
        """True if ``touch`` was called within its ``ttl``."""
        stream = self._live(stream_id)
        return stream is not None and stream.seen_until > time.monotonic()

    async def aclose(self) -> None:
        """Forget every stream."""
        self._streams.clear()
