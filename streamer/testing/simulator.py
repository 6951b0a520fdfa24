"""A local SwimOS-compatible WARP server: the simulated stock feed, the embedded default.

Agents ``/stock/{SYMBOL}`` have a value lane ``status`` holding ``{timestamp, price, volume, bid,
ask, movement}`` as the public simulated feed sends it; ``/symbols`` has a map lane ``stocks``
(symbol -> status). Symbols ``AAAA``, ``AAAB``, ... are pre-created and any other is created on
first link (unless ``strict``, which answers ``@nodeNotFound``/``@laneNotFound``). Values are
seeded and deterministic per symbol; a symbol ticks only while something links to it.

Cadence: ``fixed`` (``rate`` updates per second per symbol), ``public`` (the public feed's random
0-20 s), or ``drain`` (as fast as the slowest reader takes them). With ``fixed``, the first tick
comes one period after the link, so a reader sees the synced value first, the same each run with
the same seed (every field but ``timestamp``, which is wall-clock time). ``java_doubles`` writes numbers
the way Java SwimOS servers do (``4.765398677550915E7``, integral doubles without ``.0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from attrs import define, field
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ..swim.recon import ReconError, Record, dumps, to_python
from ..swim.warp import Envelope, parse_envelope

__all__ = ["CADENCES", "StockSimulator", "StockTicker", "symbol_name"]

CADENCES = ("fixed", "public", "drain")
_QUEUE = 256


def symbol_name(index: int) -> str:
    """The ``index``-th pre-created symbol: ``AAAA``, ``AAAB``, ... (base 26, four letters)."""
    letters = []
    for _ in range(4):
        index, digit = divmod(index, 26)
        letters.append(chr(ord("A") + digit))
    return "".join(reversed(letters))


@define(slots=True)
class StockTicker:
    """The seeded price process of one symbol, as the public simulated feed computes it."""

    symbol: str
    seed: int
    rng: random.Random = field(init=False)
    price: float = 0.0
    status: dict[str, Any] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}:{self.symbol}")
        self.tick()

    def tick(self) -> dict[str, Any]:
        """The next status value."""
        rng = self.rng
        price = math.floor(rng.random() * 100 * 100) / 100
        self.status = {
            "timestamp": int(time.time() * 1000),
            "price": price,
            "volume": (rng.random() * 400) ** 3,
            "bid": math.floor(rng.random() * 100 * 100) / 100,
            "ask": math.floor(rng.random() * 100 * 100) / 100,
            "movement": math.floor((price - self.price) * 100) / 100,
        }
        self.price = price
        return self.status


class _Client:
    """One connection: a bounded send queue drained by a writer task."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE)
        self.links: set[tuple[str, str]] = set()


class StockSimulator:
    """Serve the simulated stock feed over WARP on a loopback port, from a background thread.

    ``with StockSimulator(rate=50) as feed: ... feed.url ...``. ``port=0`` picks a free port.
    ``max_ticks`` stops each symbol after that many ticks (a benchmark then knows what arrives).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        cadence: str = "fixed",
        rate: float = 20.0,
        symbols: int = 100,
        strict: bool = False,
        java_doubles: bool = False,
        max_ticks: int | None = None,
    ) -> None:
        if cadence not in CADENCES:
            raise ValueError(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
        if max_ticks is not None and (
            isinstance(max_ticks, bool) or not isinstance(max_ticks, int) or max_ticks < 0
        ):
            raise ValueError(f"max_ticks must be a whole number of ticks, 0 or more, not {max_ticks!r}")
        if cadence == "fixed" and not rate > 0:
            raise ValueError(f"rate must be a positive number of updates per second, not {rate!r}")
        self.host = host
        self.port = port
        self.seed = seed
        self.cadence = cadence
        self.rate = rate
        self.strict = strict
        self.java_doubles = java_doubles
        #: Each symbol ticks at most this many times (None: for as long as something links to it).
        self.max_ticks = max_ticks
        self.tickers: dict[str, StockTicker] = {
            symbol_name(i): StockTicker(symbol_name(i), seed) for i in range(symbols)
        }
        self._clients: set[_Client] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.updates_sent = 0

    @property
    def url(self) -> str:
        """``ws://HOST:PORT``, the host URI to give a client."""
        return f"ws://{self.host}:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StockSimulator:
        """Start serving in a daemon thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="stock-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Close every connection and stop the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and loop.is_running():
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> StockSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``streamer swim simulate``)."""
        asyncio.run(self._main())

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(self._handle, self.host, self.port, compression=None, max_queue=64) as server:
            self._server = server
            self.port = int(next(iter(server.sockets)).getsockname()[1])
            self._ready.set()
            await self._stopped.wait()
            for task in self._tasks.values():
                task.cancel()
            await self._drop()  # a client that never closes its socket must not hold the server open
            server.close()
            await server.wait_closed()

    # --- admin: faults for tests -------------------------------------------------------------

    def inject(self, text: str) -> None:
        """Send raw text to every connection (an undecodable message, a stray envelope...)."""
        self._call(self._broadcast_raw, text)

    def drop_connections(self) -> None:
        """Close every client connection abruptly, as a server restart would."""
        self._call(self._drop)

    def _call(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the simulator is not running")
        asyncio.run_coroutine_threadsafe(fn(*args), loop).result(10)

    async def _broadcast_raw(self, text: str) -> None:
        for client in list(self._clients):
            await client.connection.send(text)

    async def _drop(self) -> None:
        for client in list(self._clients):
            client.connection.transport.abort()

    # --- WARP --------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        client = _Client(connection)
        self._clients.add(client)
        writer = asyncio.create_task(self._write(client))
        try:
            async for message in connection:
                if isinstance(message, bytes):
                    continue
                try:
                    envelope = parse_envelope(message)
                except ReconError:
                    continue  # a peer's garbage does not take the server down
                await self._on_envelope(client, envelope)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await client.connection.send(await client.queue.get())

    async def _send(self, client: _Client, text: str, *, block: bool = True) -> None:
        if block:
            await client.queue.put(text)
        elif not client.queue.full():
            client.queue.put_nowait(text)
        # else: a reader too slow for a paced feed misses that tick, as it would on the real feed

    def _envelope(self, tag: str, node: str, lane: str, body_text: str = "") -> str:
        return Envelope(tag, node, lane).encode(body_text=body_text)

    async def _on_envelope(self, client: _Client, envelope: Envelope) -> None:
        tag, node, lane = envelope.tag, envelope.node, envelope.lane
        if tag == "auth":
            await self._send(client, "@authed")
        elif tag == "deauth":
            await self._send(client, "@deauthed")
        elif tag in ("link", "sync"):
            await self._link(client, node, lane, sync=tag == "sync")
        elif tag == "unlink":
            client.links.discard((node, lane))
            await self._send(client, self._envelope("unlinked", node, lane))
        elif tag == "command":
            await self._command(node, lane, envelope.body)

    def _resolve(self, node: str, lane: str) -> str | None:
        """Why a link fails (``nodeNotFound``/``laneNotFound``), or None."""
        if node == "/symbols":
            return None if lane == "stocks" else "laneNotFound"
        if not node.startswith("/stock/") or not node[len("/stock/") :]:
            return "nodeNotFound"
        symbol = node[len("/stock/") :]
        if symbol not in self.tickers:
            if self.strict:
                return "nodeNotFound"
            self.tickers[symbol] = StockTicker(symbol, self.seed)
        if lane not in ("status", "init"):
            return "laneNotFound"
        return None

    async def _link(self, client: _Client, node: str, lane: str, *, sync: bool) -> None:
        problem = self._resolve(node, lane)
        if problem is not None:
            await self._send(client, self._envelope("unlinked", node, lane, f"@{problem}"))
            return
        await self._send(client, self._envelope("linked", node, lane))
        client.links.add((node, lane))
        if node == "/symbols":
            if sync:
                for symbol, ticker in list(self.tickers.items()):
                    await self._send(client, self._map_update(symbol, ticker.status))
                await self._send(client, self._envelope("synced", node, lane))
            return
        symbol = node[len("/stock/") :]
        if sync:
            await self._send(client, self._status_event(symbol))
            await self._send(client, self._envelope("synced", node, lane))
        if symbol not in self._tasks:
            self._tasks[symbol] = asyncio.create_task(self._tick(symbol))

    async def _command(self, node: str, lane: str, body: Any) -> None:
        symbol = node[len("/stock/") :] if node.startswith("/stock/") else ""
        ticker = self.tickers.get(symbol)
        if ticker is None or lane != "status" or not isinstance(body, Record):
            return
        update = to_python(body)
        if isinstance(update, dict):
            ticker.status = {**ticker.status, **{k: v for k, v in update.items() if isinstance(k, str)}}
            await self._publish(symbol, block=True)

    def _status_text(self, status: dict[str, Any]) -> str:
        return dumps(status, java_doubles=self.java_doubles)

    def _status_event(self, symbol: str) -> str:
        body = self._status_text(self.tickers[symbol].status)
        return self._envelope("event", f"/stock/{symbol}", "status", body)

    def _map_update(self, symbol: str, status: dict[str, Any]) -> str:
        body = "@update(key:" + dumps(symbol) + ")" + self._status_text(status)
        return self._envelope("event", "/symbols", "stocks", body)

    def _subscribers(self, symbol: str) -> Iterator[_Client]:
        node = f"/stock/{symbol}"
        return (c for c in list(self._clients) if (node, "status") in c.links)

    async def _tick(self, symbol: str) -> None:
        ticker = self.tickers[symbol]
        rng = random.Random(f"{self.seed}:{symbol}:cadence")
        # The first tick comes one period after the link, never right on the heels of the synced
        # state: a reader that keeps only the latest value then sees the same first value every
        # run with the same seed, not whichever of the two won the race.
        if self.cadence == "public":
            await asyncio.sleep(3.0)
        elif self.cadence == "fixed":
            await asyncio.sleep(1.0 / self.rate)
        ticks = 0
        while any(True for _ in self._subscribers(symbol)):
            if self.max_ticks is not None and ticks >= self.max_ticks:
                await asyncio.sleep(0.05)  # the last tick sent: wait for the readers to unlink
                continue
            ticks += 1
            ticker.tick()
            await self._publish(symbol, block=self.cadence == "drain")
            if self.cadence == "fixed":
                await asyncio.sleep(1.0 / self.rate)
            elif self.cadence == "public":
                await asyncio.sleep(round(20000 * rng.random()) / 1000)
            else:
                await asyncio.sleep(0)
        del self._tasks[symbol]

    async def _publish(self, symbol: str, *, block: bool) -> None:
        event = self._status_event(symbol)
        for client in self._subscribers(symbol):
            await self._send(client, event, block=block)
            self.updates_sent += 1
        status = self.tickers[symbol].status
        watchers = [c for c in list(self._clients) if ("/symbols", "stocks") in c.links]
        if watchers:
            update = self._map_update(symbol, status)
            for client in watchers:
                await self._send(client, update, block=block)
