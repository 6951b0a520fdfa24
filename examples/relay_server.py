"""Relay an Assistants run to browsers with ``streamer.relay``: resumable SSE, offline.

A small ASGI app, no framework: ``GET /`` is a plain HTML page whose ``EventSource`` shows the text
as it arrives; ``GET /events/<stream_id>`` relays the run for that id (started once, on the first
request). A cut connection costs nothing: the browser reconnects with ``Last-Event-ID`` and gets the
rest, exactly once, from this process (``MemoryStore``) or from any process on the same Redis
(``--redis redis://...``). The run comes from a local endpoint replaying a recording, so no key and
no network are needed (``--upstream URL`` points it at another OpenAI-compatible endpoint).

    python examples/relay_server.py [--port 8000] [--redis URL]    # then open http://127.0.0.1:8000/
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamer.openai import AsyncClient
from streamer.relay import MemoryStore, Relay, Store
from streamer.testing.replay import ReplayServer, sse_reply

RECORDING = Path(__file__).resolve().parent / "recordings" / "synthetic_text_01.sse"

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>streamer relay</title></head>
<body>
<h1>Assistant</h1>
<pre id="out"></pre>
<p id="status">streaming...</p>
<p id="opens"></p>
<script>
const out = document.getElementById("out");
const status = document.getElementById("status");
const id = new URLSearchParams(location.search).get("id") || crypto.randomUUID();
const source = new EventSource("/events/" + encodeURIComponent(id));
let opens = 0;
source.onopen = () => { opens += 1; document.getElementById("opens").textContent = "connections: " + opens; };
source.addEventListener("delta", (e) => { out.textContent += JSON.parse(e.data); });
source.addEventListener("done", () => { status.textContent = "done"; source.close(); });
source.addEventListener("error", (e) => {
  if (e.data === undefined) return;  // the connection dropped: EventSource reconnects by itself
  status.textContent = "failed: " + JSON.parse(e.data).message; source.close();
});
</script>
</body></html>
"""


def make_app(base_url: str, store: Store | None = None, **relay_options: Any) -> Any:
    """The ASGI app, relaying runs from the OpenAI-compatible endpoint at ``base_url``."""
    relay = Relay(store if store is not None else MemoryStore(), **relay_options)
    clients: list[AsyncClient] = []

    def make_stream() -> Any:
        if not clients:
            clients.append(AsyncClient(base_url=base_url))
        return clients[0].create_thread_and_run_stream("asst_demo")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await relay.aclose()
            for client in clients:
                await client.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        if path.startswith("/events/") and len(path) > len("/events/"):
            await relay.response(path[len("/events/") :], make_stream)(scope, receive, send)
        elif path == "/":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
            )
            await send({"type": "http.response.body", "body": PAGE})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not found"})

    return app


@contextlib.contextmanager
def upstream(url: str | None) -> Iterator[str]:
    """The upstream's base URL: ``url``, or a local replay of the recording."""
    if url is not None:
        yield url
        return
    with ReplayServer([sse_reply(RECORDING, chunk_size=32, delay=0.05)]) as server:
        yield server.base_url


def main() -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis", metavar="URL", help="keep streams in Redis (default: in memory)")
    parser.add_argument("--upstream", metavar="URL", help="OpenAI-compatible base URL (default: a replay)")
    args = parser.parse_args()
    store: Store | None = None
    if args.redis:
        from streamer.relay.redis_store import RedisStore

        store = RedisStore(args.redis)
    with upstream(args.upstream) as base_url:
        print(f"open http://127.0.0.1:{args.port}/", file=sys.stderr)
        app = make_app(base_url, store)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
