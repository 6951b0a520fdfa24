"""A wake-up flag for one event loop that wakes its waiters within one loop iteration.

``asyncio.wait_for(event.wait(), t)`` runs the wait in a task of its own, so a wake-up takes two
loop iterations; with a thousand subscribers each iteration is long, and that is latency.
"""

from __future__ import annotations

import asyncio

__all__ = ["Signal"]


class Signal:
    """``set()`` wakes every ``wait()``; ``wait(timeout)`` returns whether it was set."""

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        self._flag = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def clear(self) -> None:
        """Clear the flag (waiters already woken stay woken)."""
        self._flag = False

    def is_set(self) -> bool:
        """True between ``set()`` and ``clear()``."""
        return self._flag

    async def wait(self, timeout: float) -> bool:
        """Wait until set, at most ``timeout`` seconds; True if it was set."""
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            expiry.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self._flag


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
