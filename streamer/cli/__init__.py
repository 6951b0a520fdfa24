"""The ``streamer`` command: every print of the package lives in this package."""

from .main import main

__all__ = ["main"]
