"""Peak memory per MB of streamed text, with snapshots (the default) and without (``snapshots=False``).

A relay or a pipe that only passes the text on needs no snapshots; this shows what they cost. The
same bytes, cut network-like, read to the end with ``text_delta()``; ``tracemalloc`` measures the
peak above what the bytes themselves take.

    python bench/bench_memory.py
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import assistants_run, chat_chunks, responses_run, split

from streamer.openai import ChatStream, ResponseStream, RunStream


def peak(make: Callable[[], Any]) -> tuple[int, int]:
    """(peak bytes allocated while reading, bytes of text handed out)."""
    gc.collect()
    tracemalloc.start()
    try:
        stream = make()
        size = 0
        while stream.next():
            text, ok = stream.text_delta()
            if ok:
                size += len(text.encode())
        if stream.err() is not None:
            raise SystemExit(f"{type(stream).__name__} failed: {stream.err()}")
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


def main() -> None:
    print("Peak memory while reading a stream, per MB of text it carries\n")
    print(f"  {'kind':<12} {'text':>9}  {'snapshots (peak)':>26}  {'snapshots=False (peak)':>28}")
    for label, cls, body in (
        ("assistants", RunStream, assistants_run()),
        ("chat", ChatStream, chat_chunks()),
        ("responses", ResponseStream, responses_run()),
    ):
        chunks = split(body, 1024, 16384)
        full, size = peak(lambda cls=cls, chunks=chunks: cls.from_chunks(chunks))
        light, _ = peak(lambda cls=cls, chunks=chunks: cls.from_chunks(chunks, snapshots=False))
        mb = size / 1e6
        print(
            f"  {label:<12} {mb:7.2f}MB  {full / 1e6 / mb:8.2f}MB/MB ({full / 1e6:6.2f}MB)"
            f"  {light / 1e6 / mb:10.2f}MB/MB ({light / 1e6:6.2f}MB)"
        )


if __name__ == "__main__":
    main()
