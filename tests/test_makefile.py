"""`make` targets a user runs: the smoke fuzz in `make test` is one line, and loud on a finding."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed on this machine")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    # The tools of the running interpreter, and never a reinstall of .venv from inside a test.
    tools = [f"BIN={Path(sys.executable).parent}", "-o", ".venv/.installed-dev"]
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *tools, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_smoke_fuzz_prints_one_line() -> None:
    result = make("fuzz-smoke", "FUZZ_SMOKE_SECONDS=1")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("make")]
    assert lines == ["fuzz_sse --smoke: 1 s, no finding (fuzzer output in .venv/fuzz-smoke.log)"]


def test_a_smoke_fuzz_finding_fails_and_shows_the_fuzzer_output() -> None:
    finding = "python3 -c 'import sys; print(\"==1== ERROR: libFuzzer: deadly signal\"); sys.exit(77)'"
    result = make("fuzz-smoke", f"FUZZ_SMOKE={finding}")
    assert result.returncode != 0
    assert "==1== ERROR: libFuzzer: deadly signal" in result.stdout
    assert "fuzz_sse --smoke: FAILED with exit status 77" in result.stdout
