"""Every example runs offline and prints what it promises."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

HAIKU_LINE = "Streams flow like rivers \u2014"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_scanner_loop() -> None:
    result = run_example("scanner_loop.py")
    assert result.returncode == 0, result.stderr
    assert HAIKU_LINE in result.stdout
    assert "[run run_abc123 completed, 160 tokens]" in result.stdout


def test_unwrap_text() -> None:
    result = run_example("unwrap_text.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "It is 18 \u00b0C and clear in Paris."
    assert "[run completed]" in result.stderr


def test_copyfileobj() -> None:
    result = run_example("copyfileobj.py")
    assert result.returncode == 0, result.stderr
    assert HAIKU_LINE in result.stdout


def test_copyfileobj_fails_loudly_on_a_truncated_stream() -> None:
    result = run_example("copyfileobj.py", "--truncated")
    assert result.returncode == 1
    assert "stream failed" in result.stderr and "before its 'done' event" in result.stderr


def test_async_scanner() -> None:
    result = run_example("async_scanner.py")
    assert result.returncode == 0, result.stderr
    assert "[run completed]" in result.stdout
    assert HAIKU_LINE in result.stdout


def test_tool_calls_round_trip() -> None:
    result = run_example("tool_calls.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "It is 18 \u00b0C and clear in Paris."
    assert "[tool call get_weather({'city': 'Paris'})]" in result.stderr
    assert "[run completed]" in result.stderr


def test_swim_pipeline_on_the_embedded_feed() -> None:
    result = run_example("swim_pipeline.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 20
    assert all(line.startswith("price ") and "5-tick average" in line for line in lines)
    assert "embedded simulated stock feed" in result.stderr
