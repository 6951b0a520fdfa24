"""SwimOS: Recon reading cost, then throughput of the swimos client against our scanner.

Recon: microseconds to read one status ``@event`` (the flat fast path, the full reader, and the
swimos client's reader), then a 10 MB string value (plain, and full of escapes): time and peak
traced memory as a multiple of the input.

Throughput: the simulator runs in its own process (``cadence="drain"``: as fast as the reader
takes updates) and feeds, in one run: the bare swimos client counting ``did_set`` callbacks; a
DownlinkScanner over swimos; the same with a two-stage pipeline (exchange rate, 5-tick moving
average); and our own WARP transport. Then memory under a consumer that stops reading for a while
(it must stay bounded by the buffer).

    python bench/bench_swim.py [--quick] [--recon-only]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import socket
import subprocess
import sys
import threading
import time
import timeit
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamer.swim.downlink import DownlinkScanner
from streamer.swim.operators import fx, sma
from streamer.swim.recon import to_python
from streamer.swim.warp import _flat_event, _parse_envelope, flat_event_data, parse_envelope

ROOT = Path(__file__).resolve().parent.parent

STATUS = (
    '@event(node:"/stock/AAAA",lane:status){timestamp:1721672101793,price:26.01,'
    "volume:4.597909036889386E6,bid:23.57,ask:23.49,movement:-38.87}"
)


def per_message(fn: Callable[[], Any], number: int) -> float:
    """Microseconds per call over ``number`` calls."""
    return timeit.timeit(fn, number=number) / number * 1e6


def recon_figures(quick: bool) -> None:
    from swimos.warp._warp import _Envelope

    assert _flat_event(STATUS) == _parse_envelope(STATUS), (
        "the fast path must read what the full reader reads"
    )
    flat = flat_event_data(STATUS)
    assert flat is not None
    assert flat[2] == to_python(_parse_envelope(STATUS).body)
    number, rounds = (1_000, 5) if quick else (5_000, 9)
    contenders: dict[str, tuple[Callable[[], Any], int]] = {
        "flat_event_data (a downlink's path)": (lambda: flat_event_data(STATUS), number),
        "parse_envelope + to_python (fast path)": (lambda: to_python(parse_envelope(STATUS).body), number),
        "full Recon reader + to_python": (lambda: to_python(_parse_envelope(STATUS).body), number // 5),
        "swimos _Envelope._parse_recon": (lambda: _Envelope._parse_recon(STATUS), number // 25),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):  # interleaved, each round in a rotated order
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            fn, calls = contenders[name]
            times[name].append(per_message(fn, calls))
    swimos = times["swimos _Envelope._parse_recon"]
    print(f"Recon: one status @event, best of {rounds} interleaved rounds (spread: slowest/best - 1)\n")
    for name, runs in times.items():
        ratios = sorted(s / r for s, r in zip(swimos, runs))
        print(
            f"  {name:<40} {min(runs):8.1f} us  spread {max(runs) / min(runs) - 1:4.0%}"
            f"   swimos/this per round {ratios[0]:5.1f}x-{ratios[-1]:5.1f}x"
        )
    print("\nRecon: one 10 MB string value in an @event (goal: < 0.5 s, < 5x its size in extra memory)\n")
    size = 10_000_000
    for label, body in (("plain text", "x" * size), ("an escape every 4 chars", 'ab\\"c' * (size // 5))):
        text = '@event(node:"/n",lane:l){v:"' + body + '"}'
        started = time.perf_counter()
        parse_envelope(text)
        seconds = time.perf_counter() - started
        gc.collect()
        tracemalloc.start()
        parse_envelope(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"  {label:<26} {seconds:6.3f} s   peak {peak / len(text):5.2f}x the input "
            f"({len(text) / 1e6:.1f} MB)"
        )
    print()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def feed_process(**options: Any) -> Iterator[str]:
    """A StockSimulator in a process of its own (so that it does not share our GIL); yields its URL."""
    port = _free_port()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from streamer.testing.simulator import StockSimulator;"
        f"StockSimulator(port={port}, **{options!r}).serve_forever()"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(ROOT)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the simulator process did not start") from None
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def swimos_callbacks(url: str, seconds: float) -> float:
    from swimos import SwimClient

    count = 0
    synced = threading.Event()

    def did_set(new: object, old: object) -> None:
        nonlocal count
        count += 1

    with SwimClient() as client:
        view = client.downlink_value().set_host_uri(url).set_node_uri("/stock/AAAA").set_lane_uri("status")
        view.did_set(did_set)
        view.did_sync(synced.set)
        view.open()
        synced.wait(10)
        start_count, start = count, time.perf_counter()
        time.sleep(seconds)
        rate = (count - start_count) / (time.perf_counter() - start)
        view.close()
    return rate


def scanner_rate(url: str, seconds: float, transport: str, pipeline: bool, symbol: str) -> float:
    with DownlinkScanner(url, f"/stock/{symbol}", "status", transport=transport, capacity=100_000) as scanner:
        source = (
            scanner.map(lambda u: u.value["price"]).map(fx(1.2)).accumulate(sma(5)) if pipeline else scanner
        )
        count, start = 0, time.perf_counter()
        deadline = start + seconds
        while source.next():
            count += 1
            if time.perf_counter() >= deadline:
                break
        return count / (time.perf_counter() - start)


def paused_memory(url: str, pause: float) -> tuple[int, int, int]:
    gc.collect()
    tracemalloc.start()
    with DownlinkScanner(url, "/stock/AAAA", "status") as scanner:
        for _ in range(50):
            scanner.next()
        before = tracemalloc.get_traced_memory()[0]
        time.sleep(pause)
        after = tracemalloc.get_traced_memory()[0]
        conflated = scanner.conflated
    tracemalloc.stop()
    return before, after, conflated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per measurement and a 3 s pause")
    parser.add_argument("--recon-only", action="store_true", help="only the Recon figures")
    args = parser.parse_args()
    recon_figures(args.quick)
    if args.recon_only:
        return
    seconds, pause = (2.0, 3.0) if args.quick else (5.0, 10.0)
    # One symbol per measurement: in drain cadence a symbol goes as fast as its slowest reader, and
    # a bare swimos client leaves its socket open after stop(), reading nothing.
    with feed_process(cadence="drain", java_doubles=False) as url:
        rows = {
            "swimos callbacks (bare client)": swimos_callbacks(url, seconds),
            "DownlinkScanner, swimos transport": scanner_rate(url, seconds, "swimos", False, "AAAB"),
            "  + map(fx) + accumulate(sma(5))": scanner_rate(url, seconds, "swimos", True, "AAAC"),
            "DownlinkScanner, warp transport": scanner_rate(url, seconds, "warp", False, "AAAD"),
            "  + map(fx) + accumulate(sma(5)) ": scanner_rate(url, seconds, "warp", True, "AAAE"),
        }
        base = rows["swimos callbacks (bare client)"]
        print(f"Updates per second from the simulator (drain cadence, own process), {seconds:g} s each\n")
        for name, rate in rows.items():
            print(f"  {name:<36} {rate:10,.0f}/s   {rate / base:6.2f}x the bare swimos client")
        cost = 1 - rows["  + map(fx) + accumulate(sma(5))"] / base
        print(f"\n  scanner + pipeline cost on swimos: {cost:.0%} of its callback rate (goal <= 10%)")
    with feed_process(rate=2000) as url:
        before, after, conflated = paused_memory(url, pause)
    print(f"\nConsumer paused {pause:g} s on a 2,000 updates/s value lane:")
    kib = f"{before / 1024:.0f} KiB -> {after / 1024:.0f} KiB"
    print(f"  traced memory {kib} ({conflated:,} conflated, none queued)")


if __name__ == "__main__":
    main()
