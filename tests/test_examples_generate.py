"""The generated-operator example runs offline against its canned local model."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_swim_generated_operator_example() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "swim_generated_operator.py")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin"},  # no OPENAI_API_KEY: the example must not need one
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answers below are canned" in out
    assert "operator rejected (import)" in out
    assert "verified: 20 sample updates against direct SMA(5)" in out
    assert "AAAA price  22.00 -> SMA(5) 21.95" in out
