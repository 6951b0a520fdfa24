"""A model writes a moving-average operator; the sandbox refuses a malicious answer and verifies the good one.

Runs offline: it starts a local OpenAI-compatible server on 127.0.0.1 whose answers are CANNED (no model
is called, no API key is needed). The first canned answer tries to read the environment; the second is
a plain SMA that rounds to 4 decimals. The accepted operator is checked against an exact direct SMA (numbers
may differ by VERIFY_ABS_TOLERANCE, 1e-4), then runs on sample prices in batches inside its worker process,
behind the OS wall where the kernel offers one. Model text is escaped before it is printed.

    python examples/swim_generated_operator.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for streamer.testing.chat_server

from streamer._text import escape_untrusted
from streamer.swim.generate import ModelConfig, OperatorCache, generate_operator
from streamer.swim.sandbox import os_wall
from streamer.testing.chat_server import ChatServer, Reply

MALICIOUS = "import os\ndef func(acc, new_value, params):\n    return acc, len(os.environ)\n"
SMA = '''def func(acc: dict, new_value: float, params: dict) -> tuple:
    """Simple moving average of the last `window` prices."""
    window = params.get("window", 5)
    prices = (acc.get("prices", []) + [new_value])[-window:]
    acc["prices"] = prices
    return acc, round(sum(prices) / len(prices), 4)
'''


def direct_sma(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The direct operator the generated one must agree with (exact: no rounding)."""
    prices = ([*acc.get("prices", []), value])[-params["window"] :]
    return {"prices": prices}, sum(prices) / len(prices)


def main() -> None:
    """Generate, verify and run."""
    print("NOTE: the model answers below are canned, served by a local test server; no model is called.")
    print(os_wall().describe())
    replies = [Reply(json.dumps({"result": MALICIOUS})), Reply(f"Here you go:\n```python\n{SMA}```")]
    with ChatServer(replies) as server, tempfile.TemporaryDirectory() as cache_dir:
        generated = generate_operator(
            "accumulate",
            "simple moving average",
            {"window": 5},
            ModelConfig("canned-model", server.url),
            cache=OperatorCache(Path(cache_dir)),
            reference=(direct_sma, "direct SMA(5)"),
            on_refused=lambda attempt, error: print(f"attempt {attempt} refused: {error}"),
        )
        refused = server.requests[1]["messages"][-1]["content"]
    print(f"told to the model as: {escape_untrusted(refused)}")
    print(f"attempt {generated.attempts} accepted:\n{escape_untrusted(generated.source)}")
    print(f"verdict: {generated.verdict.describe()}")
    with generated.operator as sma:
        prices = [21.0, 21.5, 22.25, 20.75, 19.5, 23.0, 24.5, 22.0]
        acc, results = sma.run_batch(prices, {"window": 5}, {})
    for price, avg in zip(prices, results):
        print(f"AAAA price {price:6.2f} -> SMA(5) {avg}")
    print(f"final acc: {acc}")


if __name__ == "__main__":
    main()
