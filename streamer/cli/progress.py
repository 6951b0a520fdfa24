"""A one-line progress indicator on a terminal, for waits the user would otherwise sit through in silence."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_FRAMES = "|/-\\"


class Progress:
    """``with Progress("asking the model"):`` shows ``| asking the model (3 s)`` on stderr, then clears it.

    It draws only on a terminal (``stream.isatty()``), after ``after`` seconds (quick waits show
    nothing), and rewrites one line in place; piped output never sees it.
    """

    def __init__(
        self,
        what: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        after: float = 0.5,
        interval: float = 0.25,
    ) -> None:
        self._what = what
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._after = after
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def __enter__(self) -> Progress:
        if self._enabled:
            self._thread = threading.Thread(target=self._draw, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def _draw(self) -> None:
        started = time.monotonic()
        if self._stop.wait(self._after):
            return
        frame = 0
        while not self._stop.is_set():
            elapsed = time.monotonic() - started
            self._stream.write(f"\r\033[K{_FRAMES[frame % len(_FRAMES)]} {self._what} ({elapsed:.0f} s)")
            self._stream.flush()
            self._drawn = True
            frame += 1
            self._stop.wait(self._interval)
