"""``RedisStore``: a relay's streams in Redis Streams, so any relay process can resume any stream.

Per stream, three keys under ``prefix``: ``<id>:events`` (a Redis Stream; entry ``n`` has the Redis
id ``0-n``, written with XADD and followed with XREAD BLOCK), ``<id>:owner`` (SET NX: who runs the
upstream) and ``<id>:seen`` (a key with a TTL that listeners refresh). After the last event, every
key gets the ``retain`` TTL. ``maxlen`` caps a stream's length while it runs (XADD MAXLEN); a resume
from before the kept window fails with ``ResumeTooOld`` instead of skipping events.

Needs the optional dependency ``redis`` (``pip install 'streamer[redis]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ResumeTooOld
from .store import Entry

__all__ = ["RedisStore"]


class RedisStore:
    """Streams in Redis Streams, shared by every relay process pointed at the same Redis."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Any = None,
        prefix: str = "streamer:relay:",
        maxlen: int | None = None,
    ) -> None:
        if client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise ImportError("RedisStore needs redis-py: pip install 'streamer[redis]'") from exc
            client = Redis.from_url(url)
        self._redis = client
        self._prefix = prefix
        self._maxlen = maxlen

    def _key(self, stream_id: str, kind: str) -> str:
        return f"{self._prefix}{stream_id}:{kind}"

    async def claim(self, stream_id: str, ttl: float) -> bool:
        """Atomically claim the right to run the upstream: True for one caller until ``ttl`` seconds pass."""
        done = await self._redis.set(self._key(stream_id, "owner"), b"1", nx=True, px=_ms(ttl))
        return bool(done)

    async def exists(self, stream_id: str) -> bool:
        """True while the stream is claimed or has events (until it expires)."""
        count = await self._redis.exists(self._key(stream_id, "owner"), self._key(stream_id, "events"))
        return int(count) > 0

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        """Add entries, whose ids continue the stream's without a gap."""
        key = self._key(stream_id, "events")
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                fields = {
                    b"e": entry.event.encode(),
                    b"d": entry.data.encode(),
                    b"l": b"1" if entry.last else b"",
                }
                if self._maxlen is None:
                    pipe.xadd(key, fields, id=f"0-{entry.id}")
                else:
                    pipe.xadd(key, fields, id=f"0-{entry.id}", maxlen=self._maxlen, approximate=True)
            await pipe.execute()

    async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> list[Entry]:
        """Up to ``limit`` entries with id > ``after``, in order; waits up to ``timeout`` s for one."""
        key = self._key(stream_id, "events")
        block = _ms(timeout) if timeout > 0 else None
        reply = await self._redis.xread({key: f"0-{after}"}, count=limit, block=block)
        if not reply:
            return []
        entries = [_entry(raw_id, fields) for raw_id, fields in reply[0][1]]
        if entries and entries[0].id != after + 1:
            raise ResumeTooOld(
                f"stream {stream_id!r}: events {after + 1}..{entries[0].id - 1} were trimmed from Redis "
                f"(maxlen={self._maxlen}); the stream cannot resume after event {after}"
            )
        return entries

    async def finish(self, stream_id: str, retain: float) -> None:
        """The last entry is written: keep the stream ``retain`` more seconds, then forget it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind in ("events", "owner", "seen"):
                pipe.pexpire(self._key(stream_id, kind), _ms(retain))
            await pipe.execute()

    async def touch(self, stream_id: str, ttl: float) -> None:
        """Somebody listens to the stream; ``watched`` stays True for ``ttl`` seconds."""
        await self._redis.set(self._key(stream_id, "seen"), b"1", px=_ms(ttl))

    async def watched(self, stream_id: str) -> bool:
        """True if ``touch`` was called within its ``ttl``."""
        return int(await self._redis.exists(self._key(stream_id, "seen"))) > 0

    async def aclose(self) -> None:
        """Close the connections to Redis."""
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _entry(raw_id: bytes | str, fields: dict[Any, Any]) -> Entry:
    text_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
    return Entry(
        int(text_id.partition("-")[2]),
        fields[b"e"].decode(),
        fields[b"d"].decode(),
        last=fields[b"l"] == b"1",
    )
