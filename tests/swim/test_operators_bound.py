"""The bound operators (``fx(rate)``, ``sma(window)``) compute exactly what the registry's do."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.swim import operators as ops
from streamer.swim.operators import OperatorConfigError

VALUES = st.lists(
    st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.integers(-1000, 1000)
    | st.booleans()
    | st.floats(0, 100).map(lambda price: {"price": price, "bid": 1})
    | st.floats(0, 100).map(repr),
    min_size=1,
    max_size=30,
)


@given(VALUES, st.floats(-10, 10, allow_nan=False) | st.integers(-5, 5) | st.just("1.2"))
def test_fx_is_exchange_rate_fn(values: list[Any], rate: Any) -> None:
    bound = ops.fx(rate)
    for value in values:
        got, want = bound(value), ops.exchange_rate_fn(value, {"exchange_rate": rate})
        assert repr(got) == repr(want)


@given(VALUES, st.integers(1, 8) | st.just("3"))
def test_sma_is_sma_fn(values: list[Any], window: Any) -> None:
    bound = ops.sma(window)
    acc: dict[str, Any] = {}
    reference: dict[str, Any] = {}
    for value in values:
        acc, got = bound(acc, value)
        reference, want = ops.sma_fn(reference, value, {"window": window})
        assert repr(got) == repr(want)
        assert acc == reference


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ops.fx("abc"), "'exchange_rate' must be a number"),
        (lambda: ops.fx(float("inf")), "'exchange_rate' must be finite"),
        (lambda: ops.sma(0), "'window' must be a positive integer"),
        (lambda: ops.sma("x"), "'window' must be a positive integer"),
    ],
)
def test_bound_operators_check_their_parameters_when_bound(make: Any, message: str) -> None:
    with pytest.raises(OperatorConfigError, match=message):
        make()


def test_a_bad_value_is_still_an_error_at_the_call() -> None:
    with pytest.raises(ValueError, match="could not convert"):
        ops.fx(1.2)("not a number")
