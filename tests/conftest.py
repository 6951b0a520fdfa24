"""Shared test configuration."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "examples" / "recordings"

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "deep", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# HYPOTHESIS_PROFILE=deep for a long local run; CI uses "ci".
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio-marked tests on asyncio only."""
    return "asyncio"


def recording_paths() -> list[Path]:
    """Every recorded stream shipped in examples/recordings."""
    return sorted(RECORDINGS.glob("*.sse"))


@pytest.fixture(autouse=True, scope="session")
def _hypothesis_regex_imported_outside_a_test() -> None:
    """Import hypothesis's regex module once, before any test runs.

    Hypothesis imports it lazily, inside the first ``from_regex`` test, deep in a stack whose recursion
    limit hypothesis has just raised; on CPython 3.11 compiling a module there failed once with
    "SystemError: AST constructor recursion depth mismatch". (At conftest import time it would warn.)
    """
    importlib.import_module("hypothesis.strategies._internal.regex")
