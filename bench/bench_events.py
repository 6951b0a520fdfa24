"""Benchmark typed Assistants v2 events: streamer against the official openai SDK's typed path.

Both start from the same bytes, cut network-like (1-16 KB). Ours: ``RunStream.from_chunks``
(SSE decoding, JSON, attrs models, snapshots). The SDK's: its ``SSEDecoder`` then, per event,
``json.loads`` and its own model construction for ``AssistantStreamEvent`` (what its
``AssistantEventHandler`` stream does per event), without the snapshot accumulation it also does,
which would only slow it further. Also printed: our bare SSE decoding rate on the same bytes.

    python bench/bench_events.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import assistants_run, chat_chunks, responses_run, split

from streamer import sse
from streamer.openai import RunStream


def ours(chunks: list[bytes]) -> int:
    stream = RunStream.from_chunks(chunks)
    count = 0
    while stream.next():
        count += 1
    if stream.err() is not None:
        raise SystemExit(f"streamer failed: {stream.err()}")
    return count


def bare_sse(chunks: list[bytes]) -> int:
    return sum(1 for _ in sse.iter_events(chunks))


def openai_sdk(chunks: list[bytes]) -> int:
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai.types.beta import AssistantStreamEvent

    count = 0
    for event in SSEDecoder().iter_bytes(iter(chunks)):
        if event.event == "done":
            count += 1
            continue
        construct_type(
            type_=AssistantStreamEvent, value={"event": event.event, "data": json.loads(event.data)}
        )
        count += 1
    return count


def chat_ours(chunks: list[bytes]) -> int:
    from streamer.openai.chat import ChatStream

    stream = ChatStream.from_chunks(chunks)
    count = sum(1 for _ in stream)
    return count + 1  # the [DONE] marker, which the SDK's decoder also sees


def chat_sdk(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    count = 0
    for event in SSEDecoder().iter_bytes(iter(chunks)):
        count += 1
        if event.data.startswith("[DONE]"):
            continue
        _sdk_chunk(json.loads(event.data))
    return count


def _sdk_chunk(payload: object) -> object:
    from openai._models import construct_type
    from openai.types.chat import ChatCompletionChunk

    return construct_type(type_=ChatCompletionChunk, value=payload)


def responses_ours(chunks: list[bytes]) -> int:
    from streamer.openai.responses import ResponseStream

    return sum(1 for _ in ResponseStream.from_chunks(chunks))


def responses_sdk(chunks: list[bytes]) -> int:
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai.types.responses import ResponseStreamEvent

    count = 0
    for event in SSEDecoder().iter_bytes(iter(chunks)):
        construct_type(type_=ResponseStreamEvent, value=json.loads(event.data))
        count += 1
    return count


def best(fn: Callable[[list[bytes]], int], chunks: list[bytes], repeat: int) -> tuple[float, int]:
    fastest, count = float("inf"), 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = fn(chunks)
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="best of 1 instead of 5")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    chunks = split(assistants_run(), 1024, 16384)
    rows = {
        name: best(fn, chunks, repeat)
        for name, fn in (
            ("streamer typed", ours),
            ("openai typed", openai_sdk),
            ("streamer.sse bare", bare_sse),
        )
    }
    counts = {count for _, count in rows.values()}
    if len(counts) != 1:
        raise SystemExit(f"decoders disagree on the number of events: {rows}")
    print(f"Assistants run, 20,000 message deltas, network chunking; best of {repeat}\n")
    for name, (seconds, count) in rows.items():
        print(f"  {name:<18} {count / seconds:12,.0f} events/s")
    ours_rate = rows["streamer typed"][1] / rows["streamer typed"][0]
    sdk_rate = rows["openai typed"][1] / rows["openai typed"][0]
    bare_rate = rows["streamer.sse bare"][1] / rows["streamer.sse bare"][0]
    print(f"\n  typed: streamer / openai SDK      = {ours_rate / sdk_rate:5.2f}x  (goal >= 10x)")
    print(f"  typed / bare SSE decoding (ours)  = {ours_rate / bare_rate:5.2f}x  (goal >= 0.5x)")
    chat = split(chat_chunks(), 1024, 16384)
    responses = split(responses_run(), 1024, 16384)
    print()
    for label, mine, theirs, body in (
        ("chat completions", chat_ours, chat_sdk, chat),
        ("responses", responses_ours, responses_sdk, responses),
    ):
        (ours_s, ours_n), (sdk_s, sdk_n) = best(mine, body, repeat), best(theirs, body, repeat)
        if ours_n != sdk_n:
            raise SystemExit(f"{label}: {ours_n} events for streamer, {sdk_n} for the SDK")
        print(
            f"  {label:<17} streamer {ours_n / ours_s:10,.0f}/s  openai SDK {sdk_n / sdk_s:10,.0f}/s"
            f"  ratio {sdk_s / ours_s:5.2f}x (goal >= 5x)"
        )


if __name__ == "__main__":
    main()
