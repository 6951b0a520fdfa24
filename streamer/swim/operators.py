"""Direct stream operators with the original console app's contracts, and their registry.

- accumulate: ``fn(acc: dict, new_value: float, params: dict) -> (acc, result)`` (``acc`` starts ``{}``)
- map: ``fn(value, params) -> value``
- filter: ``fn(value, params) -> bool``

Bound forms for scanner pipelines fix the parameters: ``prices.map(fx(1.2)).accumulate(sma(5))``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from attrs import define

from ..errors import OperatorConfigError

__all__ = [
    "OPERATORS",
    "OperatorConfigError",
    "OperatorSpec",
    "avg",
    "bind",
    "count",
    "ema",
    "fx",
    "lookup",
    "match",
    "resolve",
    "sma",
]


def _number(params: Mapping[str, Any], name: str) -> float:
    value: Any = params.get(name)
    try:
        number = float(value)  # the original examples pass numbers as strings ("1.2")
    except (TypeError, ValueError):
        raise OperatorConfigError(f"parameter {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise OperatorConfigError(f"parameter {name!r} must be finite, got {value!r}")
    return number


def _window(params: Mapping[str, Any]) -> int:
    raw: Any = params.get("window", params.get("window_size"))
    try:
        window = int(raw)
    except (TypeError, ValueError):
        raise OperatorConfigError(f"parameter 'window' must be a positive integer, got {raw!r}") from None
    if window < 1:
        raise OperatorConfigError(f"parameter 'window' must be a positive integer, got {raw!r}")
    return window


def _price(value: Any) -> float:
    if type(value) is float:  # the commonest value, before the (slower) Mapping check
        return value
    if isinstance(value, Mapping):
        return float(value["price"])
    return float(value)


# --- accumulate ----------------------------------------------------------------------------


def avg_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Running mean of every value so far."""
    count = acc.get("count", 0) + 1
    total = acc.get("total", 0.0) + _price(new_value)
    return {"count": count, "total": total}, total / count


def sma_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Simple moving average over the last ``window`` values (fewer at the start)."""
    window = _window(params)
    values = [*acc.get("values", []), _price(new_value)][-window:]
    return {"values": values}, sum(values) / len(values)


def ema_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Exponential moving average: ``alpha``, or ``span`` for alpha = 2 / (span + 1)."""
    if "alpha" in params:
        alpha = _number(params, "alpha")
    elif "span" in params:
        alpha = 2.0 / (_number(params, "span") + 1.0)
    else:
        raise OperatorConfigError("ema needs 'alpha' (0 < alpha <= 1) or 'span' (>= 1)")
    if not 0.0 < alpha <= 1.0:
        raise OperatorConfigError(f"ema alpha must be in (0, 1], got {alpha!r}")
    value = _price(new_value)
    previous = acc.get("ema")
    current = value if previous is None else alpha * value + (1.0 - alpha) * previous
    return {"ema": current}, current


def min_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Smallest value so far."""
    value = _price(new_value)
    current = value if "min" not in acc else min(acc["min"], value)
    return {"min": current}, current


def max_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Largest value so far."""
    value = _price(new_value)
    current = value if "max" not in acc else max(acc["max"], value)
    return {"max": current}, current


def sum_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Sum of every value so far."""
    total = acc.get("sum", 0.0) + _price(new_value)
    return {"sum": total}, total


def count_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """How many values so far."""
    total = acc.get("count", 0) + 1
    return {"count": total}, total


def stddev_fn(acc: dict[str, Any], new_value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Sample standard deviation over the last ``window`` values (0.0 with fewer than two)."""
    window = _window(params)
    values = [*acc.get("values", []), _price(new_value)][-window:]
    if len(values) < 2:
        return {"values": values}, 0.0
    mean = sum(values) / len(values)
    return {"values": values}, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def vwap_fn(acc: dict[str, Any], new_value: Any, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Volume-weighted average price; ``new_value`` is a status (``price`` and ``volume``) or a pair."""
    if isinstance(new_value, Mapping):
        price, volume = float(new_value["price"]), float(new_value.get("volume") or 0.0)
    elif isinstance(new_value, (tuple, list)):
        price, volume = float(new_value[0]), float(new_value[1])
    else:
        raise OperatorConfigError("vwap needs updates with a price and a volume (the whole status value)")
    pv = acc.get("pv", 0.0) + price * volume
    volume_total = acc.get("volume", 0.0) + volume
    return {"pv": pv, "volume": volume_total}, (pv / volume_total if volume_total else price)


# --- map -------------------------------------------------------------------------------------


def exchange_rate_fn(value: float, params: dict[str, Any]) -> float:
    """``value * exchange_rate``."""
    return _price(value) * _number(params, "exchange_rate" if "exchange_rate" in params else "rate")


def scale_fn(value: float, params: dict[str, Any]) -> float:
    """``value * factor``."""
    return _price(value) * _number(params, "factor")


def round_fn(value: float, params: dict[str, Any]) -> float:
    """``value`` rounded to ``digits`` decimals (default 2)."""
    return round(_price(value), int(params.get("digits", 2)))


def pct_change_fn(value: float, params: dict[str, Any]) -> float:
    """Percentage change from ``reference``."""
    reference = _number(params, "reference")
    if reference == 0:
        raise OperatorConfigError("pct_change needs a non-zero 'reference'")
    return (_price(value) - reference) / reference * 100.0


# --- filter ----------------------------------------------------------------------------------


def below_fn(value: float, params: dict[str, Any]) -> bool:
    """``value < threshold``."""
    return _price(value) < _number(params, "threshold")


def above_fn(value: float, params: dict[str, Any]) -> bool:
    """``value > threshold``."""
    return _price(value) > _number(params, "threshold")


def between_fn(value: float, params: dict[str, Any]) -> bool:
    """``low <= value <= high``."""
    return _number(params, "low") <= _price(value) <= _number(params, "high")


def change_exceeds_fn(value: float, params: dict[str, Any]) -> bool:
    """``|value - reference|`` is more than ``percent`` % of ``reference``."""
    reference = _number(params, "reference")
    return abs(_price(value) - reference) > abs(reference) * _number(params, "percent") / 100.0


@define(frozen=True, slots=True)
class OperatorSpec:
    """A direct operator: kind, function, the parameters it needs, and what it does."""

    name: str
    kind: str
    fn: Callable[..., Any]
    required: tuple[str, ...]
    description: str


_SPECS = [
    OperatorSpec("avg", "accumulate", avg_fn, (), "running average"),
    OperatorSpec("sma", "accumulate", sma_fn, ("window",), "simple moving average over a window"),
    OperatorSpec("ema", "accumulate", ema_fn, (), "exponential moving average (alpha or span)"),
    OperatorSpec("min", "accumulate", min_fn, (), "minimum so far"),
    OperatorSpec("max", "accumulate", max_fn, (), "maximum so far"),
    OperatorSpec("sum", "accumulate", sum_fn, (), "sum so far"),
    OperatorSpec("count", "accumulate", count_fn, (), "number of updates so far"),
    OperatorSpec("stddev", "accumulate", stddev_fn, ("window",), "standard deviation over a window"),
    OperatorSpec("vwap", "accumulate", vwap_fn, (), "volume-weighted average price"),
    OperatorSpec(
        "exchange_rate", "map", exchange_rate_fn, ("exchange_rate",), "multiply by an exchange rate"
    ),
    OperatorSpec("scale", "map", scale_fn, ("factor",), "multiply by a factor"),
    OperatorSpec("round", "map", round_fn, (), "round to some digits"),
    OperatorSpec("pct_change", "map", pct_change_fn, ("reference",), "percent change from a reference"),
    OperatorSpec("below", "filter", below_fn, ("threshold",), "keep values below a threshold"),
    OperatorSpec("above", "filter", above_fn, ("threshold",), "keep values above a threshold"),
    OperatorSpec("between", "filter", between_fn, ("low", "high"), "keep values between low and high"),
    OperatorSpec("change_exceeds", "filter", change_exceeds_fn, ("reference", "percent"), "keep big moves"),
]
#: Every direct operator by name (``mean`` is another name for ``avg``).
OPERATORS: dict[str, OperatorSpec] = {spec.name: spec for spec in _SPECS} | {"mean": _SPECS[0]}


def resolve(name: str, kind: str, params: Mapping[str, Any]) -> OperatorSpec:
    """The operator called ``name`` of ``kind``, after checking its parameters; clear errors otherwise."""
    spec = OPERATORS.get(name.strip().lower().replace("-", "_").replace(" ", "_"))
    if spec is not None and spec.name == "avg" and any(k in params for k in ("window", "window_size")):
        spec = OPERATORS["sma"]  # "average with a window size of 5", as the original examples say
    if spec is None or spec.kind != kind:
        names = ", ".join(sorted(n for n, s in OPERATORS.items() if s.kind == kind))
        raise OperatorConfigError(f"no {kind} operator named {name!r}; the built-in ones are: {names}")
    aliases = {"window": ("window", "window_size"), "exchange_rate": ("exchange_rate", "rate")}
    missing = [p for p in spec.required if not any(a in params for a in aliases.get(p, (p,)))]
    if missing:
        raise OperatorConfigError(f"{spec.name} needs the parameter(s) {', '.join(missing)}")
    return spec


def bind(spec: OperatorSpec, params: Mapping[str, Any]) -> Callable[..., Any]:
    """The operator with its parameters fixed: map and filter take a value, accumulate (acc, value)."""
    return functools.partial(spec.fn, params=dict(params))


def fx(rate: float) -> Callable[[float], float]:
    """Bound ``exchange_rate``: ``prices.map(fx(1.2))`` (``rate`` is checked here, once)."""
    factor = _number({"exchange_rate": rate}, "exchange_rate")

    def exchange_rate(value: float) -> float:
        return _price(value) * factor  # what exchange_rate_fn computes, without re-reading params

    return exchange_rate


def sma(window: int) -> Callable[[dict[str, Any], float], tuple[dict[str, Any], float]]:
    """Bound simple moving average: ``prices.accumulate(sma(5))`` (``window`` is checked here, once)."""
    size = _window({"window": window})

    def moving_average(acc: dict[str, Any], new_value: float) -> tuple[dict[str, Any], float]:
        values = [*acc.get("values", ()), _price(new_value)][-size:]  # as sma_fn computes it
        return {"values": values}, sum(values) / len(values)

    return moving_average


def ema(*, alpha: float | None = None, span: float | None = None) -> Callable[..., Any]:
    """Bound exponential moving average."""
    params = {"alpha": alpha} if alpha is not None else {"span": span}
    return functools.partial(ema_fn, params=params)


def avg() -> Callable[..., Any]:
    """Bound running average."""
    return functools.partial(avg_fn, params={})


def count() -> Callable[..., Any]:
    """Bound count."""
    return functools.partial(count_fn, params={})


_KEYWORDS: list[tuple[str, str, str]] = [
    ("accumulate", r"moving average|rolling average|\bsma\b", "sma"),
    ("accumulate", r"exponential|\bema\b", "ema"),
    ("accumulate", r"std|standard deviation|volatility", "stddev"),
    ("accumulate", r"vwap|volume.weighted", "vwap"),
    ("accumulate", r"average|\bavg\b|\bmean\b", "avg"),
    ("accumulate", r"\bmin", "min"),
    ("accumulate", r"\bmax", "max"),
    ("accumulate", r"\bsum\b|total", "sum"),
    ("accumulate", r"\bcount", "count"),
    ("map", r"exchange|currency|convert", "exchange_rate"),
    ("map", r"percent|pct", "pct_change"),
    ("map", r"\bround", "round"),
    ("map", r"scale|multiply", "scale"),
    ("filter", r"between|range", "between"),
    ("filter", r"below|under|less than|drops?", "below"),
    ("filter", r"above|over|more than|exceeds? \d", "above"),
    ("filter", r"change|move", "change_exceeds"),
]


def match(kind: str, description: str, params: Mapping[str, Any]) -> str | None:
    """The name of the direct operator of ``kind`` a description points to, parameters unchecked."""
    text = description.lower()
    for candidate_kind, pattern, name in _KEYWORDS:
        if candidate_kind != kind or not re.search(pattern, text):
            continue
        if name == "avg" and any(k in params for k in ("window", "window_size")):
            name = "sma"
        return name
    return None


def lookup(kind: str, description: str, params: Mapping[str, Any]) -> Callable[..., Any] | None:
    """The direct operator a description names, with the operator contract of ``kind``, or None.

    ``sma`` is chosen for an average with a window. Used to name built-ins from plain words and to
    verify generated operators against a direct one of the same meaning.
    """
    name = match(kind, description, params)
    if name is None:
        return None
    try:
        spec = resolve(name, kind, params)
    except OperatorConfigError:
        return None
    return spec.fn
