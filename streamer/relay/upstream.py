"""Run one upstream scanner to its end, writing its events into a store with ids 1, 2, 3, ...

Any object with the scanner protocol works (``next()`` / ``err()`` / ``close()`` or ``aclose()``),
sync or async: a sync scanner's calls run on one worker thread of its own, in order, so the event
loop never blocks. The run is bounded: it is cancelled after ``max_duration`` seconds, or when no
listener has touched the stream for ``idle_timeout`` seconds; either way the stream still ends with
a final ``error`` event, so no browser is left waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import RelayCancelled, StreamError
from ..scanner import AsyncScanner
from .encode import Encoder, error_data
from .store import Entry, Store

__all__ = ["MakeStream", "Upstream"]

log = logging.getLogger("streamer.relay")

#: Makes the upstream scanner: a callable returning a scanner, or an awaitable of one.
MakeStream = Callable[[], Any]

R = TypeVar("R")

#: How long closing a sync upstream may wait for its worker's current ``next()`` to return.
CLOSE_TIMEOUT = 10.0


class Upstream:
    """One run of ``make_stream()`` into ``store`` under ``stream_id``; ``run()`` returns at its end."""

    def __init__(
        self,
        store: Store,
        stream_id: str,
        make_stream: MakeStream,
        *,
        encode: Encoder,
        max_duration: float,
        idle_timeout: float,
        retain: float,
        on_append: Callable[[list[Entry]], None] | None = None,
        describe_error: Callable[[BaseException], str] = error_data,
    ) -> None:
        self.store = store
        self.stream_id = stream_id
        self.make_stream = make_stream
        self.encode = encode
        self.max_duration = max_duration
        self.idle_timeout = idle_timeout
        self.retain = retain
        #: Called with each batch of entries right after the store took it (local fan-out).
        self.on_append = on_append
        #: The data of the final ``error`` event for the error that ended the upstream.
        self.describe_error = describe_error
        #: How many events have been written so far (the final event not included).
        self.count = 0

    async def run(self) -> None:
        """Pump the upstream into the store, watch its deadlines, then write the final event."""
        pump = asyncio.ensure_future(self._pump())
        loop = asyncio.get_running_loop()
        started = loop.time()
        check = max(0.05, min(self.idle_timeout / 3, 5.0))
        error: BaseException | None = None
        try:
            while not pump.done():
                left = started + self.max_duration - loop.time()
                await asyncio.wait({pump}, timeout=max(0.0, min(check, left)))
                if pump.done():
                    break
                elapsed = loop.time() - started
                if elapsed >= self.max_duration:
                    error = RelayCancelled(
                        f"relay stream {self.stream_id!r}: the upstream ran longer than "
                        f"max_duration={self.max_duration:g} s and was cancelled after {self.count} events"
                    )
                elif elapsed >= self.idle_timeout and not await self.store.watched(self.stream_id):
                    error = RelayCancelled(
                        f"relay stream {self.stream_id!r}: nobody listened for idle_timeout="
                        f"{self.idle_timeout:g} s; the upstream was cancelled after {self.count} events"
                    )
                if error is not None:
                    pump.cancel()
                    break
        finally:
            if not pump.done():  # we were cancelled ourselves
                pump.cancel()
            outcome = await asyncio.gather(pump, return_exceptions=True)
        if error is None:
            result = outcome[0]
            if isinstance(result, asyncio.CancelledError):
                raise result
            error = result if isinstance(result, BaseException) else None
        if error is not None and not isinstance(error, StreamError):
            log.error("relay stream %r: the upstream failed", self.stream_id, exc_info=error)
        last = (
            Entry(self.count + 1, "done", "[DONE]", last=True)
            if error is None
            else Entry(self.count + 1, "error", self.describe_error(error), last=True)
        )
        await self.store.append(self.stream_id, [last])
        if self.on_append is not None:
            self.on_append([last])
        await self.store.finish(self.stream_id, self.retain)

    async def _pump(self) -> BaseException | None:
        """Read the upstream to its end; returns the error that ended it (None for a clean end)."""
        worker: ThreadPoolExecutor | None = None

        async def call(fn: Callable[[], R]) -> R:
            nonlocal worker
            if worker is None:
                worker = ThreadPoolExecutor(1, thread_name_prefix=f"relay-{self.stream_id[:20]}")
            return await asyncio.get_running_loop().run_in_executor(worker, fn)

        stream: Any = None
        try:
            made = self.make_stream()
            stream = await made if inspect.isawaitable(made) else made
            if isinstance(stream, AsyncScanner) or inspect.iscoroutinefunction(stream.next):
                while await stream.next():
                    await self._write(self.encode(stream))
            else:  # a sync scanner: every call on its own worker thread, in order

                def step() -> tuple[bool, tuple[str, str] | None]:
                    more = stream.next()
                    return more, (self.encode(stream) if more else None)

                while True:
                    more, message = await call(step)
                    if not more:
                        break
                    await self._write(message)
            error: BaseException | None = stream.err()
            return error
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        finally:
            if stream is not None:
                await _close(stream, call if worker is not None else None)
            if worker is not None:
                worker.shutdown(wait=False)

    async def _write(self, message: tuple[str, str] | None) -> None:
        if message is None:
            return
        self.count += 1
        entries = [Entry(self.count, message[0], message[1])]
        await self.store.append(self.stream_id, entries)
        if self.on_append is not None:
            self.on_append(entries)


async def _close(stream: Any, call: Callable[[Callable[[], Any]], Awaitable[Any]] | None) -> None:
    aclose = getattr(stream, "aclose", None)
    try:
        if aclose is not None:
            await aclose()
            return
        close = getattr(stream, "close", None)
        if close is None:
            return
        if call is not None:  # after the worker's current call: the scanner is not thread-safe
            await asyncio.wait_for(call(close), CLOSE_TIMEOUT)
        else:
            result = close()
            if inspect.isawaitable(result):
                await result
    except (Exception, asyncio.TimeoutError):
        log.warning("relay: closing the upstream failed", exc_info=True)
