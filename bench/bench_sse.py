"""Benchmark streamer.sse against the SSE decoders users would otherwise pick.

Peers, each fed the same chunks: httpx-sse (its SSELineDecoder + SSEDecoder, as EventSource.iter_sse
runs them over response.iter_text()), httpx2's built-in EventSource parser, and the openai SDK's
SSEDecoder.iter_bytes. All are checked to agree on the events before anything is timed.

    python bench/bench_sse.py [--quick]
"""

from __future__ import annotations

import argparse
import codecs
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import CHUNKINGS, CORPORA, split

from streamer import sse

Decode = Callable[[list[bytes]], Iterator[tuple[str, str]]]


def ours(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    for event in sse.iter_events(chunks):
        yield event.event, event.data


def _text(chunks: list[bytes]) -> Iterator[str]:
    # What httpx's Response.iter_text() does: an incremental UTF-8 decoder over the raw chunks.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def httpx_sse(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    lines = SSELineDecoder()
    decoder = SSEDecoder()
    for text in _text(chunks):
        for line in lines.decode(text):
            event = decoder.decode(line)
            if event is not None:
                yield event.event, event.data
    for line in lines.flush():
        event = decoder.decode(line)
        if event is not None:
            yield event.event, event.data


def httpx2_sse(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    from httpx2._sse import _SSEParser

    parser = _SSEParser(None)
    for text in _text(chunks):
        for event in parser.decode(text):
            yield event.event, event.data
    for event in parser.flush():
        yield event.event, event.data


def openai_sdk(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    from openai._streaming import SSEDecoder

    for event in SSEDecoder().iter_bytes(iter(chunks)):
        yield event.event or "message", event.data


PEERS: dict[str, Decode] = {"httpx-sse": httpx_sse, "httpx2": httpx2_sse, "openai": openai_sdk}


def best_time(decode: Decode, chunks: list[bytes], repeat: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = sum(1 for _ in decode(chunks))
        best = min(best, time.perf_counter() - start)
    return best, count


def peak_memory(decode: Decode, chunks: list[bytes]) -> int:
    gc.collect()
    tracemalloc.start()
    for event in decode(chunks):
        del event  # a consumer that handles each event and lets it go
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timing run instead of the best of five")
    parser.add_argument("--corpus", action="append", help="only these corpora")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    print(f"Python {sys.version.split()[0]}; best of {repeat}; ratio = our events/s / peer events/s\n")
    header = f"{'corpus':<24} {'chunking':<15} {'decoder':<10} {'MB/s':>8} {'events/s':>11} {'ours/peer':>9}"
    print(header)
    print("-" * len(header))
    worst: dict[str, float] = {}
    for name, make in CORPORA.items():
        if args.corpus and name not in args.corpus:
            continue
        body = make()
        for chunking, (low, high) in CHUNKINGS.items():
            chunks = split(body, low, high)
            reference = list(ours(chunks))
            for peer, decode in PEERS.items():
                if list(decode(chunks)) != reference:
                    raise SystemExit(f"{peer} disagrees with streamer.sse on {name} / {chunking}")
            our_time, count = best_time(ours, chunks, repeat)
            mb = len(body) / 1e6
            print(
                f"{name:<24} {chunking:<15} {'streamer':<10} {mb / our_time:8.1f} {count / our_time:11,.0f}"
            )
            for peer, decode in PEERS.items():
                peer_time, _ = best_time(decode, chunks, repeat)
                ratio = peer_time / our_time
                worst[peer] = min(worst.get(peer, ratio), ratio)
                print(f"{'':<51} {peer:<10} {mb / peer_time:8.1f} {count / peer_time:11,.0f} {ratio:8.2f}x")
    if not args.corpus or "4x1MB-events" in args.corpus:
        chunks = split(CORPORA["4x1MB-events"](), *CHUNKINGS["network 1-16KB"])
        largest = 1 << 20
        print(
            "\nPeak memory decoding 4 x 1 MB events (network chunking), as a multiple of the largest event:"
        )
        for label, decode in {"streamer": ours, **PEERS}.items():
            print(f"  {label:<10} {peak_memory(decode, chunks) / largest:5.2f}x")
    print("\nWorst ratio against each peer over all corpora and chunkings:")
    for peer, ratio in worst.items():
        print(f"  {peer:<10} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
