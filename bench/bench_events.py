"""Benchmark typed events, three kinds: streamer against the official openai SDK's typed path.

Both start from the same bytes, cut network-like (1-16 KB). Ours: ``RunStream``, ``ChatStream``
and ``ResponseStream`` over the chunks (SSE decoding, JSON, typed events, snapshots). The SDK's:
its ``SSEDecoder`` then, per event, ``json.loads`` and its own model construction for
``AssistantStreamEvent``, ``ChatCompletionChunk`` and ``ResponseStreamEvent`` (what its stream
classes do per event), without the snapshot accumulation it also does, which would only slow it.

Timings are interleaved (one run of each contender per round, the order rotating), and reported as
best of the rounds with the spread (slowest / best - 1) and the range of the per-round ratios. The
"µs per Assistants text delta" row times the typed layer alone (``RunProtocol.accept`` over decoded
SSE events: JSON, typed event, snapshots), the cost the hot path is about.

``--icount`` counts instructions per event under valgrind instead (repeatable on a busy machine),
with the same measuring helper as ``bench_sse.py --icount``.

    python bench/bench_events.py [--rounds N] [--quick] [--kind KIND]...
    python bench/bench_events.py --icount [--kind KIND]...
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sse import instructions
from corpora import assistants_run, chat_chunks, responses_run, split

from streamer import sse
from streamer.openai import RunStream

Contender = Callable[[list[bytes]], int]


def ours(chunks: list[bytes]) -> int:
    """Typed Assistants events, ours."""
    stream = RunStream.from_chunks(chunks)
    count = 0
    while stream.next():
        count += 1
    if stream.err() is not None:
        raise SystemExit(f"streamer failed: {stream.err()}")
    return count


def bare_sse(chunks: list[bytes]) -> int:
    """Bare SSE decoding, ours (for scale)."""
    return sum(1 for _ in sse.iter_events(chunks))


def openai_sdk(chunks: list[bytes]) -> int:
    """Typed Assistants events, the SDK's."""
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
    """Typed chat chunks, ours."""
    from streamer.openai.chat import ChatStream

    stream = ChatStream.from_chunks(chunks)
    count = sum(1 for _ in stream)
    if stream.err() is not None:
        raise SystemExit(f"streamer failed: {stream.err()}")
    return count + 1  # the [DONE] marker, which the SDK's decoder also sees


def chat_sdk(chunks: list[bytes]) -> int:
    """Typed chat chunks, the SDK's."""
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai.types.chat import ChatCompletionChunk

    count = 0
    for event in SSEDecoder().iter_bytes(iter(chunks)):
        count += 1
        if event.data.startswith("[DONE]"):
            continue
        construct_type(type_=ChatCompletionChunk, value=json.loads(event.data))
    return count


def responses_ours(chunks: list[bytes]) -> int:
    """Typed Responses events, ours."""
    from streamer.openai.responses import ResponseStream

    stream = ResponseStream.from_chunks(chunks)
    count = sum(1 for _ in stream)
    if stream.err() is not None:
        raise SystemExit(f"streamer failed: {stream.err()}")
    return count


def responses_sdk(chunks: list[bytes]) -> int:
    """Typed Responses events, the SDK's."""
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai.types.responses import ResponseStreamEvent

    count = 0
    for event in SSEDecoder().iter_bytes(iter(chunks)):
        construct_type(type_=ResponseStreamEvent, value=json.loads(event.data))
        count += 1
    return count


#: kind -> (body maker taking a number of deltas, our contender, the SDK's, the goal ratio).
KINDS: dict[str, tuple[Callable[[int], bytes], Contender, Contender, float]] = {
    "assistants": (assistants_run, ours, openai_sdk, 25.0),
    "chat": (chat_chunks, chat_ours, chat_sdk, 15.0),
    "responses": (responses_run, responses_ours, responses_sdk, 15.0),
}


def interleaved(contenders: dict[str, Callable[[], int]], rounds: int) -> dict[str, list[tuple[float, int]]]:
    """Run each contender once per round, the order rotating; every (seconds, events) per contender."""
    names = list(contenders)
    times: dict[str, list[tuple[float, int]]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            start = time.perf_counter()
            count = contenders[name]()
            times[name].append((time.perf_counter() - start, count))
    return times


def _best(runs: list[tuple[float, int]]) -> float:
    return min(seconds for seconds, _ in runs)


def _spread(runs: list[tuple[float, int]]) -> float:
    return max(seconds for seconds, _ in runs) / _best(runs) - 1


def text_delta_micros(rounds: int, deltas: int = 20_000) -> tuple[float, float]:
    """µs per ``thread.message.delta`` in the typed layer (best of ``rounds``) and the spread."""
    from streamer.openai.assistants.stream import RunProtocol

    raws = list(sse.iter_events([assistants_run(deltas)]))
    first = next(i for i, raw in enumerate(raws) if raw.event == "thread.message.delta")
    head, body = raws[: first + 1], [raw for raw in raws[first + 1 :] if raw.event == "thread.message.delta"]
    runs: list[float] = []
    for _ in range(rounds):
        protocol = RunProtocol()
        for raw in head:
            protocol.accept(raw)
        accept = protocol.accept
        gc.collect()
        start = time.perf_counter()
        for raw in body:
            accept(raw)
        runs.append((time.perf_counter() - start) / len(body) * 1e6)
    return min(runs), max(runs) / min(runs) - 1


def wall_clock(args: argparse.Namespace) -> None:
    """Interleaved best-of-N timings, every kind against the SDK."""
    rounds = 2 if args.quick else args.rounds
    deltas = 5_000 if args.quick else 20_000
    print(f"Python {sys.version.split()[0]}; {rounds} interleaved rounds, {deltas:,} deltas per stream,")
    print("1-16 KB chunks; best of the rounds, spread = slowest / best - 1, ratio = SDK time / ours\n")
    header = f"{'kind':<11} {'contender':<18} {'events/s':>12} {'spread':>7}   ratio (per-round range)   goal"
    print(header)
    print("-" * len(header))
    for kind, (make, mine, theirs, goal) in KINDS.items():
        if args.kind and kind not in args.kind:
            continue
        chunks = split(make(deltas), 1024, 16384)
        contenders: dict[str, Callable[[], int]] = {
            "streamer typed": lambda f=mine, c=chunks: f(c),  # type: ignore[misc]
            "openai typed": lambda f=theirs, c=chunks: f(c),  # type: ignore[misc]
        }
        if kind == "assistants":
            contenders["streamer.sse bare"] = lambda c=chunks: bare_sse(c)  # type: ignore[misc]
        times = interleaved(contenders, rounds)
        counts = {count for runs in times.values() for _, count in runs}
        if len(counts) != 1:
            raise SystemExit(f"{kind}: the contenders disagree on the number of events: {counts}")
        events = counts.pop()
        per_round = [sdk / us for (us, _), (sdk, _) in zip(times["streamer typed"], times["openai typed"])]
        ratio = _best(times["openai typed"]) / _best(times["streamer typed"])
        for row, (name, runs) in enumerate(times.items()):
            rate = f"{events / _best(runs):12,.0f} {_spread(runs):6.0%}"
            tail = ""
            if name == "streamer typed":
                tail = f"   {ratio:6.2f}x ({min(per_round):.2f}-{max(per_round):.2f}x)      >= {goal:.0f}x"
            print(f"{kind if row == 0 else '':<11} {name:<18} {rate}{tail}")
    micros, spread = text_delta_micros(max(rounds, 3), deltas)
    print(f"\nµs per Assistants text delta (typed layer: JSON, event, snapshots): {micros:.2f} µs")
    print(f"  (best of {max(rounds, 3)}, spread {spread:.0%}; goal <= 2.5 µs)")


def hot_loop(kind: str, contender: str, path: str, mode: str) -> None:
    """The process valgrind measures: one kind's contender over the body in ``path`` (or over none)."""
    _, mine, theirs, _ = KINDS[kind]
    run = mine if contender == "streamer" else theirs
    chunks = split(Path(path).read_bytes(), 1024, 16384)
    if mode == "run":
        print(run(chunks))
    else:
        run(split(KINDS[kind][0](0), 1024, 16384))  # imports and a stream's fixed costs, no deltas
        print(0)


def icount(args: argparse.Namespace) -> None:
    """Typed instructions per event for the three kinds, ours and the SDK's, under valgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed; on Debian or Ubuntu: `sudo apt-get install -y valgrind`")
    deltas = 2_000
    version = sys.version.split()[0]
    print(f"Python {version}; valgrind instructions per typed event, {deltas:,} deltas per stream")
    print("(a run over the stream minus a run over the same stream without its deltas)\n")
    header = f"{'kind':<11} {'contender':<10} {'instr/event':>12} {'SDK/ours':>9}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-icount-") as tmp:
        for kind, (make, _, _, _) in KINDS.items():
            if args.kind and kind not in args.kind:
                continue
            path = Path(tmp) / f"{kind}.sse"
            path.write_bytes(make(deltas))
            per_event: dict[str, float] = {}
            for contender in ("streamer", "openai"):
                runs = {}
                for mode in ("base", "run"):
                    command = [sys.executable, __file__, "--hot-loop", kind, contender, str(path), mode]
                    runs[mode] = instructions(command, Path(tmp) / "valgrind.log")
                per_event[contender] = (runs["run"][0] - runs["base"][0]) / deltas
            ratio = per_event["openai"] / per_event["streamer"]
            print(f"{kind:<11} {'streamer':<10} {per_event['streamer']:12,.0f}")
            print(f"{'':<11} {'openai':<10} {per_event['openai']:12,.0f} {ratio:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best of these)")
    parser.add_argument("--quick", action="store_true", help="2 rounds over shorter streams")
    parser.add_argument("--icount", action="store_true", help="instructions per event under valgrind")
    parser.add_argument("--kind", action="append", choices=list(KINDS), help="only these kinds")
    parser.add_argument("--hot-loop", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hot_loop:
        hot_loop(*args.hot_loop)
    elif args.icount:
        icount(args)
    else:
        wall_clock(args)


if __name__ == "__main__":
    main()
