"""The scanner loop: `match` on typed events from a recorded Assistants run (offline)."""

from __future__ import annotations

import sys
from pathlib import Path

from streamer.openai import (
    RunStream,
    ThreadMessageCompleted,
    ThreadMessageDelta,
    ThreadRunCompleted,
    ThreadRunStepCreated,
)

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_text_01.sse"


def main() -> int:
    with RECORDING.open("rb") as body, RunStream.from_chunks(iter(lambda: body.read(512), b"")) as stream:
        while stream.next():
            match stream.event():
                case ThreadRunStepCreated(data=step):
                    print(f"[step {step.id}: {step.type}]")
                case ThreadMessageDelta(data=delta) if delta.delta is not None:
                    print(delta.delta.text(), end="", flush=True)
                case ThreadMessageCompleted(data=message):
                    print(f"\n[message {message.id} completed: {len(message.text())} characters]")
                case ThreadRunCompleted(data=run):
                    usage = run.usage.total_tokens if run.usage else "?"
                    print(f"[run {run.id} {run.status}, {usage} tokens]")
        if stream.err() is not None:
            print(f"stream failed: {stream.err()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
