"""Relay an Assistants run to browsers as Server-Sent Events (offline).

A small ASGI app, no framework: ``GET /`` is a plain HTML page whose ``EventSource`` shows the text
as it arrives; ``GET /events`` starts a run and relays each text delta with ``streamer.sse.encode``.
The run comes from a local endpoint replaying a recording, so no key and no network are needed.

    python examples/relay_server.py [--port 8000]     # then open http://127.0.0.1:8000/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from streamer import sse
from streamer.openai import AsyncClient
from streamer.testing.replay import ReplayServer, sse_reply

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_text_01.sse"

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>streamer relay</title></head>
<body>
<h1>Assistant</h1>
<pre id="out"></pre>
<p id="status">streaming...</p>
<script>
const out = document.getElementById("out");
const status = document.getElementById("status");
const source = new EventSource("/events");
source.addEventListener("delta", (e) => { out.textContent += JSON.parse(e.data); });
source.addEventListener("done", () => { status.textContent = "done"; source.close(); });
source.addEventListener("failed", (e) => { status.textContent = "failed: " + e.data; source.close(); });
</script>
</body></html>
"""


def make_app(base_url: str) -> Any:
    """The ASGI app, streaming runs from the OpenAI-compatible endpoint at ``base_url``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # answer startup, then shutdown
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/events":
            await relay(send)
        elif scope["path"] == "/":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
            )
            await send({"type": "http.response.body", "body": PAGE})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not found"})

    async def relay(send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def emit(event: sse.Event) -> None:
            await send({"type": "http.response.body", "body": sse.encode(event), "more_body": True})

        async with AsyncClient(base_url=base_url) as client:
            stream = await client.create_thread_and_run_stream("asst_demo")
            # JSON keeps each delta's exact text (leading spaces, line breaks) through the browser.
            async for text in _deltas(stream):
                await emit(sse.Event("delta", json.dumps(text)))
            if stream.err() is None:
                await emit(sse.Event("done", "[DONE]"))
            else:
                await emit(sse.Event("failed", str(stream.err())))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _deltas(stream: Any) -> Any:
    while await stream.next():
        text, ok = stream.message_delta_text()
        if ok:
            yield text


def main() -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with ReplayServer([sse_reply(RECORDING, chunk_size=32, delay=0.05)]) as upstream:
        print(f"open http://127.0.0.1:{args.port}/ (the run is a replayed recording)", file=sys.stderr)
        uvicorn.run(make_app(upstream.base_url), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
