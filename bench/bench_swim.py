"""SwimOS throughput: the swimos client's own callback rate against our scanner and a pipeline on it.

The simulator (``cadence="drain"``: as fast as the reader takes updates) feeds, in one run:
the bare swimos client counting ``did_set`` callbacks; a DownlinkScanner over swimos; the same
with a two-stage pipeline (exchange rate, 5-tick moving average); and our own WARP transport. Then
memory under a consumer that stops reading for a while (it must stay bounded by the buffer).

    python bench/bench_swim.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamer.swim.downlink import DownlinkScanner
from streamer.swim.operators import fx, sma
from streamer.testing.simulator import StockSimulator


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
    args = parser.parse_args()
    seconds, pause = (2.0, 3.0) if args.quick else (5.0, 10.0)
    # One symbol per measurement: in drain cadence a symbol goes as fast as its slowest reader, and
    # a bare swimos client leaves its socket open after stop(), reading nothing.
    with StockSimulator(cadence="drain", java_doubles=False) as feed:
        rows = {
            "swimos callbacks (bare client)": swimos_callbacks(feed.url, seconds),
            "DownlinkScanner, swimos transport": scanner_rate(feed.url, seconds, "swimos", False, "AAAB"),
            "  + map(fx) + accumulate(sma(5))": scanner_rate(feed.url, seconds, "swimos", True, "AAAC"),
            "DownlinkScanner, warp transport": scanner_rate(feed.url, seconds, "warp", False, "AAAD"),
            "  + map(fx) + accumulate(sma(5)) ": scanner_rate(feed.url, seconds, "warp", True, "AAAE"),
        }
        base = rows["swimos callbacks (bare client)"]
        print(f"Updates per second from the simulator (drain cadence), {seconds:g} s each, same run\n")
        for name, rate in rows.items():
            print(f"  {name:<36} {rate:10,.0f}/s   {rate / base:6.2f}x the bare swimos client")
        cost = 1 - rows["  + map(fx) + accumulate(sma(5))"] / base
        print(f"\n  scanner + pipeline cost on swimos: {cost:.0%} of its callback rate (goal <= 10%)")
    with StockSimulator(rate=2000) as feed:
        before, after, conflated = paused_memory(feed.url, pause)
    print(f"\nConsumer paused {pause:g} s on a 2,000 updates/s value lane:")
    kib = f"{before / 1024:.0f} KiB -> {after / 1024:.0f} KiB"
    print(f"  traced memory {kib} ({conflated:,} conflated, none queued)")


if __name__ == "__main__":
    main()
