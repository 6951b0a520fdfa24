"""``TextReader``: an ``io.RawIOBase`` over any source of text pieces, for ``shutil.copyfileobj``."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from .errors import StreamReadError

__all__ = ["TextReader"]

_SURROGATE = re.compile("[\ud800-\udfff]")


class TextReader(io.RawIOBase):
    """Reads the UTF-8 bytes of text pieces as they arrive.

    ``readinto`` returns as soon as any bytes are available (it never waits to fill the buffer)
    and ``b""`` only at the end. If the source fails, ``read`` raises
    :class:`~streamer.errors.StreamReadError` (an ``OSError``) whose ``__cause__`` is the
    source's error, so ``shutil.copyfileobj`` fails loudly instead of ending early; the error is
    sticky (every later ``read`` raises it again, never ``b""``). The bytes are always valid UTF-8:
    a lone surrogate (``"\\ud800"`` in JSON) becomes U+FFFD, as the WHATWG encoder does. Closing the
    reader runs ``on_close`` (which closes the stream behind it).
    """

    def __init__(self, pieces: Iterator[str], *, on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._pieces = pieces
        self._on_close = on_close
        self._pending = memoryview(b"")
        self._done = False
        self._error: StreamReadError | None = None

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Copy the next available bytes into ``buffer``; 0 only at the end of the text."""
        if self.closed:
            raise ValueError("I/O operation on closed TextReader")
        target = memoryview(buffer).cast("B")
        if not len(target):
            return 0
        while not self._pending:
            if self._done:
                if self._error is not None:
                    raise self._error
                return 0
            try:
                piece = next(self._pieces)
            except StopIteration:
                self._done = True
                return 0
            except Exception as exc:
                self._done = True
                self._error = StreamReadError(f"the stream behind this reader failed: {exc}")
                raise self._error from exc
            self._pending = memoryview(_utf8(piece))
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        """Close the reader and the stream behind it."""
        if self.closed:
            return
        super().close()
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            self._on_close()


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8, each lone surrogate (which UTF-8 cannot hold) replaced by U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")
