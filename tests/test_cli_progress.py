"""`*-generate` shows a progress line on a terminal while it waits, and nothing when piped."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.testing.chat_server import ChatServer, Reply

MAP = "def func(new_value, params):\n    return new_value * params['exchange_rate']\n"
CONFIG = '{"description": "apply exchange rate", "parameters": {"exchange_rate": 2}}'

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")


def generate(tmp_path: Path, url: str, *, stderr_tty: bool) -> tuple[int, str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "OPENAI_API_KEY": "not-a-real-key",
        "STREAMER_CACHE_DIR": str(tmp_path / "cache"),
    }
    command = [sys.executable, "-m", "streamer", "swim", "map-generate", "AAAA", CONFIG, "--sample"]
    command += ["--base-url", url, "--model", "canned", "--regenerate"]
    if not stderr_tty:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        return result.returncode, result.stdout, result.stderr
    main, child = pty.openpty()
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=child, env=env, cwd=tmp_path)
        os.close(child)
        out, _ = process.communicate(timeout=120)
        seen = b""
        while True:
            try:
                piece = os.read(main, 4096)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not piece:
                break
            seen += piece
    finally:
        os.close(main)
    return process.returncode, out.decode(), seen.decode("utf-8", "replace")


def slow_answer() -> Reply:
    # One character per chunk, a pause per write: the model takes a couple of seconds to answer.
    return Reply(json.dumps({"result": MAP}), chunk_size=1, delay=0.03)


def test_a_terminal_sees_a_progress_line_that_is_cleared_after(tmp_path: Path) -> None:
    with ChatServer([slow_answer()]) as server:
        code, out, terminal = generate(tmp_path, server.url, stderr_tty=True)
    assert code == 0, terminal
    assert "asking the model for an operator and checking it in the sandbox (" in terminal
    last_draw = terminal.rindex(" s)")
    assert "\r\x1b[K" in terminal[last_draw:]  # cleared after the last draw
    assert "has been converted to" in out


def test_piped_stderr_gets_no_progress_line(tmp_path: Path) -> None:
    with ChatServer([slow_answer()]) as server:
        code, out, err = generate(tmp_path, server.url, stderr_tty=False)
    assert code == 0, err
    assert "has been converted to" in out
    assert "asking the model" not in err and "\r" not in err
