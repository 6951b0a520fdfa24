"""SwimOS: Recon reading cost, then throughput of the swimos client against our scanner.

Recon: microseconds to read one status ``@event`` (the flat fast path, the full reader, and the
swimos client's reader), then a 10 MB string value (plain, and full of escapes): time and peak
traced memory as a multiple of the input.

Throughput: the simulator runs in its own process (``cadence="drain"``: as fast as the reader
takes updates) and feeds, in one run: the bare swimos client counting ``did_set`` callbacks; a
DownlinkScanner over swimos; the same with a two-stage pipeline (exchange rate, 5-tick moving
average); and our own WARP transport. Then memory under a consumer that stops reading for a while
(it must stay bounded by the buffer).

With ``--icount``: the same Recon reads, and the pipeline's cost per update over a WARP link, as
valgrind instruction counts (repeatable on a busy machine, where wall-clock figures swing 2x).

    python bench/bench_swim.py [--quick] [--recon-only] [--icount]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import timeit
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamer.scanner import Scanner
from streamer.swim.downlink import DownlinkScanner, Update
from streamer.swim.operators import fx, sma
from streamer.swim.recon import to_python
from streamer.swim.warp import _flat_event, _parse_envelope, flat_event_data, parse_envelope
from streamer.testing.simulator import symbol_name

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


def _pipeline(scanner: Any) -> Any:
    """The benchmark's two-stage pipeline: a price in another currency, then a 5-tick moving average."""
    return scanner.map(lambda u: u.value["price"]).map(fx(1.2)).accumulate(sma(5))


def scanner_run(url: str, seconds: float, transport: str, pipeline: bool, symbol: str) -> tuple[float, float]:
    """Updates per second, and CPU microseconds this process (every thread) spent per update."""
    with DownlinkScanner(url, f"/stock/{symbol}", "status", transport=transport, capacity=100_000) as scanner:
        source = _pipeline(scanner) if pipeline else scanner
        count, start, cpu = 0, time.perf_counter(), time.process_time()
        deadline = start + seconds
        while source.next():
            count += 1
            if time.perf_counter() >= deadline:
                break
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        return count / elapsed, cpu / max(count, 1) * 1e6


def scanner_rate(url: str, seconds: float, transport: str, pipeline: bool, symbol: str) -> float:
    """Updates per second (see :func:`scanner_run`)."""
    return scanner_run(url, seconds, transport, pipeline, symbol)[0]


def pipeline_cost(url: str, transport: str, rounds: int, seconds: float, first_symbol: int) -> None:
    """The scanner alone and with the pipeline, interleaved (a fresh symbol each run)."""
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    symbol = first_symbol
    for round_ in range(rounds):
        for pipeline in (False, True) if round_ % 2 == 0 else (True, False):
            runs[pipeline].append(scanner_run(url, seconds, transport, pipeline, symbol_name(symbol)))
            symbol += 1
    print(f"  {transport} transport, {rounds} interleaved rounds of {seconds:g} s:")
    for pipeline, label in ((False, "scanner"), (True, "scanner + pipeline")):
        rates, cpus = [r for r, _ in runs[pipeline]], [c for _, c in runs[pipeline]]
        print(
            f"    {label:<20} best {max(rates):9,.0f}/s (spread {max(rates) / min(rates) - 1:4.0%})"
            f"   CPU {min(cpus):6.1f} us/update (spread {max(cpus) / min(cpus) - 1:4.0%})"
        )
    rate_ratios = sorted(p[0] / s[0] for s, p in zip(runs[False], runs[True]))
    cpu_ratios = sorted(p[1] / s[1] for s, p in zip(runs[False], runs[True]))
    best_rate = max(r for r, _ in runs[True]) / max(r for r, _ in runs[False])
    best_cpu = min(c for _, c in runs[True]) / min(c for _, c in runs[False])
    print(
        f"    pipeline cost: by rate {1 - best_rate:+.1%} (best vs best; per round "
        f"{1 - rate_ratios[-1]:+.0%} to {1 - rate_ratios[0]:+.0%}), by CPU per update {best_cpu - 1:+.1%} "
        f"(per round {cpu_ratios[0] - 1:+.0%} to {cpu_ratios[-1] - 1:+.0%})"
    )


def pipeline_alone(quick: bool) -> None:
    """The pipeline's own cost per update, with no transport: a scanner over a list of updates."""
    updates = [
        Update("/stock/AAAA", "status", {"price": 20.0 + index % 7, "bid": 1.0}, index, 0.0)
        for index in range(20_000 if quick else 100_000)
    ]

    def drain(pipeline: bool) -> float:
        scanner: Any = Scanner(iter(updates))
        source = _pipeline(scanner) if pipeline else scanner
        started = time.perf_counter()
        while source.next():
            pass
        return (time.perf_counter() - started) / len(updates) * 1e6

    bare, piped = [], []
    for _ in range(5):
        bare.append(drain(False))
        piped.append(drain(True))
    print(
        f"  with no transport (a scanner over a list, best of 5): scanner {min(bare):.2f} us/update, "
        f"+ pipeline {min(piped):.2f} us/update: the pipeline adds {min(piped) - min(bare):.2f} us"
    )


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


# --- instruction counts (valgrind): repeatable on a shared machine --------------------------------

RECON_HOT_LOOPS: dict[str, Callable[[], Any]] = {
    "flat_event_data": lambda: flat_event_data(STATUS),
    "parse_envelope + to_python": lambda: to_python(parse_envelope(STATUS).body),
    "full reader + to_python": lambda: to_python(_parse_envelope(STATUS).body),
}


def hot_loop(kind: str, *args: str) -> None:
    """The process valgrind measures (``--hot-loop``)."""
    if kind == "recon":
        name, count = args
        fn = RECON_HOT_LOOPS[name]
        fn()
        for _ in range(int(count)):
            fn()
    elif kind == "pipeline":  # the pipeline (or the bare scanner) over a list of updates, no transport
        mode, count = args
        updates = [
            Update("/stock/AAAA", "status", {"price": 20.0 + i % 7}, i, 0.0) for i in range(int(count))
        ]
        scanner: Any = Scanner(iter(updates))
        source = _pipeline(scanner) if mode == "pipe" else scanner
        while source.next():
            pass
    else:  # "link": read ``count`` updates from the simulator at ``url``, with or without the pipeline
        url, mode, count, symbol = args
        with DownlinkScanner(url, f"/stock/{symbol}", "status", capacity=100_000) as scanner:
            source = _pipeline(scanner) if mode == "pipeline" else scanner
            for _ in range(int(count)):
                source.next()


def _instructions(*args: str) -> int:
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-swim-") as tmp:
        log = Path(tmp) / "valgrind.log"
        command = [*valgrind, f"--log-file={log}", sys.executable, __file__, "--hot-loop", *args]
        subprocess.run(command, check=True, capture_output=True, env=env)
        found = re.search(r"I\s+refs:\s+([\d,]+)", log.read_text())
    if found is None:
        raise SystemExit("no instruction count in valgrind's log")
    return int(found[1].replace(",", ""))


def icount() -> None:
    """Instructions per Recon message, and per update with and without the pipeline, under valgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed; on Debian or Ubuntu: `sudo apt-get install -y valgrind`")
    print("Recon: valgrind instructions per status @event (2,000 reads minus 0)\n")
    for name in RECON_HOT_LOOPS:
        per = (_instructions("recon", name, "2000") - _instructions("recon", name, "0")) / 2000
        print(f"  {name:<30} {per:10,.0f}")
    count = 3_000
    print(
        f"\nWARP link, simulator in its own process: instructions per update (the synced value and {count:,}"
        "\nticks, minus the synced value alone; each symbol ticks a fixed number of times)\n"
    )
    per_update = {}
    with (
        feed_process(cadence="drain", max_ticks=0) as none,
        feed_process(cadence="drain", max_ticks=count) as url,
    ):
        for index, mode in enumerate(("scanner", "pipeline")):
            one = _instructions("link", none, mode, "1", symbol_name(900 + index))
            many = _instructions("link", url, mode, str(count + 1), symbol_name(900 + index))
            per_update[mode] = (many - one) / count
            print(f"  {mode:<30} {per_update[mode]:10,.0f}")
    print(f"\n  pipeline cost: {per_update['pipeline'] / per_update['scanner'] - 1:+.1%} (goal <= 10%)")
    bare, piped = (
        _instructions("pipeline", mode, "20000") - _instructions("pipeline", mode, "0")
        for mode in ("bare", "pipe")
    )
    alone = (piped - bare) / 20000
    print(
        f"  the pipeline alone, on a list of updates: {alone:,.0f} instructions per update, "
        f"{alone / per_update['scanner']:.1%} of the scanner's count per update over the link"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per measurement and a 3 s pause")
    parser.add_argument("--recon-only", action="store_true", help="only the Recon figures")
    parser.add_argument("--icount", action="store_true", help="instruction counts under valgrind")
    parser.add_argument("--hot-loop", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hot_loop:
        hot_loop(*args.hot_loop)
        return
    if args.icount:
        icount()
        return
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
        print(f"\n  scanner + pipeline on swimos: {cost:.0%} below the bare client's callback rate")
        print(
            "\nPipeline cost: map(price), map(fx), accumulate(sma(5)) against the scanner alone (goal <= 10%)"
        )
        for index, transport in enumerate(("warp", "swimos")):
            pipeline_cost(url, transport, 3 if args.quick else 7, seconds / 2, 100 + 100 * index)
    pipeline_alone(args.quick)
    with feed_process(rate=2000) as url:
        before, after, conflated = paused_memory(url, pause)
    print(f"\nConsumer paused {pause:g} s on a 2,000 updates/s value lane:")
    kib = f"{before / 1024:.0f} KiB -> {after / 1024:.0f} KiB"
    print(f"  traced memory {kib} ({conflated:,} conflated, none queued)")


if __name__ == "__main__":
    main()
