"""SwimOS streams: downlinks, operators, sandboxed generated operators (the `streamer[swim]` extra)."""

from __future__ import annotations

from importlib.util import find_spec

# The distributions the ``swim`` extra installs, by the module each provides.
_EXTRA = {"swimos": "swimos", "websockets": "websockets", "RestrictedPython": "RestrictedPython"}


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module blocked with sys.modules[name] = None
        return False


_missing = [name for name, module in _EXTRA.items() if not _installed(module)]
if _missing:
    raise ModuleNotFoundError(
        f"streamer.swim needs the 'swim' extra, which is not installed (missing: {', '.join(_missing)}); "
        "install it with: pip install 'streamer[swim]'",
        name=_EXTRA[_missing[0]],
    )
