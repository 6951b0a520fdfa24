"""Synthetic stream bodies and chunkings shared by the benchmarks (deterministic)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent.parent / "examples" / "recordings"

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "streams", "arrive"]
WORDS += ["in", "chunks", "of", "every", "size", "\u00e9t\u00e9", "\u2603"]


def _sse(event: str | None, data: str) -> str:
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


def assistants_run(deltas: int = 20_000, seed: int = 1) -> bytes:
    """A whole Assistants v2 run (from the text recording) with ``deltas`` message deltas."""
    rng = random.Random(seed)
    body = (RECORDINGS / "synthetic_text_01.sse").read_text(encoding="utf-8")
    blocks = [b for b in body.split("\n\n") if b.strip()]
    head = [b for b in blocks if "thread.message.delta" not in b and "completed" not in b and "done" not in b]
    tail = [b for b in blocks if ("completed" in b or "done" in b) and "thread.message.delta" not in b]
    out = ["\n\n".join(head), "\n\n"]
    for index in range(deltas):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        delta = {
            "id": "msg_abc123",
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text, "annotations": []}}]},
        }
        if index == 0:
            delta["delta"]["role"] = "assistant"  # type: ignore[index]
        out.append(_sse("thread.message.delta", json.dumps(delta, separators=(",", ":"), ensure_ascii=False)))
    out.append("\n\n".join(tail))
    out.append("\n\n")
    return "".join(out).encode("utf-8")


def chat_chunks(chunks: int = 20_000, seed: int = 2) -> bytes:
    """A chat.completion.chunk stream ending in ``data: [DONE]``."""
    rng = random.Random(seed)
    out = []
    for index in range(chunks):
        chunk = {
            "id": "chatcmpl-abc",
            "object": "chat.completion.chunk",
            "created": 1732400000,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_1",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))}
                    | ({"role": "assistant"} if index == 0 else {}),
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
        out.append(_sse(None, json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)))
    out.append(_sse(None, "[DONE]"))
    return "".join(out).encode("utf-8")


def responses_run(deltas: int = 20_000, seed: int = 3) -> bytes:
    """A Responses API stream: lifecycle events around ``deltas`` output_text deltas."""
    rng = random.Random(seed)
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "in_progress",
        "model": "gpt-4.1",
        "output": [],
    }
    events: list[dict[str, object]] = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {
            "type": "response.output_item.added",
            "sequence_number": 1,
            "output_index": 0,
            "item": {
                "id": "msg_1",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
    ]
    for index in range(deltas):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": index + 2,
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            }
        )
    events.append(
        {
            "type": "response.completed",
            "sequence_number": deltas + 2,
            "response": {**response, "status": "completed"},
        }
    )
    return "".join(
        _sse(str(e["type"]), json.dumps(e, separators=(",", ":"), ensure_ascii=False)) for e in events
    ).encode("utf-8")


def large_events(count: int = 4, size: int = 1 << 20) -> bytes:
    """A few events of ``size`` bytes of data each (one long line)."""
    line = ("x" * 63 + "\u00e9")[: size // 2]
    data = (line * (size // len(line) + 1))[: size - 1]
    return "".join(_sse("big", data) for _ in range(count)).encode("utf-8")


def multiline_events(events: int = 20_000) -> bytes:
    """Events of five data lines each."""
    return "".join(
        _sse("lines", "\n".join(f"line {i} of event {e}" for i in range(5)))
        for e in range(events)
        for _ in [0]
    ).encode("utf-8")


def with_crlf(body: bytes) -> bytes:
    """The same stream with CRLF line ends."""
    return body.replace(b"\n", b"\r\n")


CORPORA: dict[str, Callable[[], bytes]] = {
    "assistants-20k-deltas": assistants_run,
    "chat-20k-chunks": chat_chunks,
    "4x1MB-events": large_events,
    "4x1MB-events-crlf": lambda: with_crlf(large_events()),
    "assistants-crlf": lambda: with_crlf(assistants_run()),
    "multiline-20k": multiline_events,
}


def split(body: bytes, low: int, high: int, seed: int = 7) -> list[bytes]:
    """Cut ``body`` into chunks of random sizes in [low, high]."""
    rng = random.Random(seed)
    out = []
    pos = 0
    while pos < len(body):
        step = rng.randint(low, high)
        out.append(body[pos : pos + step])
        pos += step
    return out


CHUNKINGS: dict[str, tuple[int, int]] = {"network 1-16KB": (1024, 16384), "tiny 1-64B": (1, 64)}
