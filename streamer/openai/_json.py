"""The one JSON loader of the typed streams: :func:`json.loads`'s results and errors, faster.

:func:`loads` returns what ``json.loads(text)`` returns and raises what it raises. It takes two
shortcuts, each used only where it provably agrees, and hands every other input to
``json.loads`` itself, so that errors, NaN, lone surrogates, leading whitespace, a BOM or bytes
behave exactly as there:

* CPython's C scanner, called directly (``json.loads`` wraps it in about 1 µs of Python per
  call): its value is taken only when it read the whole text; anything else (an error, leading or
  trailing whitespace, extra data, a non-``str``) goes to ``json.loads``;
* :mod:`orjson`, when installed (``pip install 'streamer[fast]'``), before that: only for a
  ``str`` whose UTF-8 has no run of 19 or more digits (orjson turns integers beyond 64 bits into
  floats) and fewer than :data:`ORJSON_MAX_BRACKETS` brackets (so that a deep document fails on
  the interpreter's recursion limit, as in ``json.loads``, not on orjson's own); whatever orjson
  refuses (NaN, ``1e400``, an escaped lone surrogate, a BOM, ...) goes to the C scanner.
"""

from __future__ import annotations

import importlib
import json
import json.scanner
from collections.abc import Callable
from typing import Any

__all__ = ["ORJSON_MAX_BRACKETS", "backend", "loads", "loads_orjson", "loads_stdlib"]

#: Documents with this many ``[`` and ``{`` or more skip orjson (its depth limit is not json's).
ORJSON_MAX_BRACKETS = 256

# Digits become "0" and "{" becomes "[", so that one search finds a long number and one count
# the brackets. A run of 19 digits may be an integer orjson cannot hold (-9223372036854775809).
_FOLD = bytes.maketrans(b"123456789{", b"000000000[")
_LONG_NUMBER = b"0" * 19

_stdlib_loads = json.loads


def _c_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    """CPython's C scanner bound to a default decoder (None where the C accelerator is missing)."""
    make: Any = getattr(json.scanner, "c_make_scanner", None)
    if make is None:  # pragma: no cover - every CPython build has _json
        return None
    scanner: Callable[[str, int], tuple[Any, int]] = make(json.JSONDecoder())
    return scanner


_scan = _c_scanner()


def loads_stdlib(text: Any) -> Any:
    """``json.loads(text)`` through the C scanner, without json's Python wrapper on the common path."""
    if _scan is None:  # pragma: no cover - see _c_scanner
        return _stdlib_loads(text)
    try:
        value, end = _scan(text, 0)
    except Exception:  # json.loads raises the very error (or decodes a non-str)
        return _stdlib_loads(text)
    if end != len(text):  # whitespace or extra data after the value: json.loads decides
        return _stdlib_loads(text)
    return value


_orjson: Any
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # the `fast` extra is optional
    _orjson = None


def loads_orjson(text: Any) -> Any:
    """``json.loads(text)`` through orjson where it agrees with json, else :func:`loads_stdlib`."""
    if _orjson is None:
        return loads_stdlib(text)
    if type(text) is str:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate in the text itself
            return loads_stdlib(text)
        folded = data.translate(_FOLD)
        if _LONG_NUMBER not in folded and folded.count(91) < ORJSON_MAX_BRACKETS:
            try:
                return _orjson.loads(data)
            except _orjson.JSONDecodeError:
                pass
    return loads_stdlib(text)


#: The loader the streams use: orjson's path when orjson is installed, else the C scanner's.
loads: Callable[[Any], Any] = loads_orjson if _orjson is not None else loads_stdlib


def backend() -> str:
    """Which loader :func:`loads` is: ``"orjson"`` or ``"json"`` (CPython's C scanner)."""
    return "orjson" if loads is loads_orjson else "json"
