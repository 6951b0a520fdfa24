"""Validate, compile and contain untrusted (model-written) operator source behind two walls.

``policy`` (pure) holds the AST allowlist; ``worker`` is the contained process (RestrictedPython, rlimits,
and ``oswall``: a seccomp syscall allowlist and Landlock on Linux); ``host`` starts workers and talks to
them under deadlines; ``verify`` runs an operator on the fixed sample. The public names live here.
"""

from __future__ import annotations

from .host import (
    AccumulateOperator,
    FilterOperator,
    Limits,
    MapOperator,
    OSWall,
    SandboxedOperator,
    check_operator_source,
    compile_operator,
    max_workers,
    os_wall,
    set_max_workers,
)
from .verify import SAMPLE_PRICES, VERIFY_ABS_TOLERANCE, VERIFY_REL_TOLERANCE, Verdict, verify_operator

__all__ = [
    "SAMPLE_PRICES",
    "VERIFY_ABS_TOLERANCE",
    "VERIFY_REL_TOLERANCE",
    "AccumulateOperator",
    "FilterOperator",
    "Limits",
    "MapOperator",
    "OSWall",
    "SandboxedOperator",
    "Verdict",
    "check_operator_source",
    "compile_operator",
    "max_workers",
    "os_wall",
    "set_max_workers",
    "verify_operator",
]
