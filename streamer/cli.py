"""The ``streamer`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, sse
from .errors import StreamError

__all__ = ["main"]

_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _demo(args: argparse.Namespace) -> int:
    """Decode a recorded OpenAI Assistants stream from examples/ and print its events."""
    path = Path(args.file) if args.file else _EXAMPLES / "recordings" / "synthetic_text_01.sse"
    print(f"Decoding {path} (a recorded Assistants v2 stream) with streamer.sse:")
    with path.open("rb") as source:
        for index, event in enumerate(sse.iter_events(iter(lambda: source.read(4096), b""))):
            preview = event.data if len(event.data) <= 60 else event.data[:57] + "..."
            print(f"{index:3d} {event.event:<28} {preview}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``streamer`` command."""
    parser = argparse.ArgumentParser(prog="streamer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"streamer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the offline demo (what `make demo` runs)")
    demo.add_argument("file", nargs="?", help="an SSE file to decode instead of the bundled recording")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StreamError as exc:
        print(f"streamer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("streamer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`streamer ... | head`): not an error, and nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
