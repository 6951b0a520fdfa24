"""Fan-out inside one relay process: one reader of the store per stream, many subscribers.

A ``Hub`` follows one stream in the store and pushes each batch of new entries into every
subscriber's bounded buffer. The policy for a laggard: a subscriber whose buffer would hold more
than ``buffer`` entries is dropped (its response ends; a browser's ``EventSource`` reconnects with
``Last-Event-ID`` and resumes from the store, so nothing is lost and memory stays bounded). A
subscriber that joins late, or resumes, first catches up from the store itself, then takes the
live entries from its buffer, skipping what it already sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from ._signal import Signal
from .store import Entry, Store

__all__ = ["Hub", "Subscriber"]

log = logging.getLogger("streamer.relay")


class Subscriber:
    """One response's view of a stream: a bounded buffer of entries and a wake-up flag."""

    __slots__ = ("buffer", "dropped", "limit", "sending", "wake", "writer")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer: deque[Entry] = deque()
        self.wake = Signal()
        #: Set when the subscriber fell ``limit`` entries behind and was dropped.
        self.dropped = False
        #: True while the writer waits for the client to take bytes (cancelled if dropped then).
        self.sending = False
        #: The task writing to this subscriber's client.
        self.writer: asyncio.Future[None] | None = None

    def offer(self, entries: list[Entry]) -> None:
        """Buffer new entries, or drop this subscriber if they do not fit."""
        if self.dropped:
            return
        if len(self.buffer) + len(entries) > self.limit:
            self.dropped = True
            self.buffer.clear()
            if self.sending and self.writer is not None:  # stuck on a client that does not read
                self.writer.cancel()
        else:
            self.buffer.extend(entries)
        self.wake.set()

    def take(self) -> list[Entry]:
        """Every buffered entry, oldest first."""
        entries = list(self.buffer)
        self.buffer.clear()
        self.wake.clear()
        return entries


class Hub:
    """Follows one stream in the store for this process's subscribers; ends when it has none left."""

    def __init__(
        self,
        store: Store,
        stream_id: str,
        after: int,
        *,
        poll: float,
        touch_every: float,
        touch_ttl: float,
        page: int,
        on_end: Callable[[Hub], None],
    ) -> None:
        self.store = store
        self.stream_id = stream_id
        #: The highest id read from the store so far.
        self.last_id = after
        #: The id of the stream's last entry, once read.
        self.final_id: int | None = None
        #: The store's error, if following the stream failed.
        self.error: BaseException | None = None
        self.subscribers: set[Subscriber] = set()
        self._poll = poll
        self._touch_every = touch_every
        self._touch_ttl = touch_ttl
        self._page = page
        self._on_end = on_end
        self.task = asyncio.ensure_future(self._follow())

    @property
    def ended(self) -> bool:
        """True once the hub stopped following (the stream ended, failed, or nobody was left)."""
        return self.task.done()

    def publish(self, entries: list[Entry]) -> None:
        """Hand entries to every subscriber: those the hub has not seen, in order, once.

        The hub's own reads call this; so does an upstream running in this process, right after
        it appends (a wake-up saved: the subscribers get the entry in the same loop iteration).
        """
        fresh = [entry for entry in entries if entry.id > self.last_id]
        if not fresh or fresh[0].id != self.last_id + 1:
            return  # nothing new, or a gap: the hub's next read from the store fills it
        self.last_id = fresh[-1].id
        if fresh[-1].last:
            self.final_id = fresh[-1].id
        for subscriber in self.subscribers:
            subscriber.offer(fresh)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        touched = -1e9
        try:
            while self.subscribers and self.final_id is None:
                entries = await self.store.read(self.stream_id, self.last_id, self._poll, self._page)
                if loop.time() - touched >= self._touch_every:  # after the read: it is the urgent part
                    touched = loop.time()
                    await self.store.touch(self.stream_id, self._touch_ttl)
                self.publish(entries)
        except Exception as exc:
            log.warning("relay stream %r: following the store failed", self.stream_id, exc_info=True)
            self.error = exc
        finally:
            self._on_end(self)
            for subscriber in self.subscribers:
                subscriber.wake.set()
