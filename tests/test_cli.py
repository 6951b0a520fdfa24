"""The `streamer` command."""

from __future__ import annotations

import subprocess
import sys

from .conftest import RECORDINGS


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_demo_decodes_the_bundled_recording() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    assert "thread.message.delta" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].split()[1] == "done"


def test_demo_decodes_a_given_file() -> None:
    result = run_cli("demo", str(RECORDINGS / "synthetic_run_failed_01.sse"))
    assert result.returncode == 0, result.stderr
    assert "thread.run.failed" in result.stdout
