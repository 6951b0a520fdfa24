"""`streamer swim ...` on the embedded feed and against a --host server."""

from __future__ import annotations

import json
import re
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


# --- numeric options are checked by the parser ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("swim", "read-streaming", "AAAA", "--count", "-3"), "--count"),
        (("swim", "read-streaming", "AAAA", "--count", "0"), "--count"),
        (("swim", "read-streaming", "AAAA", "--count", "many"), "--count"),
        (("swim", "read-streaming", "AAAA", "--duration", "-1"), "--duration"),
        (("swim", "read-streaming", "AAAA", "--duration", "nan"), "--duration"),
        (("swim", "read-streaming", "AAAA", "--sync-timeout", "-1"), "--sync-timeout"),
        (("swim", "read-adhoc", "AAAA", "--sync-timeout", "0"), "--sync-timeout"),
        (("swim", "read-streaming", "AAAA", "--feed-rate", "0"), "--feed-rate"),
        (("swim", "read-streaming", "AAAA", "--seed", "-1"), "--seed"),
        (("swim", "simulate", "--port", "70000"), "--port"),
        (("swim", "simulate", "--port", "-1"), "--port"),
        (("swim", "simulate", "--symbols", "0"), "--symbols"),
        (("swim", "simulate", "--feed-rate", "-5"), "--feed-rate"),
        (("demo", "--delay", "-1"), "--delay"),
        (("demo", "--seconds", "0"), "--seconds"),
        (("swim", "map-generate", "AAAA", "{}", "--count", "0"), "--count"),
        (("swim", "accumulate-generate", "AAAA", "average", "--max-attempts", "0"), "--max-attempts"),
        (("swim", "map-generate", "AAAA", "{}", "--batch", "-2"), "--batch"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_a_nonsense_number_is_one_line_naming_the_option(args: tuple[str, ...], option: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"argument {option}: " in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


# --- swim simulate ---------------------------------------------------------------------------


def test_simulate_on_port_0_prints_the_port_it_bound() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "swim", "simulate", "--port", "0", "--feed-rate", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"ws://127\.0\.0\.1:(\d+);", line)
        assert match is not None, line
        port = int(match.group(1))
        assert port > 0
        with DownlinkScanner(f"ws://127.0.0.1:{port}", "/stock/AAAA", "status", sync_timeout=10) as scanner:
            assert scanner.next(), scanner.err()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert process.returncode == 0


def test_simulate_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = swim("simulate", "--port", str(port))
    assert result.returncode == 1
    assert result.stdout == ""  # no "Serving ..." before the failure
    assert result.stderr.splitlines() == [
        f"streamer: error: cannot serve on 127.0.0.1:{port}: the address is already in use "
        "(choose another --port, or --port 0 for a free one)"
    ]


# --- operator errors ------------------------------------------------------------------------


def test_a_described_operator_without_its_parameter_names_the_parameter() -> None:
    result = swim("map-direct", "AAAA", '{"description":"apply exchange rate"}', "--count", "1")
    assert result.returncode == 1
    assert result.stderr.strip() == "streamer: error: exchange_rate needs the parameter(s) exchange_rate"


def test_a_bad_parameter_value_fails_before_streaming_starts() -> None:
    config = '{"description": "apply exchange rate", "parameters": {"exchange_rate": "lots"}}'
    result = swim("map-direct", "AAAA", config, "--count", "1")
    assert result.returncode == 1
    assert "Streaming data from" not in result.stderr
    assert result.stderr.strip() == "streamer: error: parameter 'exchange_rate' must be a number, got 'lots'"
    window = swim("accumulate-direct", "AAAA", "sma", "--operation-config", '{"window": 0}', "--count", "1")
    assert window.returncode == 1 and "Streaming data from" not in window.stderr
    assert "parameter 'window' must be a positive integer" in window.stderr


def test_the_config_shape_hint_matches_the_argument() -> None:
    positional = swim("map-direct", "AAAA", "{oops", "--count", "1")
    assert '(try \'{"description": "apply exchange rate", "parameters"' in positional.stderr
    option = swim("accumulate-direct", "AAAA", "sma", "--operation-config", "{oops", "--count", "1")
    assert "--operation-config is not valid JSON" in option.stderr
    assert "(try '{\"window\": 5}')" in option.stderr and "description" not in option.stderr


# --- output for people ----------------------------------------------------------------------


def test_floats_are_rounded_for_people_and_exact_in_json() -> None:
    config = '{"description": "apply exchange rate", "parameters": {"exchange_rate": 1.2}}'
    plain = swim("map-direct", "AAAA", config, "--count", "20", *FAST)
    assert plain.returncode == 0, plain.stderr
    numbers = re.findall(r"-?\d+\.\d+", plain.stdout)
    assert numbers and all(len(n.split(".")[1]) <= 4 for n in numbers)
    exact = swim("map-direct", "AAAA", config, "--count", "20", "--json", *FAST)
    records = [json.loads(line) for line in exact.stdout.splitlines()]
    assert all(r["result"] == r["price"] * 1.2 for r in records)
    assert any(len(repr(r["result"]).split(".")[1]) > 4 for r in records)  # full precision kept


def test_accumulate_direct_avg_is_labelled_avg() -> None:
    result = swim(
        "accumulate-direct", "AAAA", "avg", "--operation-config", '{"window_size": 3}', "--count", "3", *FAST
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("Result for AAAA: avg: ") for line in lines)
    records = swim("accumulate-direct", "AAAA", "avg", "--count", "2", "--json", *FAST).stdout.splitlines()
    assert [json.loads(line)["operator"] for line in records] == ["avg", "avg"]
