"""``escape_untrusted``: what a model or operator wrote, made safe for terminals and logs."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer._text import escape_untrusted


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),  # OSC 52: write to the clipboard
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("safe\rEVIL", "safe\\rEVIL"),  # overwrite the line
        ("a\u202eb\u2066c\u2069", "a\\u202eb\\u2066c\\u2069"),  # bidi override and isolates
        ("x\ud800", "x\\ud800"),  # a lone surrogate
        ("\x9b2J", "\\x9b2J"),  # a one-byte CSI
        ("line 1\n\tline 2", "line 1\n\tline 2"),  # newlines and tabs stay
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),  # ordinary text stays
    ],
)
def test_hostile_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert escape_untrusted(raw) == shown


def test_one_line_mode_escapes_newlines_and_tabs_too() -> None:
    assert escape_untrusted("a\nb\tc", one_line=True) == "a\\nb\\tc"


UNSAFE_CATEGORIES = {"Cc", "Cs"}
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=[])))
def test_the_output_is_printable_utf8_without_controls_or_bidi(text: str) -> None:
    out = escape_untrusted(text)
    out.encode("utf-8")  # never a UnicodeEncodeError: no lone surrogate survives
    for ch in out:
        assert ch in "\n\t" or unicodedata.category(ch) not in UNSAFE_CATEGORIES, repr(ch)
        assert ch not in BIDI


@given(st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]).filter(lambda c: c not in BIDI)))
def test_text_without_hostile_characters_is_unchanged(text: str) -> None:
    assert escape_untrusted(text) == text
