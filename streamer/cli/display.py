"""Text for people: escaping hostile text for a terminal, numbers, plurals."""

from __future__ import annotations

import math

__all__ = ["escape", "number", "plural", "show_bytes"]


def escape(text: str, limit: int | None = None) -> str:
    """``text`` with control characters, escapes and invisible characters shown as ``\\x..``/``\\u....``.

    Anything a model, a server or an operator wrote is hostile: it must not move the cursor, clear
    the screen or forge a line of our own output. Printable characters (including non-ASCII letters)
    are kept; ``limit`` cuts the result to that many characters, marked with an ellipsis.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "\u2026"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def show_bytes(data: bytes, limit: int = 40) -> str:
    """The first ``limit`` bytes of ``data`` as an escaped Python bytes literal (``b'...'``)."""
    shown = repr(data[:limit])
    return shown + ("..." if len(data) > limit else "")


def number(value: object) -> str:
    """A number for people: at most 4 decimals, no float noise (``117.468``, not ``117.46799999999999``).

    Integers and non-numbers are shown as they are; JSON output keeps full precision instead.
    """
    if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    if value != 0 and abs(value) >= 1e15:
        return f"{value:.4g}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3e}"  # 4 significant digits; ``.4g`` would show 0.0006012
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 tick"``, ``"2 ticks"``; ``many`` for irregular plurals."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
