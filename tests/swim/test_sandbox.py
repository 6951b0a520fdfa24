"""Benign operators, written the way models write them, run in the sandbox and compute correctly."""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.errors import OperatorFailed, OperatorRejected
from streamer.swim.sandbox import (
    SAMPLE_PRICES,
    AccumulateOperator,
    Limits,
    MapOperator,
    compile_operator,
    verify_operator,
)

PRICES = [20.0, 21.5, 19.25, 22.0, 18.75, 25.0, 24.5, 23.0, 30.25, 17.5, 20.0, 20.0]


def sma(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """An independent SMA for checking (not the package's)."""
    window = params.get("window", 5)
    values = ([*acc.get("values", []), value])[-window:]
    return {"values": values}, sum(values) / len(values)


def fold(step: Callable[..., tuple[dict[str, Any], Any]], params: dict[str, Any]) -> list[Any]:
    """Run a plain-Python accumulator over PRICES."""
    acc: dict[str, Any] = {}
    out = []
    for p in PRICES:
        acc, r = step(acc, p, params)
        out.append(r)
    return out


def running(fn: Callable[[list[float]], Any]) -> list[Any]:
    """fn applied to each prefix of PRICES."""
    return [fn(PRICES[: i + 1]) for i in range(len(PRICES))]


def ema_ref(alpha: float) -> list[float]:
    out, e = [], None
    for p in PRICES:
        e = p if e is None else alpha * p + (1 - alpha) * e
        out.append(e)
    return out


def drawdown_ref() -> list[float]:
    out, peak, worst = [], -math.inf, 0.0
    for p in PRICES:
        peak = max(peak, p)
        worst = max(worst, (peak - p) / peak)
        out.append(worst)
    return out


def crossings_ref(threshold: float) -> list[int]:
    out, count, prev = [], 0, None
    for p in PRICES:
        if prev is not None and prev <= threshold < p:
            count += 1
        prev = p
        out.append(count)
    return out


# (source, params, expected results over PRICES)
ACCUMULATE: dict[str, tuple[str, dict[str, Any], list[Any]]] = {
    "sma-list-slice": (
        '''def func(acc: dict, new_value: float, params: dict) -> tuple:
    """Simple moving average over the last `window` prices."""
    window = params.get("window", 5)
    prices = acc.get("prices", [])
    prices.append(new_value)
    if len(prices) > window:
        prices = prices[-window:]
    acc["prices"] = prices
    return acc, sum(prices) / len(prices)
''',
        {"window": 5},
        fold(sma, {"window": 5}),
    ),
    "sma-pop-typing": (
        """from typing import Dict, Tuple, Any

def moving_average(acc: Dict[str, Any], new_value: float, params: Dict[str, Any]) -> Tuple[Dict[str, Any], float]:
    window_size: int = int(params["window"])
    window = acc.setdefault("window", [])
    window.append(new_value)
    while len(window) > window_size:
        window.pop(0)
    average = sum(window) / len(window)
    return acc, average
""",
        {"window": 3},
        fold(sma, {"window": 3}),
    ),
    "ema": (
        """def func(acc, new_value, params):
    alpha = params.get("alpha", 0.5)
    if "ema" not in acc:
        acc["ema"] = new_value
    else:
        acc["ema"] = alpha * new_value + (1 - alpha) * acc["ema"]
    return acc, acc["ema"]
""",
        {"alpha": 0.3},
        ema_ref(0.3),
    ),
    "running-max": (
        """def func(acc, new_value, params):
    acc["max"] = max(acc.get("max", new_value), new_value)
    return acc, acc["max"]
""",
        {},
        running(max),
    ),
    "running-min": (
        """def func(acc, new_value, params):
    current = acc.get("min")
    if current is None or new_value < current:
        acc["min"] = new_value
    return acc, acc["min"]
""",
        {},
        running(min),
    ),
    "count-augassign": (
        """def func(acc, new_value, params):
    acc["count"] = acc.get("count", 0)
    acc["count"] += 1
    return acc, acc["count"]
""",
        {},
        list(range(1, len(PRICES) + 1)),
    ),
    "running-sum": (
        """def func(acc, new_value, params):
    total = acc.get("total", 0.0) + new_value
    acc["total"] = total
    return acc, total
""",
        {},
        running(sum),
    ),
    "cumulative-average": (
        """def func(acc, new_value, params):
    n = acc.get("n", 0) + 1
    total = acc.get("sum", 0.0) + new_value
    acc.update({"n": n, "sum": total})
    return acc, total / n
""",
        {},
        running(lambda xs: sum(xs) / len(xs)),
    ),
    "rolling-pstdev-statistics": (
        """import statistics

def func(acc, new_value, params):
    w = params["window"]
    xs = (acc.get("xs", []) + [new_value])[-w:]
    acc["xs"] = xs
    return acc, statistics.pstdev(xs)
""",
        {"window": 4},
        running(lambda xs: statistics.pstdev(xs[-4:])),
    ),
    "rolling-median": (
        """from statistics import median

def func(acc, new_value, params):
    history = acc.get("history", [])
    history = history[-(params["window"] - 1):] + [new_value] if params["window"] > 1 else [new_value]
    acc["history"] = history
    return acc, median(history)
""",
        {"window": 3},
        running(lambda xs: statistics.median(xs[-3:])),
    ),
    "percent-change-from-first": (
        """def func(acc, new_value, params):
    if "first" not in acc:
        acc["first"] = new_value
    change = (new_value - acc["first"]) / acc["first"] * 100.0
    return acc, round(change, 4)
""",
        {},
        [round((p - PRICES[0]) / PRICES[0] * 100.0, 4) for p in PRICES],
    ),
    "delta-from-previous": (
        """def func(acc, new_value, params):
    previous = acc.get("previous")
    acc["previous"] = new_value
    if previous is None:
        return acc, 0.0
    return acc, new_value - previous
""",
        {},
        [0.0] + [b - a for a, b in itertools.pairwise(PRICES)],
    ),
    "bollinger-upper": (
        """import math

def func(acc, new_value, params):
    window = params.get("window", 5)
    k = params.get("k", 2)
    values = acc.get("values", [])[-(window - 1):] + [new_value]
    acc["values"] = values
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return acc, {"middle": mean, "upper": mean + k * math.sqrt(variance)}
""",
        {"window": 5, "k": 2},
        running(
            lambda xs: {
                "middle": sum(xs[-5:]) / len(xs[-5:]),
                "upper": sum(xs[-5:]) / len(xs[-5:]) + 2 * statistics.pstdev(xs[-5:]),
            }
        ),
    ),
    "high-low-range": (
        """def func(acc, new_value, params):
    recent = acc.get("recent", [])
    recent.append(new_value)
    recent = recent[-params["window"]:]
    acc["recent"] = recent
    return acc, max(recent) - min(recent)
""",
        {"window": 4},
        running(lambda xs: max(xs[-4:]) - min(xs[-4:])),
    ),
    "threshold-crossings": (
        """def func(acc, new_value, params):
    threshold = params["threshold"]
    prev = acc.get("prev")
    crossings = acc.get("crossings", 0)
    if prev is not None and prev <= threshold < new_value:
        crossings += 1
    acc["prev"] = new_value
    acc["crossings"] = crossings
    return acc, crossings
""",
        {"threshold": 20.0},
        crossings_ref(20.0),
    ),
    "max-drawdown": (
        """def func(acc, new_value, params):
    peak = max(acc.get("peak", new_value), new_value)
    drawdown = (peak - new_value) / peak
    worst = max(acc.get("worst", 0.0), drawdown)
    acc["peak"], acc["worst"] = peak, worst
    return acc, worst
""",
        {},
        drawdown_ref(),
    ),
    "ups-and-downs-summary": (
        """def func(acc, new_value, params):
    last = acc.get("last")
    ups = acc.get("ups", 0)
    downs = acc.get("downs", 0)
    if last is not None:
        if new_value > last:
            ups += 1
        elif new_value < last:
            downs += 1
    acc = {"last": new_value, "ups": ups, "downs": downs}
    summary = f"{ups} up, {downs} down"
    return acc, summary
""",
        {},
        running(
            lambda xs: (
                f"{sum(b > a for a, b in itertools.pairwise(xs))} up, {sum(b < a for a, b in itertools.pairwise(xs))} down"
            )
        ),
    ),
    "list-result-pair": (
        """def func(acc, value, params):
    acc["n"] = acc.get("n", 0) + 1
    return [acc, [acc["n"], value]]
""",
        {},
        [[i + 1, p] for i, p in enumerate(PRICES)],
    ),
}

MAP: dict[str, tuple[str, dict[str, Any], Callable[[float], float]]] = {
    "exchange-rate": (
        """def func(new_value: float, operation_config: dict) -> float:
    # Apply the exchange rate to the stock price
    exchange_rate = operation_config.get("exchange_rate", 1.0)
    return new_value * exchange_rate
""",
        {"exchange_rate": 1.2},
        lambda v: v * 1.2,
    ),
    "round-two-decimals": (
        "def func(value, params):\n    return round(value * params['rate'], 2)\n",
        {"rate": 0.913},
        lambda v: round(v * 0.913, 2),
    ),
    "log-return": (
        "import math\n\ndef func(value, params):\n    return math.log(value / params['reference'])\n",
        {"reference": 20.0},
        lambda v: math.log(v / 20.0),
    ),
    "percent-of-threshold": (
        "def func(value, params):\n    return 100.0 * value / params['threshold']\n",
        {"threshold": 25},
        lambda v: 100.0 * v / 25,
    ),
    "clamp": (
        "def func(value, params):\n    lo, hi = params['min'], params['max']\n    return min(max(value, lo), hi)\n",
        {"min": 19.0, "max": 24.0},
        lambda v: min(max(v, 19.0), 24.0),
    ),
    "to-cents-int": (
        "def func(value, params):\n    return int(round(value * 100))\n",
        {},
        lambda v: float(round(v * 100)),
    ),
    "sqrt-from-math-import": (
        "from math import sqrt\n\ndef func(value, params):\n    return sqrt(value)\n",
        {},
        math.sqrt,
    ),
    "fee-default": (
        "def apply_fee(price, params):\n    fee = params.get('fee', 0.01)\n    return price * (1 - fee)\n",
        {},
        lambda v: v * 0.99,
    ),
    "try-except-fallback": (
        """def func(value, params):
    try:
        return value / params["divisor"]
    except (KeyError, ZeroDivisionError):
        return value
""",
        {"divisor": 0},
        lambda v: v,
    ),
    "lambda-helper": (
        "def func(value, params):\n    scale = lambda x: x * params['factor'] + params['offset']\n    return scale(value)\n",
        {"factor": 2.0, "offset": -1.5},
        lambda v: v * 2.0 - 1.5,
    ),
    "helper-and-constant": (
        '''"""Convert USD prices to EUR."""
import math

DEFAULT_RATE = 0.92


def convert(amount, rate):
    return amount * rate


def func(value, params):
    rate = params.get("rate", DEFAULT_RATE)
    return math.floor(convert(value, rate) * 1000) / 1000
''',
        {},
        lambda v: math.floor(v * 0.92 * 1000) / 1000,
    ),
    "unicode-comment-and-string": (
        "def func(value, params):\n    # Umrechnung in € (Euro) — Kurs aus params\n    label = 'Preis in €'\n    return value * params['kurs'] if label else 0.0\n",
        {"kurs": 0.5},
        lambda v: v * 0.5,
    ),
}

FILTER: dict[str, tuple[str, dict[str, Any], Callable[[float], bool]]] = {
    "below-threshold": (
        """def func(new_value: float, operation_config: dict) -> bool:
    \"\"\"Alert when the price drops below the threshold.\"\"\"
    return new_value < operation_config["threshold"]
""",
        {"threshold": 20},
        lambda v: v < 20,
    ),
    "above-threshold-if-else": (
        "def func(value, params):\n    if value > params['threshold']:\n        return True\n    else:\n        return False\n",
        {"threshold": 22.5},
        lambda v: v > 22.5,
    ),
    "within-band": (
        "def func(value, params):\n    return params['low'] <= value <= params['high']\n",
        {"low": 19.5, "high": 23.0},
        lambda v: 19.5 <= v <= 23.0,
    ),
    "bool-wrapped": (
        "def func(value, params):\n    return bool(value >= params.get('min_price', 0))\n",
        {"min_price": 21},
        lambda v: v >= 21,
    ),
    "whole-number": ("def func(value, params):\n    return value % 1 == 0\n", {}, lambda v: v % 1 == 0),
    "math-isfinite-and": (
        "import math\n\ndef func(value, params):\n    return math.isfinite(value) and value != 20.0\n",
        {},
        lambda v: v != 20.0,
    ),
    "any-of-levels": (
        "def func(value, params):\n    return any(abs(value - level) < 0.5 for level in params['levels'])\n",
        {"levels": [20.0, 25.0]},
        lambda v: any(abs(v - lv) < 0.5 for lv in (20.0, 25.0)),
    ),
    "isinstance-guard": (
        "def func(value, params):\n    if not isinstance(value, (int, float)):\n        return False\n    return value < 19\n",
        {},
        lambda v: v < 19,
    ),
}


@pytest.mark.parametrize("case", list(ACCUMULATE))
def test_benign_accumulator_computes_correctly(case: str) -> None:
    source, params, expected = ACCUMULATE[case]
    with compile_operator("accumulate", source) as op:
        _, results = op.run_batch(PRICES, params, {})
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        elif isinstance(want, dict):
            assert got == pytest.approx(want, rel=1e-12)
        else:
            assert got == want


@pytest.mark.parametrize("case", list(MAP))
def test_benign_map_computes_correctly(case: str) -> None:
    source, params, ref = MAP[case]
    with compile_operator("map", source) as op:
        assert op.run_batch(PRICES, params) == pytest.approx([ref(p) for p in PRICES], rel=1e-12)


@pytest.mark.parametrize("case", list(FILTER))
def test_benign_filter_computes_correctly(case: str) -> None:
    source, params, ref = FILTER[case]
    with compile_operator("filter", source) as op:
        assert op.run_batch(PRICES, params) == [ref(p) for p in PRICES]


def test_there_are_at_least_thirty_benign_operators() -> None:
    assert len(ACCUMULATE) + len(MAP) + len(FILTER) >= 30


def test_single_calls_follow_the_operator_contracts() -> None:
    with compile_operator("accumulate", ACCUMULATE["sma-list-slice"][0]) as acc_op:
        acc, result = acc_op({}, 10.0, {"window": 2})
        acc, result = acc_op(acc, 20.0, {"window": 2})
        assert (acc, result) == ({"prices": [10.0, 20.0]}, 15.0)
    with compile_operator("map", MAP["exchange-rate"][0]) as map_op:
        assert map_op(10.0, {"exchange_rate": 2}) == 20.0
    with compile_operator("filter", FILTER["below-threshold"][0]) as filter_op:
        assert filter_op(10.0, {"threshold": 20}) is True


def test_a_batch_equals_the_same_updates_one_by_one() -> None:
    source, params, _ = ACCUMULATE["ema"]
    with compile_operator("accumulate", source) as op:
        batch_acc, batch = op.run_batch(PRICES, params, {})
        acc: dict[str, Any] = {}
        single = []
        for p in PRICES:
            acc, r = op(acc, p, params)
            single.append(r)
    assert (batch_acc, batch) == (acc, single)


def test_batches_are_bounded() -> None:
    with (
        compile_operator("map", MAP["exchange-rate"][0], limits=Limits(max_batch=3)) as op,
        pytest.raises(OperatorFailed, match="at most 3"),
    ):
        op.run_batch([1.0, 2.0, 3.0, 4.0])


def test_inputs_must_be_finite_numbers() -> None:
    with (
        compile_operator("map", MAP["exchange-rate"][0]) as op,
        pytest.raises(OperatorFailed, match="finite numbers"),
    ):
        op(math.nan)


def test_params_must_be_json_data() -> None:
    with (
        compile_operator("map", MAP["exchange-rate"][0]) as op,
        pytest.raises(OperatorFailed, match="params must be JSON data"),
    ):
        op(1.0, {"rate": object()})


def test_verification_passes_against_a_matching_direct_operator() -> None:
    with compile_operator("accumulate", ACCUMULATE["sma-list-slice"][0]) as op:
        verdict = verify_operator(op, {"window": 5}, reference=sma, reference_name="SMA(5)")
    assert verdict.ok
    assert verdict.checked == len(SAMPLE_PRICES)
    assert "verified" in verdict.describe() and "SMA(5)" in verdict.describe()


def test_verification_refuses_a_plausible_but_wrong_operator_naming_the_first_difference() -> None:
    off_by_one = """def func(acc, new_value, params):
    prices = (acc.get("prices", []) + [new_value])[-params["window"]:]
    acc["prices"] = prices
    return acc, sum(prices) / params["window"]
"""
    with compile_operator("accumulate", off_by_one) as op, pytest.raises(OperatorRejected) as info:
        verify_operator(op, {"window": 5}, reference=sma, reference_name="SMA(5)")
    assert info.value.rule == "verification"
    assert "sample update #0 (input 20.0)" in str(info.value)
    assert "expected 20.0" in str(info.value)


def test_verification_refuses_an_operator_that_fails_on_the_sample() -> None:
    with (
        compile_operator("map", "def func(value, params):\n    return 1 / (value - 18.0)\n") as op,
        pytest.raises(OperatorRejected, match="failed on the fixed sample"),
    ):
        verify_operator(op)


def test_close_stops_the_worker_and_a_later_call_restarts_it() -> None:
    op = compile_operator("map", MAP["exchange-rate"][0])
    assert isinstance(op, MapOperator)
    op.close()
    assert op(2.0, {"exchange_rate": 3}) == 6.0
    op.close()


def test_compile_operator_returns_the_class_of_its_kind() -> None:
    with compile_operator("accumulate", ACCUMULATE["ema"][0]) as op:
        assert isinstance(op, AccumulateOperator)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
def test_sandboxed_sma_matches_a_plain_sma_on_any_input(
    shared_sma: AccumulateOperator, xs: list[float]
) -> None:
    acc: dict[str, Any] = {}
    expected = []
    for x in xs:
        acc, r = sma(acc, x, {"window": 5})
        expected.append(r)
    _, got = shared_sma.run_batch(xs, {"window": 5}, {})
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def shared_sma() -> Any:
    """One worker reused across hypothesis examples (the operator is benign and stateless between batches)."""
    with compile_operator("accumulate", ACCUMULATE["sma-list-slice"][0]) as op:
        yield op


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_the_static_check_only_ever_accepts_or_raises_operator_rejected(source: str) -> None:
    from streamer.swim.sandbox import check_operator_source

    with contextlib.suppress(OperatorRejected):
        check_operator_source("map", source)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "def func(value, params):",
                "    return value",
                "    x = (",
                "import math",
                "    return math.sqrt(v)",
                "'{0.__class__}'",
                "    return eval('1')",
                "\tpass",
                "lambda: 0",
                "class K:",
                "    yield 1",
                ")",
                "#",
            ]
        ),
        max_size=8,
    )
)
def test_the_static_check_handles_fragments_of_operators(lines: list[str]) -> None:
    from streamer.swim.sandbox import check_operator_source

    with contextlib.suppress(OperatorRejected):
        check_operator_source("map", "\n".join(lines))


def test_a_reply_larger_than_the_limit_kills_the_worker_and_fails() -> None:
    with compile_operator("map", MAP["exchange-rate"][0], limits=Limits(max_reply_bytes=200)) as op:
        with pytest.raises(OperatorFailed, match="max_reply_bytes"):
            op.run_batch([1.0] * 100, {"exchange_rate": 1.0})
        assert op(2.0, {"exchange_rate": 1.5}) == 3.0
        assert op.restarts == 1
