"""Verification: run an operator on a fixed sample before it sees live data, and compare it with a direct
operator of the same meaning when one is known (numbers within a stated tolerance)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from attrs import define, field

from ...errors import OperatorFailed, OperatorRejected
from .host import AccumulateOperator, SandboxedOperator, _text

__all__ = [
    "SAMPLE_PRICES",
    "VERIFY_ABS_TOLERANCE",
    "VERIFY_REL_TOLERANCE",
    "Verdict",
    "verify_operator",
]


@define(frozen=True, slots=True)
class Verdict:
    """Outcome of running an operator on a fixed sample before live data."""

    ok: bool
    checked: int
    compared_with: str | None = None
    detail: str = ""
    outputs: tuple[Any, ...] = field(default=(), repr=False)

    def describe(self) -> str:
        """One line for people."""
        against = f" against {self.compared_with}" if self.compared_with else ""
        state = "verified" if self.ok else "REFUSED"
        return f"{state}: {self.checked} sample updates{against}" + (
            f"; {self.detail}" if self.detail else ""
        )


SAMPLE_PRICES: tuple[float, ...] = (
    20.0, 20.5, 21.25, 19.75, 18.0, 18.5, 22.0, 25.5, 24.0, 23.75,
    19.0, 17.25, 30.0, 31.5, 29.0, 28.25, 27.0, 26.5, 20.0, 45.0,
)  # fmt: skip
"""The fixed sample every generated operator runs on before it sees live data."""


VERIFY_ABS_TOLERANCE = 1e-4
"""Numbers match in verification if they differ by at most this much (rounding to 4 decimals passes)."""

VERIFY_REL_TOLERANCE = 1e-9
"""... or by at most this fraction of the larger one (for large magnitudes)."""


def _same(a: Any, b: Any, abs_tol: float, rel_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, abs_tol, rel_tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], abs_tol, rel_tol) for k in a)
    if a is None or b is None:
        return a is b
    return bool(a == b)


def verify_operator(
    op: SandboxedOperator,
    params: Any = None,
    *,
    reference: Callable[..., Any] | None = None,
    reference_name: str | None = None,
    sample: Sequence[float] = SAMPLE_PRICES,
    tolerance: float = VERIFY_ABS_TOLERANCE,
    rel_tolerance: float = VERIFY_REL_TOLERANCE,
) -> Verdict:
    """Run ``op`` on ``sample``; with a direct ``reference`` of the same contract, results must match.

    Numbers are compared with ``tolerance`` (absolute, default ``VERIFY_ABS_TOLERANCE``) or
    ``rel_tolerance``, whichever is looser, inside lists and dicts too. Raises OperatorRejected (rule
    ``verification``) naming the first differing input, or the failure.
    """
    name = reference_name or (getattr(reference, "__name__", "the direct operator") if reference else None)
    try:
        if isinstance(op, AccumulateOperator):
            _, outs = op.run_batch(list(sample), params, {})
        else:
            outs = list(op.run_batch(list(sample), params))
    except OperatorFailed as exc:
        raise OperatorRejected("verification", f"failed on the fixed sample: {exc}") from None
    if reference is not None:
        ref_acc: dict[str, Any] = {}
        for i, value in enumerate(sample):
            if isinstance(op, AccumulateOperator):
                ref_acc, expected = reference(ref_acc, value, params)
            else:
                expected = reference(value, params)
            if not _same(outs[i], expected, tolerance, rel_tolerance):
                raise OperatorRejected(
                    "verification",
                    f"differs from {name} at sample update #{i} (input {value!r}): "
                    f"got {_text(repr(outs[i]), 80)}, expected {_text(repr(expected), 80)} "
                    f"(numbers may differ by {tolerance:g})",
                )
    return Verdict(True, len(sample), name, "", tuple(outs))
