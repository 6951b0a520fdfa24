"""The simulator's ``max_ticks``: each symbol stops after that many ticks, over a real socket."""

from __future__ import annotations

import time

import pytest

from streamer.swim.downlink import DownlinkScanner
from streamer.testing.simulator import StockSimulator


def test_a_symbol_stops_after_max_ticks() -> None:
    with StockSimulator(cadence="drain", max_ticks=5) as feed:
        with DownlinkScanner(feed.url, "/stock/AAAA", "status", capacity=100) as scanner:
            deadline = time.monotonic() + 30  # generous: a shared machine; it takes milliseconds
            while scanner.received < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert scanner.received == 6  # the synced value, then the 5 ticks
            values = [scanner.event().value for _ in range(6) if scanner.next()]
            time.sleep(0.5)
            assert scanner.received == 6  # and no seventh
        assert len(values) == 6
        assert len({value["price"] for value in values[1:]}) > 1  # real ticks, not one value repeated
        assert feed.updates_sent == 5


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_max_ticks_must_be_a_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="max_ticks must be a whole number"):
        StockSimulator(max_ticks=bad)  # type: ignore[arg-type]
