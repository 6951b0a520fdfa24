"""The simulator with real clients over loopback, and downlinks as scanners (warp and swimos transports)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from streamer.errors import BufferOverflow, Disconnected, LinkFailed, SyncTimeout, WarpProtocolError
from streamer.swim.downlink import AsyncDownlinkScanner, DownlinkScanner
from streamer.testing.simulator import StockSimulator, symbol_name

FIELDS = {"timestamp", "price", "volume", "bid", "ask", "movement"}


@pytest.fixture
def feed() -> Iterator[StockSimulator]:
    with StockSimulator(rate=200, strict=True) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in set(threading.enumerate()) - before if t.is_alive()]
        if not extra:
            return
        time.sleep(0.05)
    pytest.fail(f"threads left behind: {[t.name for t in extra]}")


def take(scanner: DownlinkScanner, n: int) -> list[object]:
    out = []
    while len(out) < n and scanner.next():
        out.append(scanner.event())
    return out


def test_symbol_names_count_in_base_26() -> None:
    assert [symbol_name(i) for i in (0, 1, 25, 26, 19999)] == ["AAAA", "AAAB", "AAAZ", "AABA", "BDPF"]


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_value_downlink_syncs_then_streams_status_updates(feed: StockSimulator, transport: str) -> None:
    with DownlinkScanner(feed.url, "/stock/AAAA", "status", transport=transport) as scanner:
        updates = take(scanner, 20)
    assert len(updates) == 20
    first = updates[0]
    assert (first.node, first.lane) == ("/stock/AAAA", "status")  # type: ignore[attr-defined]
    assert set(first.value) == FIELDS  # type: ignore[attr-defined]
    assert [u.seq for u in updates] == sorted(u.seq for u in updates)  # type: ignore[attr-defined]
    assert all(0 <= u.value["price"] <= 100 for u in updates)  # type: ignore[attr-defined]
    assert updates[1].previous == updates[0].value  # type: ignore[attr-defined]


def test_values_are_seeded_and_deterministic() -> None:
    def prices(seed: int) -> list[float]:
        # A roomy buffer: nothing is conflated, so the sequence itself is compared.
        with (
            StockSimulator(rate=100, seed=seed) as simulator,
            DownlinkScanner(simulator.url, "/stock/AAAC", "status", capacity=1000) as s,
        ):
            return [u.value["price"] for u in take(s, 5)]  # type: ignore[attr-defined]

    assert prices(7) == prices(7)
    assert prices(7) != prices(8)


def test_map_lane_lists_the_symbols(feed: StockSimulator) -> None:
    with DownlinkScanner(feed.url, "/symbols", "stocks", kind="map") as scanner:
        updates = take(scanner, 100)
    assert {u.key for u in updates} == {symbol_name(i) for i in range(100)}  # type: ignore[attr-defined]
    assert all(u.action == "update" and set(u.value) == FIELDS for u in updates)  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["warp", "swimos"])
@pytest.mark.parametrize(("node", "lane"), [("/stock/ZZZZ", "status"), ("/stock/AAAA", "nope")])
def test_unknown_node_or_lane_is_a_clear_error_within_the_timeout(
    feed: StockSimulator, transport: str, node: str, lane: str
) -> None:
    started = time.monotonic()
    with pytest.raises(LinkFailed, match=f"{node} {lane}"):
        DownlinkScanner(feed.url, node, lane, transport=transport, sync_timeout=1.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_unreachable_host_fails_within_the_timeout_not_forever(transport: str) -> None:
    started = time.monotonic()
    with pytest.raises(LinkFailed):
        DownlinkScanner("ws://127.0.0.1:9", "/stock/AAAA", "status", transport=transport, sync_timeout=1.5)
    assert time.monotonic() - started < 3


def test_bad_host_uri_is_refused_at_once() -> None:
    with pytest.raises(LinkFailed, match="ws://HOST:PORT"):
        DownlinkScanner("http://example.invalid", "/stock/AAAA", "status")


def test_value_lane_conflates_for_a_slow_consumer_and_counts_it(feed: StockSimulator) -> None:
    with DownlinkScanner(feed.url, "/stock/AAAB", "status") as scanner:
        assert scanner.next()
        time.sleep(0.5)
        assert scanner.next()
        assert scanner.event().seq > 10  # the latest value, not the next one in line
        assert scanner.conflated > 10
        assert scanner.received >= scanner.conflated


def test_map_lane_never_drops_it_fails_with_overflow(feed: StockSimulator) -> None:
    scanner = DownlinkScanner(feed.url, "/symbols", "stocks", kind="map", capacity=10, overflow_timeout=0.3)
    time.sleep(1.0)
    received = 0
    while scanner.next():
        received += 1
    assert isinstance(scanner.err(), BufferOverflow)
    assert received == 10
    scanner.close()


def test_a_server_that_goes_away_ends_the_scanner_with_disconnected() -> None:
    simulator = StockSimulator(rate=100).start()
    scanner = DownlinkScanner(simulator.url, "/stock/AAAA", "status")
    take(scanner, 3)
    simulator.drop_connections()
    while scanner.next():
        pass
    assert isinstance(scanner.err(), Disconnected)
    scanner.close()
    simulator.stop()


def test_reconnect_resyncs_after_a_drop(feed: StockSimulator) -> None:
    with DownlinkScanner(feed.url, "/stock/AAAA", "status", reconnect=3) as scanner:
        take(scanner, 3)
        feed.drop_connections()
        before = scanner.received
        assert len(take(scanner, 10)) == 10
        assert scanner.received > before and scanner.err() is None


def test_undecodable_message_is_an_error_not_silence(feed: StockSimulator) -> None:
    with DownlinkScanner(feed.url, "/stock/AAAA", "status") as scanner:
        take(scanner, 2)
        feed.inject("this is not { recon")
        while scanner.next():
            pass
        assert isinstance(scanner.err(), WarpProtocolError)


def test_async_downlink_scanner(feed: StockSimulator) -> None:
    import asyncio

    async def main() -> list[float]:
        scanner = await AsyncDownlinkScanner.open(feed.url, "/stock/AAAD", "status")
        prices = []
        async with scanner:
            async for update in scanner:
                prices.append(update.value["price"])
                if len(prices) == 5:
                    break
        return prices

    assert len(asyncio.run(main())) == 5


def test_pipeline_of_direct_operators(feed: StockSimulator) -> None:
    from streamer.swim.operators import fx, sma

    with DownlinkScanner(feed.url, "/stock/AAAA", "status") as scanner:
        averages = scanner.map(lambda u: u.value["price"]).map(fx(2.0)).accumulate(sma(3))
        results = [averages.event() for _ in range(6) if averages.next()]
    assert len(results) == 6 and all(0 <= r <= 200 for r in results)


# --- the swimos client's faults, kept away from users ------------------------------------------


def test_swimos_numbers_with_exponents_arrive_as_none_there_and_intact_here() -> None:
    with StockSimulator(rate=300, java_doubles=True) as simulator:
        with DownlinkScanner(simulator.url, "/stock/AAAA", "status") as ours:
            volumes = [u.value["volume"] for u in take(ours, 60)]  # type: ignore[attr-defined]
        with DownlinkScanner(simulator.url, "/stock/AAAA", "status", transport="swimos") as theirs:
            swimos_volumes = [u.value["volume"] for u in take(theirs, 60)]  # type: ignore[attr-defined]
    assert all(isinstance(v, (int, float)) for v in volumes)
    assert any(v >= 1e7 for v in volumes)
    assert None in swimos_volumes  # swimos turns 4.7E7 into a placeholder; we make it None, not garbage


def test_two_swimos_scanners_on_one_host_are_independent(feed: StockSimulator) -> None:
    first = DownlinkScanner(feed.url, "/stock/AAAA", "status", transport="swimos")
    second = DownlinkScanner(feed.url, "/stock/AAAB", "status", transport="swimos")
    assert len(take(first, 3)) == 3 and len(take(second, 3)) == 3
    first.close()  # with one shared client, this would silently stop the second downlink
    assert len(take(second, 10)) == 10
    second.close()


def test_swimos_errors_reach_err_not_warnings(feed: StockSimulator) -> None:
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scanner = DownlinkScanner(feed.url, "/stock/AAAA", "status", transport="swimos")
        take(scanner, 2)
        feed.inject("{1,2,3}")  # kills swimos's receive loop
        deadline = time.monotonic() + 5
        while scanner.next() and time.monotonic() < deadline:
            pass
        scanner.close()
    assert isinstance(scanner.err(), Disconnected)
    assert not [w for w in caught if "swimos" in str(w.filename)]
    assert list(warnings.filters) == filters


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_a_script_that_forgets_close_still_exits(feed: StockSimulator, transport: str) -> None:
    script = textwrap.dedent(
        f"""
        from streamer.swim.downlink import DownlinkScanner
        scanner = DownlinkScanner({feed.url!r}, "/stock/AAAA", "status", transport={transport!r})
        scanner.next()
        print("read one")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "read one" in result.stdout


def test_sync_timeout_is_its_own_error() -> None:
    assert issubclass(SyncTimeout, LinkFailed)
