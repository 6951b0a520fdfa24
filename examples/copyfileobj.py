"""Pipe the assistant's text to stdout with shutil.copyfileobj, as it arrives (offline).

A stream that fails or ends early raises from copyfileobj (an OSError whose cause is the stream
error) instead of looking like a clean end: run with --truncated to see it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from streamer import StreamReadError
from streamer.openai import RunStream

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_text_01.sse"


def main() -> int:
    body = RECORDING.read_bytes()
    if "--truncated" in sys.argv:
        body = body[: len(body) * 2 // 3]
    chunks = [body[i : i + 64] for i in range(0, len(body), 64)]
    with RunStream.from_chunks(chunks).text_reader() as reader:
        try:
            shutil.copyfileobj(reader, sys.stdout.buffer, 16)
        except StreamReadError as exc:
            sys.stdout.flush()
            print(f"\nstream failed: {exc.__cause__}", file=sys.stderr)
            return 1
    sys.stdout.buffer.write(b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
