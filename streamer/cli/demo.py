"""The SwimOS part of the offline demo: a pipeline over the embedded simulated stock feed."""

from __future__ import annotations

import time

from ..swim.downlink import DownlinkScanner
from ..swim.operators import below_fn, fx, sma
from ..testing.simulator import StockSimulator
from .display import plural

__all__ = ["run_pipeline"]


def run_pipeline(
    seconds: float = 10.0, *, symbol: str = "AAAA", rate: float = 10.0, threshold: float = 40.0
) -> int:
    """Exchange-rate map, 5-tick moving average and a threshold alert over live ticks for ``seconds``."""
    with StockSimulator(rate=rate) as feed:
        print(f"   (the embedded simulated WARP stock feed at {feed.url}, {rate:g} ticks/s)")
        print(f"   {'tick':>4}  {'USD':>7}  {'EUR (x0.92)':>11}  {'5-tick avg':>10}")
        deadline = time.monotonic() + seconds
        alerts = 0
        with DownlinkScanner(feed.url, f"/stock/{symbol}", "status") as ticks:
            usd = ticks.map(lambda update: float(update.value["price"]))
            eur = usd.map(fx(0.92))
            count = 0
            average = eur.accumulate(sma(5))
            while time.monotonic() < deadline and average.next():
                count += 1
                price_eur, mean = eur.event(), average.event()
                alert = below_fn(mean, {"threshold": threshold})
                alerts += alert
                flag = f"  ALERT: average below {threshold:g}" if alert else ""
                print(
                    f"   {count:>4}  {usd.event():>7.2f}  {price_eur:>11.2f}  {mean:>10.2f}{flag}", flush=True
                )
            error = average.err()
        if error is not None:
            print(f"   feed failed: {error}")
            return 1
        skipped = ticks.conflated
        print(
            f"   [{plural(count, 'tick')}, {plural(alerts, 'alert')}; {plural(skipped, 'tick')} skipped "
            "for a slow consumer (conflation)]"
        )
    return 0
