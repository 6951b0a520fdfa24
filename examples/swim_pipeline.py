"""A SwimOS pipeline on the embedded simulated stock feed (offline): map, moving average, alert.

`prices.map(fx(1.2)).accumulate(sma(5))`, with a threshold alert, over a few seconds of live ticks.
Pass a host (`python examples/swim_pipeline.py ws://...`) to read a real SwimOS server instead.
"""

from __future__ import annotations

import sys
import time

from streamer.swim.downlink import DownlinkScanner
from streamer.swim.operators import fx, sma
from streamer.testing.simulator import StockSimulator

SECONDS = 3.0
THRESHOLD = 50.0


def pipeline(host: str) -> int:
    with DownlinkScanner(host, "/stock/AAAA", "status") as ticks:
        prices = ticks.map(lambda update: float(update.value["price"]))
        averages = prices.map(fx(1.2)).accumulate(sma(5))
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline and averages.next():
            average = averages.event()
            alert = "  <- below threshold" if average < THRESHOLD else ""
            print(f"price {prices.event():6.2f} USD   5-tick average {average:6.2f} EUR{alert}", flush=True)
        if averages.err() is not None:
            print(f"feed failed: {averages.err()}", file=sys.stderr)
            return 1
    return 0


def main() -> int:
    if len(sys.argv) > 1:
        return pipeline(sys.argv[1])
    with StockSimulator(rate=20) as feed:
        print(f"(the embedded simulated stock feed, {feed.url})", file=sys.stderr)
        return pipeline(feed.url)


if __name__ == "__main__":
    sys.exit(main())
