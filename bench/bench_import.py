"""How long ``import streamer`` and ``import streamer.sse`` take, and which heavy modules they load.

Each import runs in a fresh interpreter (``python -c``), timed inside it with ``perf_counter`` (the
interpreter's own start-up is not counted); the best of N runs is reported, with the heavy modules
(httpx, anyio, the OpenAI models) found in ``sys.modules`` afterwards. The goal is under 50 ms with
none of them loaded.

    python bench/bench_import.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

HEAVY = ("httpx", "anyio", "streamer.openai", "streamer.openai.models", "swimos", "websockets")
GOAL_MS = 50.0

PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps({{"ms": elapsed * 1000, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def measure(module: str, runs: int) -> tuple[float, list[str]]:
    """The best import time of ``module`` over ``runs`` fresh interpreters, and the heavy modules loaded."""
    best = float("inf")
    loaded: list[str] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out)
        best = min(best, result["ms"])
        loaded = result["loaded"]
    return best, loaded


def main() -> int:
    """Print one line per import: best time, goal, and the heavy modules loaded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per import (best is kept)")
    args = parser.parse_args()
    print(f"best of {args.runs} fresh interpreters; goal < {GOAL_MS:g} ms, no heavy module loaded")
    ok = True
    for module in ("streamer.sse", "streamer", "streamer.scanner", "streamer.openai"):
        ms, loaded = measure(module, args.runs)
        lazy_goal = module != "streamer.openai"  # the OpenAI package itself is the heavy part
        verdict = "" if not lazy_goal else ("ok" if ms < GOAL_MS and not loaded else "OVER GOAL")
        ok = ok and (verdict != "OVER GOAL")
        print(
            f"  import {module:<18} {ms:7.1f} ms  loaded: {', '.join(loaded) or 'nothing heavy'}  {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
