"""Fuzz streamer.sse: only StreamError may escape, output is chunking-invariant, encode round-trips.

Coverage-guided with atheris (libFuzzer) when it is installed; otherwise a time-boxed hypothesis
run of the same checks. ``--smoke`` keeps the run short enough for ``make test`` and quiet: the
fuzzer runs in a child process whose output is shown only if it finds something (or fails).

    python fuzz/fuzz_sse.py --seconds 300          # what `make fuzz` runs
    python fuzz/fuzz_sse.py --smoke --seconds 10   # what `make test` runs
    python fuzz/fuzz_sse.py fuzz/findings/crash-*  # re-run saved findings
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "examples" / "recordings"

try:
    import atheris
except ImportError:  # atheris has wheels for CPython 3.10-3.12 on Linux/macOS only
    atheris = None

if atheris is not None and "--smoke" not in sys.argv:  # --smoke fuzzes in a child process
    with atheris.instrument_imports():
        from streamer import sse
        from streamer.errors import StreamError
else:
    from streamer import sse
    from streamer.errors import StreamError


def run(chunks: list[bytes], limit: int) -> tuple[list[sse.Event], object]:
    """Decode chunks; return the events and how the stream ended (error kind, offset, or truncated)."""
    decoder = sse.Decoder(max_event_size=limit)
    events: list[sse.Event] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        events += decoder.close()
    except sse.EventTooLarge as exc:
        return events, ("too large", exc.offset)
    except StreamError as exc:  # any other StreamError is allowed, but must be chunking-invariant
        return events, (type(exc).__name__, str(exc))
    return events, ("truncated" if decoder.truncated else "clean")


def check(data: bytes) -> None:
    """The fuzz target: raises AssertionError (or anything but StreamError) on a finding."""
    if len(data) < 2:
        return
    limit = 8 + data[0] * 64
    rng = random.Random(data[1])
    stream = data[2:]
    cuts = sorted(rng.randrange(len(stream) + 1) for _ in range(rng.randrange(8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    whole = run([stream], limit)
    assert run(chunks, limit) == whole, "chunking changed the output"
    if len(stream) <= 512:
        assert run([stream[i : i + 1] for i in range(len(stream))], limit) == whole, "byte-wise differs"
    for event in whole[0]:
        assert run([sse.encode(event)], sse.DEFAULT_MAX_EVENT_SIZE) == ([event], "clean"), "round trip"


def seed_corpus(directory: Path) -> None:
    """Start from the recorded streams, cut into small pieces."""
    for index, path in enumerate(sorted(RECORDINGS.glob("*.sse"))):
        body = path.read_bytes()
        for start in range(0, min(len(body), 4096), 1024):
            (directory / f"{index}-{start}").write_bytes(
                bytes([index * 7 % 256, start % 256]) + body[start : start + 1024]
            )


def fuzz_with_atheris(seconds: int, quiet: bool) -> None:
    """Coverage-guided fuzzing with libFuzzer for ``seconds``."""
    assert atheris is not None
    corpus = Path(tempfile.mkdtemp(prefix="sse-corpus-"))
    seed_corpus(corpus)
    findings = Path(__file__).resolve().parent / "findings"
    findings.mkdir(exist_ok=True)
    argv = [sys.argv[0], f"-max_total_time={seconds}", "-max_len=8192", "-print_final_stats=1"]
    argv.append(f"-artifact_prefix={findings}/")
    if quiet:
        argv.append("-verbosity=0")
    argv.append(str(corpus))
    atheris.Setup(argv, check)
    atheris.Fuzz()


def fuzz_with_hypothesis(seconds: int) -> None:
    """Property-based fuzzing with hypothesis until ``seconds`` have passed."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    interesting = st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"event:",
            b"event: ",
            b"\n\n",
            b"id:",
            b"retry:1",
            b":",
            b"\n",
            b"\r",
            b"\r\n",
            b" ",
            b"\xef\xbb\xbf",
            b"\xe2\x82",
            b"x",
            b"\x00",
        ]
    )
    inputs = st.one_of(
        st.binary(max_size=2048),
        st.lists(interesting, max_size=200).map(lambda parts: b"\x01\x02" + b"".join(parts)),
    )

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def batch(data: bytes) -> None:
        check(data)

    deadline = time.monotonic() + seconds
    batches = 0
    while time.monotonic() < deadline:
        batch()
        batches += 1
    print(f"fuzz_sse: hypothesis harness ran {batches * 500} inputs in {seconds} s with no finding")


def smoke_with_atheris(seconds: int) -> None:
    """Fuzz in a child process; print one line if it finds nothing, and all of its output if it does."""
    command = [sys.executable, str(Path(__file__).resolve()), "--seconds", str(seconds), "--quiet-child"]
    with tempfile.TemporaryFile() as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    runs = re.search(r"stat::number_of_executed_units: (\d+)", output)
    if code == 0 and runs:
        print(f"fuzz_sse: atheris ran {int(runs[1]):,} inputs in {seconds} s with no finding")
        return
    sys.stderr.write(output)
    sys.stderr.write(f"\nfuzz_sse: FAILED (exit status {code}); the fuzzer's whole output is above\n")
    raise SystemExit(code or 1)


def main() -> None:
    """Parse arguments and fuzz."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300, help="how long to fuzz")
    parser.add_argument("--smoke", action="store_true", help="a short run, as part of make test")
    parser.add_argument(
        "--hypothesis", action="store_true", help="use the hypothesis harness even if atheris is installed"
    )
    parser.add_argument("--quiet-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("inputs", nargs="*", type=Path, help="re-run these inputs (findings) and exit")
    args = parser.parse_args()
    if args.inputs:
        for path in args.inputs:
            check(path.read_bytes())
            print(f"fuzz_sse: {path} passes")
        return
    if atheris is not None and not args.hypothesis:
        if args.smoke:
            smoke_with_atheris(args.seconds)
        else:
            fuzz_with_atheris(args.seconds, quiet=args.quiet_child)
    else:
        if atheris is None:
            print("fuzz_sse: atheris is not installed; using the hypothesis harness")
        fuzz_with_hypothesis(args.seconds)


if __name__ == "__main__":
    main()
