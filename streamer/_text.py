"""Make untrusted text safe to show: for terminals and logs (pure, stdlib only).

Anything a model, a server or a sandboxed operator wrote may carry terminal escape sequences (an OSC 52
clipboard write, a screen clear), carriage returns that overwrite a line, bidi controls that reorder
what a reader sees (Trojan Source), or lone surrogates that no terminal encoding can print.
``escape_untrusted`` turns each such character into a visible escape (``\\x1b``, ``\\r``, ``\\u202e``,
``\\ud800``) and leaves everything else, newlines and tabs included, as it is.
"""

from __future__ import annotations

import re

__all__ = ["escape_untrusted"]

# C0 controls except tab and newline; DEL and the C1 controls (0x9B is a one-byte CSI on some
# terminals); Arabic letter mark, LRM, RLM; bidi embeddings, overrides and isolates; surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_untrusted(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control, bidi-control and lone-surrogate character shown as an escape.

    Newlines and tabs are kept unless ``one_line`` is set (then they become ``\\n`` and ``\\t`` too).
    The result is printable on any UTF-8 terminal and cannot move the cursor or reorder the line.
    """
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE
    if text.isascii() and text.isprintable():
        return text
    return pattern.sub(_visible, text)
