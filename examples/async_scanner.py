"""The async scanner loop and `async for text in stream.text_deltas()` (offline)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from streamer.openai import AsyncRunStream, ThreadRunCompleted

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_text_01.sse"


async def network_like(body: bytes) -> AsyncIterator[bytes]:
    """Bytes as a socket would deliver them: small pieces, with pauses."""
    for i in range(0, len(body), 256):
        await asyncio.sleep(0.001)
        yield body[i : i + 256]


async def main() -> int:
    body = RECORDING.read_bytes()
    async with AsyncRunStream.from_chunks(network_like(body)) as stream:
        while await stream.next():
            if isinstance(stream.event(), ThreadRunCompleted):
                print("[run completed]")
        if stream.err() is not None:
            print(f"stream failed: {stream.err()}", file=sys.stderr)
            return 1
        print(f"[{len(stream.text())} characters of text]")
    texts = AsyncRunStream.from_chunks(network_like(body)).text_deltas()
    async for text in texts:
        print(text, end="", flush=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
