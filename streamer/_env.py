"""Where configuration comes from: the environment, then a ``./.env`` file (pure lookups, no state).

Shared by the OpenAI client and the operator generator, neither of which should import the other's
internals for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MissingAPIKey

__all__ = ["read_dotenv", "resolve_api_key"]


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file (``export`` prefixes, quotes and comments allowed)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return values
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def resolve_api_key(api_key: str | None, *, required: bool = True) -> str | None:
    """The key given, else ``OPENAI_API_KEY`` from the environment, else from ``./.env``."""
    if api_key:
        return api_key
    key = os.environ.get("OPENAI_API_KEY") or read_dotenv(Path.cwd() / ".env").get("OPENAI_API_KEY")
    if not key and required:
        raise MissingAPIKey(
            "no OpenAI API key: pass api_key=..., set OPENAI_API_KEY, or put OPENAI_API_KEY=... in .env"
        )
    return key or None
