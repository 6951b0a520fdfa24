"""``streamer replay FILE...``: serve recorded streams as a local OpenAI-compatible endpoint."""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
from typing import Any

from ..testing.replay import KINDS, Recordings, ReplayServer
from . import options as opt
from .display import escape, plural

__all__ = ["register"]


#: A command that uses each kind of recording, for the banner.
TRY = {
    "chat": "OPENAI_API_KEY=any streamer chat --base-url {url} hello",
    "responses": "curl -N {url}/responses -H 'content-type: application/json' -d '{{\"stream\": true}}'",
    "assistants": "OPENAI_API_KEY=any streamer run --base-url {url} --assistant asst_1 hello",
}


def _replay(args: argparse.Namespace) -> int:
    try:
        recordings = Recordings.load(
            args.files,
            cut_after=args.cut_after,
            stall_after=args.stall_after,
            stall_for=args.stall_for,
            status=args.status,
            status_times=args.status_times,
            chunk_size=args.chunk_size,
            delay=args.delay,
            log=None if args.quiet else _log,
            cut_within=args.cut_within,
            cut_resumes=args.cut_resumes,
            retry_ms=args.retry,
        )
    except OSError as exc:
        raise SystemExit(f"streamer: error: cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise SystemExit(f"streamer: error: {escape(str(exc))}") from None
    try:
        server = ReplayServer(responder=recordings, host=args.bind, port=args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the address is already in use (choose another --port, or --port 0 for a free one)"
        raise SystemExit(f"streamer: error: cannot serve on {args.bind}:{args.port}: {reason}") from None
    print(f"Replaying {plural(len(recordings.recordings), 'recording')} on {server.base_url}; Ctrl+C stops")
    for kind, found in recordings.kinds().items():
        names = ", ".join(escape(r.path.name) for r in found)
        print(f"  {kind:<10} {names}  <- {KINDS[kind]}")
    for kind in recordings.kinds():
        print(f"  try: {TRY[kind].format(url=server.base_url)}")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _log(line: str) -> None:
    print(escape(line), file=sys.stderr, flush=True)


def register(commands: Any) -> None:
    """Add ``streamer replay`` to the ``streamer`` command's subparsers."""
    p = commands.add_parser(
        "replay",
        help="serve recorded streams as a local OpenAI-compatible endpoint (for any client, SDK or curl)",
        description=(
            "Serve recorded SSE streams on a local OpenAI-compatible endpoint. Each file's kind is "
            "recognised by its first event and served at its path: chat at /v1/chat/completions, "
            "responses at /v1/responses (GET /v1/responses/{id}?stream=true&starting_after=N resumes), "
            "assistants at /v1/threads/runs and /v1/threads/{id}/runs. Files of one kind are served in "
            "turn; the last one repeats."
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="recorded .sse files (any of the three kinds)")
    p.add_argument("--port", type=opt.port, default=0, help="port (default 0: a free one, printed)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--cut-after", type=opt.non_negative_int, default=None, help="end each connection after N events"
    )
    p.add_argument(
        "--cut-within",
        action="store_true",
        help="with --cut-after N: cut in the middle of event N+1 instead of after event N",
    )
    p.add_argument(
        "--cut-resumes",
        action="store_true",
        help="with --cut-after N: cut resumed streams too (starting_after, Last-Event-ID) after N events",
    )
    p.add_argument(
        "--retry",
        type=opt.non_negative_int,
        default=None,
        metavar="MS",
        help="start each stream with a retry: field (the reconnect wait a client should make, in ms)",
    )
    p.add_argument("--stall-after", type=opt.non_negative_int, default=None, help="go silent after N events")
    p.add_argument(
        "--stall-for", type=opt.positive_float, default=60.0, help="seconds a stall lasts (default 60)"
    )
    p.add_argument(
        "--status", type=opt.status_code, default=None, help="answer with this error status (e.g. 429)"
    )
    p.add_argument(
        "--status-times",
        type=opt.non_negative_int,
        default=0,
        help="only the first N requests get --status (default 0: every request)",
    )
    p.add_argument("--delay", type=opt.non_negative_float, default=0.0, help="seconds between writes")
    p.add_argument("--chunk-size", type=opt.positive_int, default=4096, help="bytes per write")
    p.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    p.set_defaults(handler=_replay)
