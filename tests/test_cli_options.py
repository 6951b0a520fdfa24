"""The argument types of numeric options accept exactly the sensible values."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.cli import options as opt


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_whole_numbers(value: int) -> None:
    for parse, low in ((opt.positive_int, 1), (opt.non_negative_int, 0)):
        if value >= low:
            assert parse(str(value)) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                parse(str(value))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_numbers_of_seconds(value: float) -> None:
    text = repr(value)
    for parse, ok in ((opt.positive_float, value > 0), (opt.non_negative_float, value >= 0)):
        if ok and math.isfinite(value):
            assert parse(text) == value
        else:
            with pytest.raises(argparse.ArgumentTypeError):
                parse(text)


@pytest.mark.parametrize("text", ["", "x", "1.5", "1e3", " ", "--1"])
def test_text_that_is_not_a_whole_number_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a whole number"):
        opt.positive_int(text)


def test_ports_and_status_codes() -> None:
    assert opt.port("0") == 0 and opt.port("65535") == 65535
    assert opt.status_code("429") == 429
    for parse, text in (
        (opt.port, "65536"),
        (opt.port, "-1"),
        (opt.status_code, "99"),
        (opt.status_code, "600"),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
