"""The simulator with real clients over loopback, and downlinks as scanners (warp and swimos transports)."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from streamer.errors import (
    BufferOverflow,
    Disconnected,
    LinkFailed,
    SyncTimeout,
    UsageError,
    WarpProtocolError,
)
from streamer.swim import downlink
from streamer.swim.downlink import AsyncDownlinkScanner, DownlinkScanner, Update, backoff
from streamer.testing.simulator import StockSimulator, StockTicker, symbol_name

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
    assert isinstance(scanner.err(), WarpProtocolError)
    assert "could not read" in str(scanner.err())
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


# --- a fake WARP server for exact faults ---------------------------------------------------------

Handler = Callable[[ServerConnection, int], None]


class FakeWarp:
    """A WARP server on 127.0.0.1 whose behaviour per connection is a test's function.

    ``handler(connection, n)`` runs for the n-th connection (0, 1, ...) after the client's first
    message (its @sync or @link) has been read.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake warp", daemon=True)

    def __enter__(self) -> FakeWarp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _handle(self, connection: ServerConnection) -> None:
        n = self.connections
        self.connections += 1
        try:
            connection.recv(timeout=5)
            self.handler(connection, n)
        except (ConnectionClosed, TimeoutError, OSError):
            pass


def synced(connection: ServerConnection, node: str = "/n", lane: str = "l", value: int = 0) -> None:
    connection.send(f'@linked(node:"{node}",lane:{lane})')
    connection.send(f'@event(node:"{node}",lane:{lane}){{v:{value}}}')
    connection.send(f'@synced(node:"{node}",lane:{lane})')


def abort(connection: ServerConnection) -> None:
    """Cut the TCP connection with no closing handshake, as a killed process would."""
    connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    connection.socket.close()


def wait_for_end(scanner: DownlinkScanner, seconds: float = 20) -> list[Update]:
    """Read until the scanner ends, with a deadline so that a scanner that never ends fails the test."""
    out: list[Update] = []
    result: list[bool] = []

    def run() -> None:
        while scanner.next():
            out.append(scanner.event())
        result.append(True)

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    reader.join(seconds)
    if not result:
        scanner.close()
        reader.join(5)
        pytest.fail(f"the scanner did not end within {seconds} s ({len(out)} updates, err {scanner.err()!r})")
    return out


# --- 1. reconnect=N is a bound ------------------------------------------------------------------


def test_reconnect_is_a_bound_for_a_server_that_syncs_then_drops() -> None:
    def sync_then_drop(connection: ServerConnection, n: int) -> None:
        synced(connection, value=n)
        time.sleep(0.05)
        abort(connection)

    with FakeWarp(sync_then_drop) as server:
        scanner = DownlinkScanner(server.url, "/n", "l", reconnect=2, capacity=100)
        updates = wait_for_end(scanner)
        scanner.close()
        connections = server.connections
    error = scanner.err()
    assert isinstance(error, Disconnected)
    assert error.attempts == 2 and error.cause is not None
    assert "after 2 reconnect attempts" in str(error)
    assert connections == 3  # the first connection and two reconnects, never more
    assert [u.value["v"] for u in updates] == [0, 1, 2]


def test_a_link_that_stays_healthy_starts_the_count_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downlink, "HEALTHY_AFTER", 0.3)

    def healthy_then_drop(connection: ServerConnection, n: int) -> None:
        synced(connection, value=n)
        for i in range(8):  # 0.6 s of updates, longer than HEALTHY_AFTER
            time.sleep(0.075)
            connection.send(f'@event(node:"/n",lane:l){{v:{n},i:{i}}}')
        abort(connection)

    with FakeWarp(healthy_then_drop) as server:
        with DownlinkScanner(server.url, "/n", "l", reconnect=1, capacity=1000) as scanner:
            seen: set[int] = set()
            while len(seen) < 4 and scanner.next():  # four drops in all, one reconnect allowed each time
                seen.add(scanner.event().value["v"])
            assert scanner.err() is None
        assert seen == {0, 1, 2, 3}


def test_backoff_is_full_jitter_growing_and_capped() -> None:
    for attempt in range(1, 12):
        bound = min(downlink.BACKOFF_CAP, downlink.BACKOFF_BASE * 2 ** (attempt - 1))
        samples = [backoff(attempt) for _ in range(200)]
        assert all(0 <= s <= bound for s in samples)
        assert max(samples) > bound / 2  # spread over the whole range, not a fixed delay
    assert downlink.BACKOFF_BASE * 2**11 > downlink.BACKOFF_CAP  # so the cap above was exercised


def test_reconnect_is_refused_on_the_swimos_transport(feed: StockSimulator) -> None:
    with pytest.raises(UsageError, match="reconnect=2 is not supported with transport='swimos'"):
        DownlinkScanner(feed.url, "/stock/AAAA", "status", transport="swimos", reconnect=2)
    with pytest.raises(UsageError, match="reconnect must be"):
        DownlinkScanner(feed.url, "/stock/AAAA", "status", reconnect=-1)


# --- 2. a lost server is reported -------------------------------------------------------------


SERVE = textwrap.dedent(
    """
    import sys
    from streamer.testing.simulator import StockSimulator
    simulator = StockSimulator(port=int(sys.argv[1]), rate=50)
    simulator.serve_forever()
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_a_killed_server_ends_the_scanner_with_disconnected_and_no_warning(transport: str) -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the simulator did not start")
                time.sleep(0.1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scanner = DownlinkScanner(f"ws://127.0.0.1:{port}", "/stock/AAAA", "status", transport=transport)
            assert len(take(scanner, 3)) == 3
            os.kill(server.pid, signal.SIGKILL)
            server.wait(10)
            started = time.monotonic()
            wait_for_end(scanner, seconds=15)
            elapsed = time.monotonic() - started
            scanner.close()
        assert isinstance(scanner.err(), Disconnected), scanner.err()
        assert elapsed < 10
        assert not [w for w in caught if "close frame" in str(w.message)]
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_a_server_that_closes_cleanly_ends_the_scanner_with_disconnected(transport: str) -> None:
    def sync_then_close(connection: ServerConnection, n: int) -> None:
        synced(connection, value=n)
        time.sleep(0.2)
        connection.close()

    with warnings.catch_warnings(record=True) as caught, FakeWarp(sync_then_close) as server:
        warnings.simplefilter("always")
        scanner = DownlinkScanner(server.url, "/n", "l", transport=transport)
        wait_for_end(scanner, seconds=15)
        scanner.close()
    assert isinstance(scanner.err(), Disconnected), scanner.err()
    assert not [w for w in caught if issubclass(w.category, UserWarning)]


# --- 4. nesting and frame limits: protocol errors, never retried --------------------------------


@pytest.mark.parametrize("poison", ["deep", "large"])
def test_a_poison_frame_is_a_protocol_error_and_is_not_retried(
    poison: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downlink, "MAX_FRAME", 4096)
    body = "{" * 5000 + "}" * 5000 if poison == "deep" else '{v:"' + "x" * 10_000 + '"}'

    def sync_then_poison(connection: ServerConnection, n: int) -> None:
        synced(connection)
        connection.send('@event(node:"/n",lane:l)' + body)
        time.sleep(1)

    with FakeWarp(sync_then_poison) as server:
        scanner = DownlinkScanner(server.url, "/n", "l", reconnect=5)
        wait_for_end(scanner)
        scanner.close()
        connections = server.connections
    assert isinstance(scanner.err(), WarpProtocolError), scanner.err()
    assert connections == 1


def test_swimos_poison_frame_is_a_protocol_error_too() -> None:
    def sync_then_poison(connection: ServerConnection, n: int) -> None:
        synced(connection)
        time.sleep(0.3)  # swimos runs did_sync as a task of its own: let it run first
        connection.send('@event(node:"/n",lane:l)' + "{" * 3000 + "}" * 3000)
        time.sleep(1)

    with FakeWarp(sync_then_poison) as server:
        scanner = DownlinkScanner(server.url, "/n", "l", transport="swimos")
        wait_for_end(scanner)
        scanner.close()
    assert isinstance(scanner.err(), WarpProtocolError), scanner.err()


# --- 5. close() within a second, in every state, from any thread --------------------------------


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_close_is_prompt_with_a_full_map_buffer_and_a_stopped_consumer(
    feed: StockSimulator, transport: str
) -> None:
    scanner = DownlinkScanner(
        feed.url, "/symbols", "stocks", kind="map", capacity=10, overflow_timeout=30, transport=transport
    )
    assert scanner.next()
    time.sleep(0.5)  # the transport now waits on the full buffer
    started = time.monotonic()
    scanner.close()
    assert time.monotonic() - started < 2  # 1 s promised; the old code took 5-10 s


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_close_from_another_thread_unblocks_a_blocked_next(transport: str) -> None:
    def sync_then_silence(connection: ServerConnection, n: int) -> None:
        synced(connection)
        while True:
            connection.recv(timeout=30)  # until the client goes (ConnectionClosed ends the handler)

    with FakeWarp(sync_then_silence) as server:
        scanner = DownlinkScanner(server.url, "/n", "l", transport=transport)
        assert scanner.next()
        results: list[bool] = []
        reader = threading.Thread(target=lambda: results.append(scanner.next()), daemon=True)
        reader.start()
        time.sleep(0.3)  # the reader is now blocked in next()
        started = time.monotonic()
        scanner.close()
        closed_in = time.monotonic() - started
        reader.join(5)
    assert results == [False] and scanner.err() is None
    assert closed_in < 2


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_close_is_prompt_while_connecting_or_syncing(transport: str) -> None:
    with socket.socket() as mute:  # accepts TCP connections and never answers the handshake
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        url = f"ws://127.0.0.1:{mute.getsockname()[1]}"
        buffer = downlink._Buffer(1, True, 5.0)
        cls = downlink._WarpTransport if transport == "warp" else downlink._SwimosTransport
        link = cls(url, "/n", "l", "value", buffer, 30.0, reconnect=0)
        time.sleep(0.3)
        started = time.monotonic()
        link.close()
        assert time.monotonic() - started < 2


# --- 6. SyncTimeout is a deadline -------------------------------------------------------------


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_sync_timeout_is_a_deadline_even_while_map_updates_arrive(transport: str) -> None:
    def updates_but_no_synced(connection: ServerConnection, n: int) -> None:
        connection.send('@linked(node:"/n",lane:l)')
        for i in range(100_000):
            connection.send(f'@event(node:"/n",lane:l)@update(key:k{i}){{v:{i}}}')
            time.sleep(0.001)

    with FakeWarp(updates_but_no_synced) as server:
        started = time.monotonic()
        # The unsynced state fills the small buffer: opening returns so that it can be read...
        scanner = DownlinkScanner(
            server.url, "/n", "l", kind="map", capacity=10, sync_timeout=1.0, transport=transport
        )
        updates = wait_for_end(scanner)  # ...and the deadline still ends the scanner
        elapsed = time.monotonic() - started
        scanner.close()
    assert isinstance(scanner.err(), SyncTimeout) and "did not sync within 1 s" in str(scanner.err())
    assert updates and all(u.action == "update" for u in updates)
    assert elapsed < 1.0 + 1.5  # promised: 1.5 s; the old code waited for the 5 s overflow timeout


def test_sync_timeout_raises_from_the_constructor_when_nothing_fills_the_buffer() -> None:
    def linked_only(connection: ServerConnection, n: int) -> None:
        connection.send('@linked(node:"/n",lane:l)')
        while True:
            connection.recv(timeout=30)

    with FakeWarp(linked_only) as server:
        started = time.monotonic()
        with pytest.raises(SyncTimeout, match="did not sync within 1 s"):
            DownlinkScanner(server.url, "/n", "l", kind="map", sync_timeout=1.0)
        assert time.monotonic() - started < 1.0 + 1.5


# --- 7. a dropped scanner releases its threads ------------------------------------------------


@pytest.mark.parametrize("transport", ["warp", "swimos"])
def test_a_scanner_dropped_without_close_is_closed_when_collected(
    feed: StockSimulator, transport: str
) -> None:
    before = set(threading.enumerate())
    scanner = DownlinkScanner(feed.url, "/stock/AAAA", "status", transport=transport)
    assert scanner.next()
    link = scanner._transport
    ours = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert ours
    del scanner
    gc.collect()
    assert link._closed
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in ours) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in ours if t.is_alive()]


# --- 9. previous is the value the consumer saw last, also when values were conflated ------------


def test_conflation_keeps_previous_equal_to_the_value_handed_out_last() -> None:
    buffer = downlink._Buffer(1, True, 5.0)

    def update(seq: int, previous: int | None) -> Update:
        return Update("/n", "l", seq, seq, 0.0, previous)

    buffer.put(update(1, None))
    assert buffer.get(0) == update(1, None)
    buffer.put(update(2, 1))
    buffer.put(update(3, 2))  # 2 is conflated away: the consumer never sees it
    buffer.put(update(4, 3))
    got = buffer.get(0)
    assert got is not None and (got.value, got.previous) == (4, 1)
    assert buffer.conflated == 2


# --- 10. the simulator's first tick -----------------------------------------------------------


def test_the_simulators_first_update_is_the_same_between_runs_with_the_same_seed() -> None:
    def first(seed: int) -> dict[str, Any]:
        with (
            StockSimulator(rate=2, seed=seed) as simulator,
            DownlinkScanner(simulator.url, "/stock/AAAB", "status") as scanner,
        ):
            assert scanner.next()
            value = dict(scanner.event().value)
        value.pop("timestamp")  # wall-clock time, the one field that is not seeded
        return value

    expected = dict(StockTicker("AAAB", 5).status)
    expected.pop("timestamp")
    assert first(5) == first(5) == expected


class FreezingProxy:
    """A TCP proxy on 127.0.0.1 that can stop forwarding while keeping both sockets open: a peer
    that went silent (a cable pulled, a frozen process), as opposed to one that closed."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frozen = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FreezingProxy:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in [self._accepting, *self._threads]:
            thread.join(5)

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self._listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not self.frozen.is_set():
                    dst.sendall(data)


def test_a_silent_server_is_detected_by_keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downlink, "KEEPALIVE", 0.5)

    def sync_then_tick(connection: ServerConnection, n: int) -> None:
        synced(connection)
        with contextlib.suppress(ConnectionClosed):
            for i in range(600):
                connection.send(f'@event(node:"/n",lane:l){{v:{i}}}')
                time.sleep(0.05)

    with FakeWarp(sync_then_tick) as server, FreezingProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
        scanner = DownlinkScanner(proxy.url, "/n", "l")
        assert len(take(scanner, 3)) == 3
        proxy.frozen.set()
        started = time.monotonic()
        wait_for_end(scanner, seconds=15)
        elapsed = time.monotonic() - started
        scanner.close()
    assert isinstance(scanner.err(), Disconnected), scanner.err()
    assert elapsed < 8  # two keep-alive periods of 0.5 s, with room for a busy machine


def test_async_aclose_from_another_task_ends_a_pending_next() -> None:
    import asyncio

    def sync_then_silence(connection: ServerConnection, n: int) -> None:
        synced(connection)
        while True:
            connection.recv(timeout=30)

    async def main(url: str) -> tuple[bool, float]:
        scanner = await AsyncDownlinkScanner.open(url, "/n", "l")
        assert await scanner.next()
        pending = asyncio.ensure_future(scanner.next())
        await asyncio.sleep(0.3)  # the task now waits for an update that never comes
        started = time.monotonic()
        await scanner.aclose()
        result = await asyncio.wait_for(pending, 5)
        return result, time.monotonic() - started

    with FakeWarp(sync_then_silence) as server:
        result, took = asyncio.run(main(server.url))
    assert result is False
    assert took < 2
