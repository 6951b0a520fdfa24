"""Benchmark streamer.sse against the SSE decoders users would otherwise pick.

Peers, each fed the same chunks: httpx-sse (its SSELineDecoder + SSEDecoder, as EventSource.iter_sse
runs them over response.iter_text()), httpx2's built-in EventSource parser, and the openai SDK's
SSEDecoder.iter_bytes. All are checked to agree on the events before anything is timed.

Wall clock: the contenders run interleaved (one run each per round, in a rotating order), and the
report gives the best of N rounds with the spread (slowest / best - 1) and the range of the
per-round ratios, so that a busy machine shows as a wide spread instead of a wrong ratio.
Instruction counts (``--icount``, what ``make bench-icount`` runs): each hot loop runs under
valgrind, once decoding nothing and once decoding; the difference per event does not depend on
what else the machine is doing (runs agree to within a few percent).

    python bench/bench_sse.py [--rounds N] [--quick] [--corpus NAME]...
    python bench/bench_sse.py --icount [--corpus NAME]...
"""

from __future__ import annotations

import argparse
import codecs
import gc
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import CHUNKINGS, CORPORA, split

from streamer import sse

Decode = Callable[[list[bytes]], Iterator[tuple[str, str]]]
Events = Callable[[list[bytes]], Iterable[object]]


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


def _httpx_sse_events(chunks: list[bytes]) -> Iterable[object]:
    # Only iterators, no generator frame: nothing keeps the previous event alive (for peak memory).
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    lines = SSELineDecoder()
    decoder = SSEDecoder()
    every_line = itertools.chain(
        itertools.chain.from_iterable(map(lines.decode, _text(chunks))), _Later(lines.flush)
    )
    return filter(None, map(decoder.decode, every_line))


class _Later:
    """An iterable that calls ``make`` only when iteration reaches it (a decoder's final flush)."""

    def __init__(self, make: Callable[[], Iterable[str]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[str]:
        return iter(self.make())


def httpx_sse(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    for event in _httpx_sse_events(chunks):
        yield event.event, event.data  # type: ignore[attr-defined]


def _httpx2_events(chunks: list[bytes]) -> Iterable[object]:
    from httpx2._sse import _SSEParser

    parser = _SSEParser(None)
    return itertools.chain(
        itertools.chain.from_iterable(map(parser.decode, _text(chunks))), _Later(parser.flush)
    )


def httpx2_sse(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    for event in _httpx2_events(chunks):
        yield event.event, event.data  # type: ignore[attr-defined]


def _openai_events(chunks: list[bytes]) -> Iterable[object]:
    from openai._streaming import SSEDecoder

    return SSEDecoder().iter_bytes(iter(chunks))


def openai_sdk(chunks: list[bytes]) -> Iterator[tuple[str, str]]:
    for event in _openai_events(chunks):
        yield event.event or "message", event.data  # type: ignore[attr-defined]


PEERS: dict[str, Decode] = {"httpx-sse": httpx_sse, "httpx2": httpx2_sse, "openai": openai_sdk}
CONTENDERS: dict[str, Decode] = {"streamer": ours, **PEERS}
# The same decoders as bare event iterators, for peak memory: the consumer drops each event.
EVENT_ITERATORS: dict[str, Events] = {
    "streamer": sse.iter_events,
    "httpx-sse": _httpx_sse_events,
    "httpx2": _httpx2_events,
    "openai": _openai_events,
}


def interleaved(chunks: list[bytes], rounds: int) -> tuple[dict[str, list[float]], int]:
    """Seconds per run of every contender, ``rounds`` times each, in a rotating order."""
    times: dict[str, list[float]] = {label: [] for label in CONTENDERS}
    labels = list(CONTENDERS)
    count = 0
    for round_ in range(rounds):
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            gc.collect()
            start = time.perf_counter()
            count = sum(1 for _ in CONTENDERS[label](chunks))
            times[label].append(time.perf_counter() - start)
    return times, count


def spread(samples: list[float]) -> str:
    """How much slower the slowest run was than the best, in percent."""
    return f"{(max(samples) / min(samples) - 1) * 100:3.0f}%"


def peak_memory(events: Events, chunks: list[bytes]) -> int:
    """Peak traced memory while a consumer takes each event and lets it go."""
    gc.collect()
    tracemalloc.start()
    for event in events(chunks):
        del event
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def wall_clock(args: argparse.Namespace) -> None:
    """Interleaved best-of-N timings and ratios, then peak memory."""
    rounds = 1 if args.quick else args.rounds
    print(f"Python {sys.version.split()[0]}; interleaved, best of {rounds} rounds; ratio = peer time / ours")
    print("spread = slowest / best - 1; ratio range = the per-round ratios (same round, same machine load)\n")
    header = (
        f"{'corpus':<24} {'chunking':<15} {'decoder':<10} {'MB/s':>8} {'events/s':>11} {'spread':>6}"
        f" {'ours/peer':>9} {'ratio range':>13}"
    )
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
            times, count = interleaved(chunks, rounds)
            mb = len(body) / 1e6
            best = min(times["streamer"])
            print(
                f"{name:<24} {chunking:<15} {'streamer':<10} {mb / best:8.1f} {count / best:11,.0f}"
                f" {spread(times['streamer']):>6}"
            )
            for peer in PEERS:
                peer_best = min(times[peer])
                ratio = peer_best / best
                per_round = [p / o for p, o in zip(times[peer], times["streamer"])]
                worst[peer] = min(worst.get(peer, ratio), ratio)
                print(
                    f"{'':<40} {peer:<10} {mb / peer_best:8.1f} {count / peer_best:11,.0f}"
                    f" {spread(times[peer]):>6} {ratio:8.2f}x {min(per_round):5.2f}-{max(per_round):.2f}x"
                )
    if not args.corpus or "4x1MB-events" in args.corpus:
        chunks = split(CORPORA["4x1MB-events"](), *CHUNKINGS["network 1-16KB"])
        largest = 1 << 20
        print(
            "\nPeak memory decoding 4 x 1 MB events (network chunking), as a multiple of the largest event;"
            "\nthe consumer lets each event go before asking for the next:"
        )
        for label, events in EVENT_ITERATORS.items():
            print(f"  {label:<10} {peak_memory(events, chunks) / largest:6.3f}x")
    print("\nWorst ratio (best of rounds) against each peer over all corpora and chunkings:")
    for peer, ratio in worst.items():
        print(f"  {peer:<10} {ratio:5.2f}x")


# Smaller corpora for valgrind (about 50x slower than native): per-event counts do not depend on size.
ICOUNT_CORPORA = ["assistants-5k-deltas", "chat-5k-chunks", "multiline-5k"]


def icount_body(name: str) -> bytes:
    """The bytes of one of ICOUNT_CORPORA."""
    from corpora import assistants_run, chat_chunks, multiline_events

    makers = {
        "assistants-5k-deltas": lambda: assistants_run(5_000),
        "chat-5k-chunks": lambda: chat_chunks(5_000),
        "multiline-5k": lambda: multiline_events(5_000),
    }
    return makers[name]()


def hot_loop(path: str, chunking: str, contender: str, mode: str) -> None:
    """The process valgrind measures: decode the corpus in ``path`` (or nothing, for the baseline)."""
    chunks = split(Path(path).read_bytes(), *CHUNKINGS[chunking])
    decode = CONTENDERS[contender]
    count = sum(1 for _ in decode(chunks if mode == "run" else []))
    print(count)


def instructions(command: list[str], log: Path) -> tuple[int, str]:
    """Instructions executed by ``command`` under valgrind, and what it printed."""
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    # A fixed hash seed and no bytecode writes: nothing but the decoding differs between the runs.
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    output = subprocess.run(
        [*valgrind, f"--log-file={log}", *command], check=True, capture_output=True, text=True, env=env
    ).stdout
    found = re.search(r"I\s+refs:\s+([\d,]+)", log.read_text())
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's log {log}")
    return int(found[1].replace(",", "")), output


def icount(args: argparse.Namespace) -> None:
    """Instructions per event for every contender, under valgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed; on Debian or Ubuntu: `sudo apt-get install -y valgrind`")
    names = [n for n in ICOUNT_CORPORA if not args.corpus or n in args.corpus]
    print(
        f"Python {sys.version.split()[0]}; valgrind instructions per event"
        " (a run decoding the corpus minus one decoding nothing)"
    )
    print("ratio = peer instructions / ours\n")
    header = f"{'corpus':<22} {'chunking':<15} {'decoder':<10} {'instr/event':>12} {'ours/peer':>9}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-icount-") as tmp:
        for name in names:
            path = Path(tmp) / f"{name}.sse"
            path.write_bytes(icount_body(name))
            for chunking in CHUNKINGS:
                per_event: dict[str, float] = {}
                for contender in CONTENDERS:
                    runs = {}
                    for mode in ("base", "run"):
                        command = [
                            sys.executable,
                            __file__,
                            "--hot-loop",
                            str(path),
                            chunking,
                            contender,
                            mode,
                        ]
                        runs[mode] = instructions(command, Path(tmp) / "valgrind.log")
                    events = int(runs["run"][1])
                    per_event[contender] = (runs["run"][0] - runs["base"][0]) / events
                ours_count = per_event["streamer"]
                for row, (contender, count) in enumerate(per_event.items()):
                    ratio = "" if contender == "streamer" else f"{count / ours_count:8.2f}x"
                    where = f"{name:<22} {chunking:<15}" if row == 0 else " " * 38
                    print(f"{where} {contender:<10} {count:12,.0f} {ratio:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (best of these)")
    parser.add_argument("--quick", action="store_true", help="one round instead of --rounds")
    parser.add_argument("--corpus", action="append", help="only these corpora")
    parser.add_argument("--icount", action="store_true", help="instructions per event under valgrind")
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
