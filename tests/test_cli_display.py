"""Text for people: escaping hostile text, numbers without float noise, plurals."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from streamer.cli.display import escape, number, plural, show_bytes

from .test_cli import run_cli


@given(st.text())
def test_escaped_text_is_printable_and_keeps_printable_text(text: str) -> None:
    shown = escape(text)
    assert shown.isprintable()
    if text.isprintable():
        assert shown == text


def test_escape_shows_control_characters_and_cuts_long_text() -> None:
    assert escape("a\x1b[2Jb\nc\u202e") == "a\\x1b[2Jb\\nc\\u202e"
    assert escape("é€😀") == "é€😀"
    assert escape("x" * 10, 4) == "xxxx\u2026"


def test_show_bytes_is_an_escaped_literal_cut_at_the_limit() -> None:
    assert show_bytes(b"\x00ab\n") == "b'\\x00ab\\n'"
    assert show_bytes(b"a" * 50, 5) == "b'aaaaa'..."


def test_numbers_lose_their_float_noise() -> None:
    assert number(117.46799999999999) == "117.468"
    assert number(97.89) == "97.89"
    assert number(5.0) == "5"
    assert number(-0.0) == "0"
    assert number(3) == "3" and number(True) == "True" and number(None) == "None"
    assert number(0.00001234) == "1.234e-05"
    assert number(math.inf) == "inf"


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_a_number_for_people_stays_close_to_the_value(value: float) -> None:
    shown = number(value)
    assert "." not in shown or len(shown.split(".")[1]) <= 4 or "e" in shown
    # Rounding to 4 decimals moves a value by up to half a unit, 5e-5 (plus float error).
    assert math.isclose(float(shown), value, rel_tol=1e-3, abs_tol=5.000001e-5)


def test_a_small_number_shows_four_significant_digits() -> None:
    assert number(0.0006011917668418924) == "6.012e-04"
    assert number(0.03125) == "0.0312"


def test_plural() -> None:
    assert [plural(n, "tick") for n in (0, 1, 2)] == ["0 ticks", "1 tick", "2 ticks"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


def test_cat_says_1_character_not_1_characters() -> None:
    message = (
        'event: thread.message.completed\ndata: {"id":"msg_1","object":"thread.message","status":"completed",'
        '"role":"assistant","content":[{"type":"text","text":{"value":"A","annotations":[]}}]}\n\n'
        "event: done\ndata: [DONE]\n\n"
    )
    result = run_cli("cat", "-", stdin=message.encode())
    assert result.returncode == 0, result.stderr
    assert "msg_1 completed 1 character" in result.stdout and "characters" not in result.stdout
