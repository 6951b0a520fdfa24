"""The static policy: hidden characters are refused anywhere (Trojan Source), benign code models write
is accepted, and verification compares numbers with a stated tolerance."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.errors import OperatorRejected
from streamer.swim.sandbox import (
    VERIFY_ABS_TOLERANCE,
    check_operator_source,
    compile_operator,
    verify_operator,
)

PLAIN = "def func(value, params):\n    return value * 2\n"

HIDDEN = {
    "esc-in-comment": "def func(value, params):\n    # \x1b]52;c;aGk=\x07 harmless?\n    return value\n",
    "esc-in-string": "def func(value, params):\n    return len('\x1b[2J') + value\n",
    "lone-cr": "def func(value, params):\n    return value\r# overwritten\n",
    "rlo-in-comment": "def func(value, params):\n    # \u202e }\u2066 reordered\n    return value\n",
    "rli-in-string": "def func(value, params):\n    s = 'admin\u2067 \u2069'\n    return value\n",
    "lrm": "def func(value, params):\n    return value  # \u200e\n",
    "nul": "def func(value, params):\n    return value\n\x00",
    "c1-csi": "def func(value, params):\n    return value  # \x9b2J\n",
    "lone-surrogate": "def func(value, params):\n    return value  # \ud800\n",
}


@pytest.mark.parametrize("case", list(HIDDEN))
def test_control_and_bidi_characters_are_refused_anywhere_in_the_source(case: str) -> None:
    with pytest.raises(OperatorRejected) as info:
        check_operator_source("map", HIDDEN[case])
    assert info.value.rule == "hidden-character"
    assert info.value.line >= 1
    assert "U+" in str(info.value)


def test_the_hidden_character_is_located() -> None:
    with pytest.raises(OperatorRejected) as info:
        check_operator_source("map", HIDDEN["esc-in-comment"])
    assert (info.value.line, info.value.col) == (2, 7)


def test_tabs_newlines_and_crlf_line_ends_are_fine() -> None:
    check_operator_source("map", "def func(value, params):\r\n\treturn value * 2\r\n")


CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n"]


@given(st.sampled_from([*CONTROLS, "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069"]))
def test_every_hidden_character_is_refused(ch: str) -> None:
    with pytest.raises(OperatorRejected, match="hidden-character"):
        check_operator_source("map", f"def func(value, params):\n    return value  # {ch}x\n")


BENIGN = {
    "bare-underscore-loop": (
        "def func(value, params):\n    total = 0.0\n    for _ in range(3):\n        total += value\n"
        "    return total\n",
        3.0,
    ),
    "underscore-in-unpacking": (
        "def func(value, params):\n    a, _ = (value, 0)\n    return a\n",
        1.0,
    ),
    "annotation-naming-object": (
        "def func(value: object, params: object) -> object:\n    x: object = value\n    return x\n",
        1.0,
    ),
    "annotated-local-without-value": (
        "def func(value: float, params: dict) -> float:\n    y: type\n    return value + 1\n",
        2.0,
    ),
}


@pytest.mark.parametrize("case", list(BENIGN))
def test_benign_code_models_write_is_accepted_and_runs(case: str) -> None:
    source, expected = BENIGN[case]
    with compile_operator("map", source) as op:
        assert op(1.0) == expected


def test_other_underscore_names_are_still_refused() -> None:
    for source in (
        "def func(value, params):\n    __x = 1\n    return value\n",
        "def func(value, params):\n    return value.__class__\n",
        "def func(_value, params):\n    return 1.0\n",
    ):
        with pytest.raises(OperatorRejected, match="underscore-name"):
            check_operator_source("map", source)


def test_annotations_are_stripped_so_they_never_run() -> None:
    # An annotation would run at definition time; after stripping, even a forbidden name there is inert.
    check_operator_source("map", "def func(value: eval, params: open) -> type:\n    return value\n")


def sma(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """An independent SMA reference."""
    prices = [*acc.get("prices", []), value][-params["window"] :]
    return {"prices": prices}, sum(prices) / len(prices)


ROUNDED_SMA = """def func(acc, value, params):
    prices = (acc.get("prices", []) + [value])[-params["window"]:]
    acc["prices"] = prices
    return acc, round(sum(prices) / len(prices), {digits})
"""


def test_verification_accepts_results_rounded_to_four_decimals() -> None:
    with compile_operator("accumulate", ROUNDED_SMA.format(digits=4)) as op:
        verdict = verify_operator(op, {"window": 6}, reference=sma, reference_name="SMA(6)")
    assert verdict.ok
    assert VERIFY_ABS_TOLERANCE == 1e-4


def test_verification_still_refuses_wrong_results() -> None:
    with (
        compile_operator("accumulate", ROUNDED_SMA.format(digits=1)) as op,
        pytest.raises(OperatorRejected) as info,
    ):
        verify_operator(op, {"window": 6}, reference=sma, reference_name="SMA(6)")
    assert info.value.rule == "verification"
    assert "numbers may differ by 0.0001" in str(info.value)


def test_verification_compares_inside_lists_and_dicts_with_the_tolerance() -> None:
    source = "def func(acc, value, params):\n    return acc, {'v': [round(value / 3, 5)]}\n"

    def ref(acc: dict[str, Any], value: float, params: Any) -> tuple[dict[str, Any], Any]:
        return acc, {"v": [value / 3]}

    with compile_operator("accumulate", source) as op:
        assert verify_operator(op, {}, reference=ref).ok


def test_a_plain_operator_still_compiles() -> None:
    with compile_operator("map", PLAIN) as op:
        assert op(2.0) == 4.0
