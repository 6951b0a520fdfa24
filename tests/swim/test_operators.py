"""Direct operators, each checked against an independent computation."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.scanner import Scanner
from streamer.swim import operators as ops
from streamer.swim.operators import OPERATORS, OperatorConfigError, lookup, resolve

PRICES = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=40)


def run(fn: Any, values: list[float], params: dict[str, Any]) -> list[Any]:
    acc: dict[str, Any] = {}
    out = []
    for value in values:
        acc, result = fn(acc, value, dict(params))
        out.append(result)
    return out


@given(PRICES)
def test_avg_is_the_running_mean(values: list[float]) -> None:
    got = run(ops.avg_fn, values, {})
    assert got == pytest.approx([statistics.fmean(values[: i + 1]) for i in range(len(values))])


@given(PRICES, st.integers(1, 8))
def test_sma_is_the_mean_of_the_last_window(values: list[float], window: int) -> None:
    got = run(ops.sma_fn, values, {"window": window})
    assert got == pytest.approx(
        [statistics.fmean(values[max(0, i + 1 - window) : i + 1]) for i in range(len(values))]
    )


@given(PRICES, st.floats(0.01, 1.0))
def test_ema_follows_its_recurrence(values: list[float], alpha: float) -> None:
    expected, current = [], None
    for v in values:
        current = v if current is None else alpha * v + (1 - alpha) * current
        expected.append(current)
    assert run(ops.ema_fn, values, {"alpha": alpha}) == pytest.approx(expected)


def test_ema_span_means_alpha_two_over_span_plus_one() -> None:
    assert run(ops.ema_fn, [1.0, 2.0], {"span": 3}) == pytest.approx([1.0, 1.5])


@given(PRICES)
def test_min_max_sum_count(values: list[float]) -> None:
    n = len(values)
    assert run(ops.min_fn, values, {}) == [min(values[: i + 1]) for i in range(n)]
    assert run(ops.max_fn, values, {}) == [max(values[: i + 1]) for i in range(n)]
    assert run(ops.sum_fn, values, {}) == pytest.approx([math.fsum(values[: i + 1]) for i in range(n)])
    assert run(ops.count_fn, values, {}) == list(range(1, n + 1))


@given(PRICES, st.integers(2, 8))
def test_stddev_is_the_sample_deviation_of_the_window(values: list[float], window: int) -> None:
    got = run(ops.stddev_fn, values, {"window": window})
    for i, result in enumerate(got):
        part = values[max(0, i + 1 - window) : i + 1]
        assert result == pytest.approx(statistics.stdev(part) if len(part) > 1 else 0.0, abs=1e-9)


def test_vwap_weights_by_volume() -> None:
    updates = [{"price": 10.0, "volume": 1.0}, {"price": 20.0, "volume": 3.0}]
    assert run(ops.vwap_fn, updates, {}) == pytest.approx([10.0, 17.5])  # type: ignore[arg-type]


def test_maps_and_filters() -> None:
    assert ops.exchange_rate_fn(10.0, {"exchange_rate": "1.2"}) == pytest.approx(12.0)
    assert ops.scale_fn(3.0, {"factor": 2}) == 6.0
    assert ops.round_fn(3.14159, {"digits": 3}) == 3.142
    assert ops.pct_change_fn(110.0, {"reference": 100}) == pytest.approx(10.0)
    assert ops.below_fn(19.99, {"threshold": 20}) and not ops.below_fn(20.0, {"threshold": 20})
    assert ops.above_fn(20.01, {"threshold": 20}) and not ops.above_fn(20.0, {"threshold": 20})
    assert ops.between_fn(5, {"low": 5, "high": 6}) and not ops.between_fn(6.5, {"low": 5, "high": 6})
    assert ops.change_exceeds_fn(111, {"reference": 100, "percent": 10})
    assert not ops.change_exceeds_fn(109, {"reference": 100, "percent": 10})


def test_bound_operators_compose_on_scanners() -> None:
    out = list(Scanner([1.0, 2.0, 3.0, 4.0]).map(ops.fx(10)).accumulate(ops.sma(2)))
    assert out == pytest.approx([10.0, 15.0, 25.0, 35.0])


def test_accumulate_with_the_contract_and_fresh_params_each_call() -> None:
    seen: list[dict[str, Any]] = []

    def spy(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        params["poison"] = True
        seen.append(params)
        return acc, value

    params = {"window": 2}
    list(Scanner([1.0, 2.0]).accumulate(spy, params))
    assert params == {"window": 2} and all(p is not params for p in seen)


@pytest.mark.parametrize(
    ("name", "kind", "params", "message"),
    [
        ("nope", "map", {}, "no map operator named 'nope'"),
        ("sma", "accumulate", {}, "needs the parameter(s) window"),
        ("below", "filter", {}, "needs the parameter(s) threshold"),
        ("sma", "map", {"window": 3}, "no map operator named 'sma'"),
    ],
)
def test_resolve_errors_say_what_to_fix(name: str, kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(OperatorConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(name, kind, params)


def test_bad_parameter_values_are_clear() -> None:
    with pytest.raises(OperatorConfigError, match="'window' must be a positive integer"):
        ops.sma_fn({}, 1.0, {"window": 0})
    with pytest.raises(OperatorConfigError, match="'threshold' must be a number"):
        ops.below_fn(1.0, {"threshold": "low"})


def test_avg_with_a_window_means_sma() -> None:
    assert resolve("avg", "accumulate", {"window_size": 5}).name == "sma"


@pytest.mark.parametrize(
    ("kind", "description", "params", "expected"),
    [
        ("accumulate", "simple moving average", {"window": 5}, ops.sma_fn),
        ("accumulate", "average", {"window_size": 5}, ops.sma_fn),
        ("accumulate", "average", {}, ops.avg_fn),
        ("map", "apply exchange rate", {"exchange_rate": 1.2}, ops.exchange_rate_fn),
        ("filter", "flag any values under 20", {"threshold": 20}, ops.below_fn),
        ("filter", "alert when above 80", {"threshold": 80}, ops.above_fn),
        ("map", "make it sparkle", {}, None),
    ],
)
def test_lookup_names_built_ins_from_descriptions(
    kind: str, description: str, params: dict[str, Any], expected: Any
) -> None:
    assert lookup(kind, description, params) is expected


def test_the_registry_has_every_operator_the_issue_names() -> None:
    names = {"avg", "mean", "sma", "ema", "min", "max", "sum", "count", "stddev", "vwap"}
    names |= {"exchange_rate", "scale", "round", "pct_change", "below", "above", "between", "change_exceeds"}
    assert names <= set(OPERATORS)
