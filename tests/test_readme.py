"""Every Python snippet in README.md runs as shown (offline, from the repository root)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT

# A snippet whose first line is this comment needs the real API or a key, and is not run here.
NOT_RUN = "# needs: OPENAI_API_KEY"


def python_snippets() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    snippets = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.DOTALL):
        line = text.count("\n", 0, match.start()) + 1
        snippets.append((line, match.group(1)))
    return snippets


SNIPPETS = python_snippets()


def test_readme_has_snippets() -> None:
    assert SNIPPETS


@pytest.mark.parametrize(("line", "code"), SNIPPETS, ids=[f"README.md:{line}" for line, _ in SNIPPETS])
def test_readme_snippet_runs(line: int, code: str) -> None:
    if code.startswith(NOT_RUN):
        pytest.skip(f"README.md:{line} needs the real OpenAI API; it is exercised by the client tests")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"README.md:{line} failed:\n{result.stderr[-3000:]}"
