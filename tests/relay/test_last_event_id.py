"""Property: whatever Last-Event-ID a client sends, the relay answers 200 with exactly the events
after it, 204 after the end, or 400 / 404 with a message; never a crash, a gap or a duplicate."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from streamer import sse
from streamer.relay import Entry, MemoryStore, Relay

EVENTS = 8


async def answer(header: bytes | None) -> tuple[int, bytes]:
    store = MemoryStore()
    await store.claim("s", 60)
    await store.append("s", [Entry(n, "delta", f"piece {n}", last=n == EVENTS) for n in range(1, EVENTS + 1)])
    relay = Relay(store)
    sent: list[dict[str, Any]] = []
    headers = [] if header is None else [(b"last-event-id", header)]
    scope = {"type": "http", "method": "GET", "path": "/events/s", "headers": headers}

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def never() -> Any:
        raise AssertionError("a resume must not start the upstream")

    await asyncio.wait_for(relay.response("s", never)(scope, receive, send), 10)
    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert sent[-1].get("more_body", False) is False  # the response is complete
    return status, body


@given(
    st.one_of(
        st.integers(min_value=-5, max_value=EVENTS + 5).map(lambda n: str(n).encode()), st.binary(max_size=12)
    )
)
@example(b"+3")
@example(b"0_3")
@example(b" 3 ")
@example(b"3.0")
@example(b"99999999999999999999999")
def test_any_last_event_id_gets_a_definite_answer(header: bytes) -> None:
    status, body = asyncio.run(answer(header))
    text = header.decode("latin-1").strip()
    digits = text.isascii() and text.isdigit() and len(text) <= 18
    if digits and 1 <= int(text) < EVENTS:
        assert status == 200
        ids = [int(event.id or 0) for event in sse.iter_events([body])]
        assert ids == list(range(int(text) + 1, EVENTS + 1))
    elif digits and int(text) == EVENTS:
        assert status == 204 and body == b""
    elif text in ("", "0"):
        assert status == 200  # from the start (no resume)
        assert [int(e.id or 0) for e in sse.iter_events([body])] == list(range(1, EVENTS + 1))
    else:  # not digits (+3, 0_3, 3.0, ...), or an event this stream never sent
        assert status == 400 and b"Last-Event-ID" in body
