"""Argument types for numeric options: argparse rejects nonsense with one line naming the option.

``--count -3`` gives ``streamer swim read-streaming: error: argument --count: '-3' is not a whole
number of 1 or more`` and exit code 2, before anything runs.
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "non_negative_float",
    "non_negative_int",
    "port",
    "positive_float",
    "positive_int",
    "status_code",
]


def _int(text: str, what: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def _float(text: str, what: str, *, above: float | None = None, at_least: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if (
        not math.isfinite(value)
        or (above is not None and value <= above)
        or (at_least is not None and value < at_least)
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_int(text: str) -> int:
    """A whole number, 1 or more (``--count``, ``--symbols``)."""
    return _int(text, "a whole number of 1 or more", 1)


def non_negative_int(text: str) -> int:
    """A whole number, 0 or more (``--seed``, ``--cut-after``)."""
    return _int(text, "a whole number of 0 or more", 0)


def port(text: str) -> int:
    """A TCP port, 0 (a free one) to 65535."""
    return _int(text, "a port number from 0 to 65535", 0, 65535)


def status_code(text: str) -> int:
    """An HTTP status code, 100 to 599."""
    return _int(text, "an HTTP status code from 100 to 599", 100, 599)


def positive_float(text: str) -> float:
    """A finite number more than 0 (``--duration``, ``--sync-timeout``, ``--feed-rate``)."""
    return _float(text, "a number more than 0", above=0.0)


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more (``--delay``)."""
    return _float(text, "a number of 0 or more", at_least=0.0)
