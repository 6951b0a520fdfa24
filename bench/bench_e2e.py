"""End to end over loopback HTTP: streamer's clients against the ways users would do it otherwise.

A server process (so that its CPU is not counted) streams an Assistants run of 20,000 message
deltas as fast as it can, twice: in 16 KB HTTP chunks, then one event per HTTP chunk (as real
token streams arrive, where per-chunk costs show). Clients, in this process: streamer's Client and
AsyncClient (typed events), Client.stream (untyped SSE events), the official openai SDK
(``beta.threads.create_and_run(..., stream=True)``, typed events), httpx + httpx-sse with
``json.loads`` per event, and raw httpx bytes with no parsing (the transport limit). They run
interleaved (one run each per round, in a rotating order); the table gives the best of the rounds,
the spread (slowest / best - 1) and the range of the per-round ratios, so that a busy machine shows
as a wide spread rather than a wrong ratio.
Then a latency probe: the server sends an event every 10 ms stamped with its clock; we report the
median and p99 time from send to the event reaching the scanner loop, and the same for raw bytes.
Then connection reuse: the time to the first event of a second stream, on a client that keeps the
first stream's connection and on one that may not (a new TCP connection each time). Last (not with
--quick), load: 200 concurrent chat streams of 5,000 deltas each on a default AsyncClient, all
checked exact, with the events/s and the peak RSS of a fresh process that runs only that.

    python bench/bench_e2e.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from corpora import assistants_run, chat_chunks

from streamer import AsyncClient, Client, sse
from streamer.openai._json import backend as json_backend

SERVER = r"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = open(sys.argv[1], "rb").read()
per_event = [e + b"\n\n" for e in body.split(b"\n\n") if e]
chat = open(sys.argv[2], "rb").read()
small = (b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":'
         b'[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n')

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as real servers do; else a kept connection waits on delayed ACKs
    def log_message(self, *args): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        if self.path.endswith("/small/chat/completions"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(small), small))
        elif self.path.endswith("/load/chat/completions"):
            for start in range(0, len(chat), 16384):
                piece = chat[start:start + 16384]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        elif self.path.endswith("/probe"):
            for i in range(300):
                piece = ("data: " + json.dumps({"i": i, "sent": time.time()}) + "\n\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece)); self.wfile.flush()
                time.sleep(0.01)
        elif "/per-event/" in self.path:
            for piece in per_event:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        else:
            for start in range(0, len(body), 16384):
                piece = body[start:start + 16384]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()

ThreadingHTTPServer.request_queue_size = 512  # 200 clients connect at once
ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def interleaved(
    contenders: dict[str, Callable[[], int]], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per run of every contender, ``rounds`` runs each, in a rotating order."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            contenders[name]()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def spread(walls: list[float]) -> str:
    """How much slower the slowest run was than the best, in percent."""
    return f"{(max(walls) / min(walls) - 1) * 100:.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7, no load run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (best of these)")
    parser.add_argument("--load-only", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        load(args.load_only)
        return
    rounds = args.rounds or (3 if args.quick else 7)
    corpus = Path("/tmp/streamer-bench-e2e.sse")
    corpus.write_bytes(assistants_run())
    chat = Path("/tmp/streamer-bench-e2e-chat.sse")
    chat.write_bytes(chat_chunks(LOAD_DELTAS))
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(corpus), str(chat)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
        print(
            f"Python {sys.version.split()[0]}; JSON loader: {json_backend()}; interleaved, best of {rounds}"
        )
        print("spread = slowest / best - 1; range = the per-round ratios (same round, same machine load)")
        run(base, rounds, "16 KB chunks")
        run(f"{base}/per-event", rounds, "one event per HTTP chunk, as token streams arrive")
        probe(base)
        reuse(base, 20 if args.quick else 100)
        if not args.quick:  # a fresh process, so that its peak RSS is the load's alone
            subprocess.run([sys.executable, __file__, "--load-only", base], check=True)
    finally:
        server.terminate()
        server.wait()


def contenders(
    base: str, loop: asyncio.AbstractEventLoop, aclient: AsyncClient
) -> dict[str, Callable[[], int]]:
    """Each way to read the Assistants run; each returns the events it saw (raw bytes: the bytes)."""
    client = Client(base_url=base)

    def ours_sync() -> int:
        stream = client.create_thread_and_run_stream("asst_1")
        count = sum(1 for _ in stream)
        assert stream.err() is None, stream.err()
        return count

    def ours_async() -> int:
        async def go() -> int:
            stream = await aclient.create_thread_and_run_stream("asst_1")
            count = 0
            async for _ in stream:  # not a list: keeping 20,000 events alive doubles the GC's work
                count += 1
            assert stream.err() is None, stream.err()
            return count

        return loop.run_until_complete(go())

    def ours_untyped() -> int:
        stream = client.stream("POST", "threads/runs", {})
        return sum(1 for _ in stream)

    def official() -> int:
        import openai

        sdk = openai.OpenAI(api_key="sk-bench", base_url=base, max_retries=0)
        with sdk.beta.threads.create_and_run(assistant_id="asst_1", stream=True) as stream:
            return sum(1 for _ in stream) + 1  # it consumes the `done` event instead of yielding it

    def httpx_sse_json() -> int:
        from httpx_sse import connect_sse

        count = 0
        with httpx.Client() as http, connect_sse(http, "POST", f"{base}/threads/runs", json={}) as source:
            for event in source.iter_sse():
                if event.data != "[DONE]":
                    json.loads(event.data)
                count += 1
        return count

    def raw_bytes() -> int:
        total = 0
        with httpx.Client() as http, http.stream("POST", f"{base}/threads/runs", json={}) as response:
            for chunk in response.iter_raw():
                total += len(chunk)
        return total

    return {
        CLIENT: ours_sync,
        ASYNC: ours_async,
        UNTYPED: ours_untyped,
        PIPELINE: httpx_sse_json,
        SDK: official,
        RAW: raw_bytes,
    }


CLIENT, ASYNC, UNTYPED = "streamer Client", "streamer AsyncClient", "Client.stream (untyped)"
PIPELINE, SDK, RAW = "httpx+httpx-sse+json", "openai SDK", "raw httpx bytes"
#: (name, them, goal): the ratios the README's goals name; ratio = them's best time / Client's.
GOALS = [
    (PIPELINE, "Client vs httpx + httpx-sse + json.loads", 1.5),
    (SDK, "Client vs the openai SDK", 20.0),
    (RAW, "Client vs raw bytes (transport limit)", None),
]


def run(base: str, rounds: int, label: str) -> None:
    """Every contender on one server path, interleaved; the table and the goal ratios."""
    # One event loop for every async run, with the AsyncClient made inside it, so that the figure
    # is the stream's and not a new loop's, a new TLS context's and a new connection pool's.
    loop = asyncio.new_event_loop()

    async def make_async_client() -> AsyncClient:
        return AsyncClient(base_url=base)

    aclient = loop.run_until_complete(make_async_client())
    runs = contenders(base, loop, aclient)
    counts = {name: fn() for name, fn in runs.items()}  # a warm-up run each, checked equal
    events = counts[CLIENT]
    for name, count in counts.items():
        assert name == RAW or count == events, f"{name} saw {count} events, not {events}"
    times = interleaved(runs, rounds)
    loop.run_until_complete(aclient.close())
    loop.close()

    walls = {name: [wall for wall, _ in samples] for name, samples in times.items()}
    ours = min(walls[CLIENT])
    print(f"\nAssistants run over loopback HTTP, {events:,} events, {label}:\n")
    print(f"  {'client':<24} {'events/s':>10} {'spread':>7} {'CPU s':>7} {'Client/them':>12} {'range':>13}")
    for name, samples in times.items():
        best = min(walls[name])
        cpu = min(c for _, c in samples)
        per_round = [them / us for them, us in zip(walls[name], walls[CLIENT])]
        print(
            f"  {name:<24} {events / best:10,.0f} {spread(walls[name]):>7} {cpu:7.3f}"
            f" {best / ours:11.2f}x {min(per_round):5.2f}-{max(per_round):.2f}x"
        )
    print()
    # CPU seconds (this process only: the server is another) swing less than wall clock here.
    cpus = {name: min(c for _, c in samples) for name, samples in times.items()}
    for name, what, goal in GOALS:
        per_round = [them / us for them, us in zip(walls[name], walls[CLIENT])]
        wanted = f"(goal >= {goal:g}x)" if goal is not None else ""
        ratio = min(walls[name]) / ours
        print(
            f"  {what:<42} {ratio:6.2f}x  range {min(per_round):.2f}-{max(per_round):.2f}x"
            f"  CPU {cpus[name] / cpus[CLIENT]:.2f}x {wanted}"
        )
    per_round = [us / them for us, them in zip(walls[CLIENT], walls[ASYNC])]
    print(
        f"  {'AsyncClient vs Client (speed)':<42} {ours / min(walls[ASYNC]):6.2f}x"
        f"  range {min(per_round):.2f}-{max(per_round):.2f}x"
        f"  CPU {cpus[CLIENT] / cpus[ASYNC]:.2f}x (goal >= 0.9x)"
    )


def probe(base: str) -> None:
    ours: list[float] = []
    with Client(base_url=base) as client:
        stream = client.stream("POST", "probe", {})
        for event in stream:
            ours.append(time.time() - json.loads(event.data)["sent"])
    raw: list[float] = []
    with httpx.Client() as http, http.stream("POST", f"{base}/probe", json={}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                raw.append(time.time() - json.loads(line[6:])["sent"])

    def show(name: str, values: list[float]) -> tuple[float, float]:
        values = sorted(values)
        median, p99 = statistics.median(values) * 1000, values[int(len(values) * 0.99) - 1] * 1000
        print(f"  {name:<22} median {median:6.3f} ms   p99 {p99:6.3f} ms   ({len(values)} events)")
        return median, p99

    print("\nLatency, server send -> event in the loop (one event every 10 ms):")
    _, ours_p99 = show("streamer Client", ours)
    _, raw_p99 = show("raw httpx lines", raw)
    print(f"  added p99 latency: {ours_p99 - raw_p99:+.3f} ms (goal < 1 ms)")


LOAD_STREAMS = 200
LOAD_DELTAS = 5_000


def reuse(base: str, rounds: int) -> None:
    """Time to the first event of a second stream, with the connection kept and without."""

    def first_event_times(client: Client) -> list[float]:
        with client.chat_completions_stream(model="m", messages=[]) as warm:
            while warm.next():
                pass
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            with client.chat_completions_stream(model="m", messages=[]) as stream:
                assert stream.next()
                times.append(time.perf_counter() - started)
                while stream.next():
                    pass
        return times

    kept = Client(base_url=f"{base}/small")
    no_keepalive = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
    fresh = Client(base_url=f"{base}/small", http_client=no_keepalive)
    with_reuse = statistics.median(first_event_times(kept)) * 1000
    without = statistics.median(first_event_times(fresh)) * 1000
    kept.close()
    no_keepalive.close()
    print(f"\nConnection reuse, time to the first event of a further stream (median of {rounds}):")
    print(f"  {'kept connection':<22} {with_reuse:7.3f} ms")
    print(f"  {'new connection':<22} {without:7.3f} ms   (over TLS to the real API add a handshake)")


def load(base: str) -> None:
    """200 concurrent streams of 5,000 deltas on a default AsyncClient, each checked exact."""
    expected = "".join(
        json.loads(e.data)["choices"][0]["delta"].get("content", "")
        for e in sse.iter_events([chat_chunks(LOAD_DELTAS)])
        if e.data != "[DONE]"
    )

    async def go() -> tuple[int, float]:
        events = 0
        async with AsyncClient(base_url=f"{base}/load") as client:

            async def one() -> None:
                nonlocal events
                async with await client.chat_completions_stream(model="m", messages=[]) as stream:
                    while await stream.next():
                        events += 1
                    assert stream.err() is None, stream.err()
                    assert stream.text() == expected, "a stream lost or changed text"

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(LOAD_STREAMS)))
            return events, time.perf_counter() - started

    events, wall = asyncio.run(go())
    assert events == LOAD_STREAMS * LOAD_DELTAS
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nLoad: {LOAD_STREAMS} concurrent streams x {LOAD_DELTAS:,} deltas, default AsyncClient, all exact"
    )
    print(f"  {events:,} events in {wall:.2f} s = {events / wall:,.0f} events/s; peak RSS {peak_mb:.0f} MB")


def resume_gap(rounds: int, retry_ms: int = 100) -> None:
    """Time from a cut to the first resumed event, over loopback (the resume engineer's row).

    A replay server cuts a recorded background response after 6 events; the gap is from the 6th
    event reaching the loop to the 7th (the first of the resumed segment), which includes noticing
    the cut, the wait the server asked for with ``retry:`` (or none), and the new request. The same
    for a raw SSE stream that reconnects with ``Last-Event-ID``. Goal: under ``retry:`` + 50 ms.
    """
    import tempfile

    from streamer import Resume
    from streamer.testing.replay import EventSource, Faults, Recording, Recordings, ReplayServer

    recording = Recording.load(Path(__file__).resolve().parent.parent / RESUME_RECORDING)
    ticks_path = Path(tempfile.mkdtemp()) / "ticks.sse"
    ticks_path.write_bytes(b"".join(sse.encode(sse.Event("tick", str(n), str(n))) for n in range(1, 13)))
    ticks = Recording.load(ticks_path)

    def gaps(responder: Any, open_stream: Callable[[Client], Any]) -> list[float]:
        found = []
        with ReplayServer(responder=responder) as server, Client(base_url=server.base_url) as client:
            for _ in range(rounds):
                stream = open_stream(client)
                stamps = []
                while stream.next():
                    stamps.append(time.perf_counter())
                assert stream.err() is None, stream.err()
                assert stream.resumes == 1
                found.append((stamps[6] - stamps[5]) * 1000)
        return found

    plan = Resume(attempts=3, initial_backoff=0.0)

    def background(client: Client) -> Any:
        return client.responses_stream(model="m", input="x", background=True, resume=plan)

    def raw(client: Client) -> Any:
        return client.stream("GET", "events", reconnect=plan)

    rows = []
    for wait in (retry_ms, None):
        how = f"retry: {wait} ms" if wait else "no wait"
        replay = Recordings([recording], cut_after=6, retry_ms=wait)
        rows.append((f"background response, {how}", wait, gaps(replay, background)))
        source = EventSource(ticks, Faults(cut_after=6, retry_ms=wait))
        rows.append((f"SSE Last-Event-ID, {how}", wait, gaps(source, raw)))
    print(f"\nResume, a cut to the first resumed event on loopback (median and max of {rounds}):")
    for name, wait, found in rows:
        goal = (wait or 0) + 50
        print(
            f"  {name:<32} {statistics.median(found):7.1f} ms  max {max(found):7.1f} ms  "
            f"(goal < {goal} ms: {'met' if max(found) < goal else 'NOT met'})"
        )


RESUME_RECORDING = "tests/openai/real_streams/responses_pydantic-ai_7.sse"


if __name__ == "__main__":
    main()
    if "--load-only" not in sys.argv:
        resume_gap(5 if "--quick" in sys.argv else 20)
