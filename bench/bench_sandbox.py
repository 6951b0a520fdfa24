"""Benchmark: updates per second through a generated, sandboxed SMA operator against a direct SMA.

Run: .venv/bin/python bench/bench_sandbox.py [--updates N] [--repeat R]

The sandboxed operator runs in a separate worker process (RestrictedPython guards, output checks,
fresh params and acc per update, and the OS wall: seccomp + Landlock where the kernel has them);
``run_batch`` sends many updates per pipe round trip. The direct
SMA is plain Python in this process. Also printed: worker start-up and single-update round trip.
Goal: >= 50,000 updates/s through the sandbox with batching.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from typing import Any

from streamer.swim.sandbox import compile_operator

GENERATED_SMA = '''def func(acc: dict, new_value: float, params: dict) -> tuple:
    """Simple moving average over the last `window` prices (as a model writes it)."""
    window = params.get("window", 5)
    prices = acc.get("prices", [])
    prices.append(new_value)
    if len(prices) > window:
        prices = prices[-window:]
    acc["prices"] = prices
    return acc, sum(prices) / len(prices)
'''


def direct_sma(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The direct operator: same contract and meaning, no sandbox."""
    window = params["window"]
    prices = acc.get("prices", [])
    prices.append(value)
    if len(prices) > window:
        del prices[0]
    acc["prices"] = prices
    return acc, sum(prices) / len(prices)


def best_rate(fn: Any, n: int, repeat: int) -> float:
    """Best-of-``repeat`` updates per second for ``fn()`` processing ``n`` updates."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / min(times)


def worker_cpu(op: Any) -> float:
    """CPU seconds the operator's worker process has used so far (Linux /proc; 0.0 elsewhere)."""
    worker = op._box[0]
    try:
        with open(f"/proc/{worker.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, AttributeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_rate(op: Any, fn: Any, n: int) -> float:
    """Updates per CPU second (host + worker): what the sandbox costs, whatever else loads the machine."""
    host, work = time.process_time(), worker_cpu(op)
    fn()
    spent = (time.process_time() - host) + (worker_cpu(op) - work)
    return n / spent if spent > 0 else float("inf")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    prices = [round(rng.uniform(10, 50), 2) for _ in range(args.updates)]
    params = {"window": 5}

    def run_direct() -> None:
        acc: dict[str, Any] = {}
        for p in prices:
            acc, _ = direct_sma(acc, p, params)

    direct = best_rate(run_direct, len(prices), args.repeat)

    starts = []
    for _ in range(5):
        t = time.perf_counter()
        op = compile_operator("accumulate", GENERATED_SMA)
        starts.append(time.perf_counter() - t)
        op.close()

    op = compile_operator("accumulate", GENERATED_SMA)
    with op:
        wall = op.os_wall.describe() if op.os_wall is not None else "unknown"
        single_n = 2000

        def run_single() -> None:
            acc: dict[str, Any] = {}
            for p in prices[:single_n]:
                acc, _ = op(acc, p, params)

        single = best_rate(run_single, single_n, args.repeat)
        rows = [("direct SMA (in process)", direct), ("sandboxed, 1 update per round trip", single)]
        cpu_rows: list[tuple[str, float]] = []
        for batch in (64, 512, 4096):

            def run_batched(batch: int = batch) -> None:
                acc: dict[str, Any] = {}
                for i in range(0, len(prices), batch):
                    acc, _ = op.run_batch(prices[i : i + batch], params, acc)

            rows.append((f"sandboxed, batches of {batch}", best_rate(run_batched, len(prices), args.repeat)))
            cpu_rows.append((f"sandboxed, batches of {batch}", cpu_rate(op, run_batched, len(prices))))
        # same answers: the sandbox is checked against the direct operator on this very input
        _, got = op.run_batch(prices[:4096], params, {})
    acc: dict[str, Any] = {}
    want = []
    for p in prices[:4096]:
        acc, r = direct_sma(acc, p, params)
        want.append(r)
    assert all(abs(a - b) < 1e-9 for a, b in zip(got, want)), "sandboxed SMA disagrees with the direct SMA"

    print(wall)
    print(f"worker start-up (compile_operator): median {statistics.median(starts) * 1000:.1f} ms")
    print(f"single-update round trip: {1e6 / single:.0f} us")
    print(f"{'path':<40} {'updates/s':>12} {'vs direct':>10}")
    for name, rate in rows:
        print(f"{name:<40} {rate:>12,.0f} {rate / direct:>9.3f}x")
    for name, rate in cpu_rows:
        print(f"{name + ' (per CPU second)':<40} {rate:>12,.0f}")
    print(
        f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall-clock rates drop with it)"
    )
    best = max(rate for name, rate in rows if name.startswith("sandboxed, batches"))
    verdict = "meets" if best >= 50_000 else "MISSES"
    print(f"best batched sandbox rate {best:,.0f}/s {verdict} the 50,000/s goal")


if __name__ == "__main__":
    main()
