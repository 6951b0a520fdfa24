"""`streamer swim ...` on the embedded feed and against a --host server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from streamer.swim.downlink import DownlinkScanner
from streamer.testing.simulator import StockSimulator

FAST = ("--feed-rate", "200")


def swim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamer", "swim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_read_streaming_json_lines_on_the_embedded_feed() -> None:
    result = swim("read-streaming", "AAAA", "--count", "5", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 5 and all(r["symbol"] == "AAAA" for r in records)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)


def test_read_streaming_prints_the_original_lines() -> None:
    result = swim("read-streaming", "AAAB", "--count", "3", *FAST)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("Streaming read result is: ") for line in lines)
    assert "embedded simulated feed" in result.stderr


def test_java_doubles_arrive_as_numbers_through_a_host() -> None:
    with StockSimulator(rate=300, java_doubles=True) as simulator:
        result = swim("read-streaming", "AAAA", "--host", simulator.url, "--count", "80", "--json")
    assert result.returncode == 0, result.stderr
    values = [json.loads(line)["value"] for line in result.stdout.splitlines()]
    assert len(values) == 80
    assert all(
        isinstance(v[field], (int, float))
        for v in values
        for field in ("timestamp", "price", "volume", "bid", "ask", "movement")
    )
    assert any(v["volume"] >= 1e7 for v in values)


def test_read_adhoc() -> None:
    result = swim("read-adhoc", "AAAC")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Ad-hoc read result for AAAC is: ")


def test_map_direct_applies_the_exchange_rate() -> None:
    config = '{"description": "apply exchange rate", "parameters": {"exchange_rate": "1.2"}}'
    result = swim("map-direct", "AAAA", config, "--count", "4", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    for record in map(json.loads, result.stdout.splitlines()):
        assert record["operator"] == "exchange_rate"
        assert record["result"] == pytest.approx(record["price"] * 1.2)


def test_filter_direct_keeps_prices_below_the_threshold() -> None:
    config = '{"description": "flag any values under 20", "parameters": {"threshold": 20}}'
    result = swim("filter-direct", "AAAA", config, "--count", "60", "--json", *FAST)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 60
    assert all(r["passed"] == (r["price"] < 20) for r in records)
    plain = swim("filter-direct", "AAAA", config, "--count", "60", *FAST)
    assert all(
        line.startswith("Price ") and line.endswith("meets the filter criteria.")
        for line in plain.stdout.splitlines()
    )


def test_accumulate_direct_average_with_a_window() -> None:
    result = swim(
        "accumulate-direct",
        "AAAA",
        "avg",
        "--operation-config",
        '{"window_size": 5}',
        "--count",
        "8",
        "--json",
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    prices = [r["value"] for r in records]
    for i, record in enumerate(records):
        window = prices[max(0, i - 4) : i + 1]
        assert record["result"] == pytest.approx(sum(window) / len(window))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("read-streaming", "AA AA", "--count", "1"), "is not a stock symbol"),
        (("map-direct", "AAAA", "{not json", "--count", "1"), "not valid JSON"),
        (
            ("map-direct", "AAAA", '{"description": "make it sparkle"}', "--count", "1"),
            "no built-in map operator",
        ),
        (("accumulate-direct", "AAAA", "median", "--count", "1"), "no accumulate operator named 'median'"),
        (("accumulate-direct", "AAAA", "sma", "--count", "1"), "needs the parameter(s) window"),
        (("read-streaming", "AAAA", "--host", "ws://127.0.0.1:9", "--sync-timeout", "1"), "cannot link"),
    ],
    ids=[
        "bad-symbol",
        "bad-json",
        "unknown-description",
        "unknown-operator",
        "missing-parameter",
        "unreachable-host",
    ],
)
def test_mistakes_get_one_line_errors(args: tuple[str, ...], message: str) -> None:
    result = swim(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_simulate_serves_until_interrupted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "swim", "simulate", "--port", str(port), "--feed-rate", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with DownlinkScanner(
                    f"ws://127.0.0.1:{port}", "/stock/AAAA", "status", sync_timeout=2
                ) as scanner:
                    assert scanner.next() and scanner.next()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_every_swim_subcommand_has_help() -> None:
    for command in (
        "simulate",
        "read-adhoc",
        "read-streaming",
        "map-direct",
        "filter-direct",
        "accumulate-direct",
    ):
        result = swim(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, command


def test_operators_builtin_lists_them() -> None:
    result = swim("operators-builtin")
    assert result.returncode == 0 and "sma" in result.stdout and "needs: window" in result.stdout


def test_ctrl_c_stops_streaming_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "swim", "read-streaming", "AAAA", "--feed-rate", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("Streaming read result is: ")  # it is streaming
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
