"""The unwrapper loop: `message_delta_text()` returns (text, ok), as in Go (offline)."""

from __future__ import annotations

import sys
from pathlib import Path

from streamer.openai import RunStream

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_function_call_02_continue.sse"


def main() -> int:
    stream = RunStream.from_chunks([RECORDING.read_bytes()])
    while stream.next():
        text, ok = stream.message_delta_text()
        if ok:
            print(text, end="", flush=True)
        run, ok = stream.run()
        if ok and run is not None:
            print(f"[run {run.status}]", file=sys.stderr)
    print()
    stream.close()
    if stream.err() is not None:
        print(f"stream failed: {stream.err()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
