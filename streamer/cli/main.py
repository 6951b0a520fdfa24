"""The ``streamer`` command: decode streams, stream runs, and the offline demo."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from .. import __version__, sse
from ..errors import StreamError, UnexpectedEOF
from ..openai import ChatStream, ResponseStream, RunStream
from ..openai.assistants import events as ev
from ..openai.assistants.models import (
    ImageFileDeltaBlock,
    ImageURLDeltaBlock,
    RefusalDeltaBlock,
    TextDeltaBlock,
)
from ..openai.chat import ChatChunk
from ..openai.detect import open_stream
from ..openai.responses import events as rs
from . import options as opt
from .display import escape, plural, show_bytes
from .outcome import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, outcome, refusal_delta
from .replay import register as register_replay
from .swim import register as register_swim

__all__ = ["build_parser", "main"]

DEMO_RECORDING = Path(__file__).resolve().parent.parent / "_data" / "demo_run.sse"


class _Input:
    """The bytes of a file as they arrive (``read1``: what is there, not a full buffer), keeping the head."""

    HEAD = 4096
    _FIELD = re.compile(rb"(?:\A|[\r\n])(?:\xef\xbb\xbf)?(?:data|event|id|retry)(?::|\r|\n)")

    def __init__(self, source: IO[bytes]) -> None:
        self._read = getattr(source, "read1", source.read)
        self.head = b""

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._read(65536):
            if len(self.head) < self.HEAD:
                self.head += chunk[: self.HEAD - len(self.head)]
            yield chunk

    def has_fields(self) -> bool:
        """True if the input starts like SSE (a ``data:``/``event:``/``id:``/``retry:`` line)."""
        return self._FIELD.search(self.head) is not None

    def not_sse(self) -> str:
        """The message for an input in which no event was decoded."""
        if not self.head:
            return "no server-sent events in the input: it is empty"
        return (
            f"no server-sent events in the input; it starts with {show_bytes(self.head, 40)} "
            "(expected lines like 'event: ...' and 'data: ...')"
        )


def _open_input(name: str) -> IO[bytes]:
    if name == "-":
        return sys.stdin.buffer
    try:
        return Path(name).open("rb")
    except OSError as exc:
        raise SystemExit(f"streamer: error: cannot read {name}: {exc.strerror}") from None


def _summary(event: object) -> str:
    """A short description of a typed event, for ``streamer cat``."""
    match event:
        case ev.ThreadMessageDelta(data=data):
            return _message_delta(data)
        case ev.RunEvent(data=run):
            extra = f" {run.last_error.code}: {run.last_error.message}" if run.last_error else ""
            return f"{run.id} {run.status}{extra}"
        case ev.RunStepEvent(data=step):
            return f"{step.id} {step.type} {step.status}"
        case ev.ThreadRunStepDelta(data=data):
            return f"{data.id}{_step_delta(data)}"
        case ev.MessageEvent(data=message):
            return f"{message.id} {message.status} {plural(len(message.text()), 'character')}"
        case ev.ThreadCreated(data=thread):
            return f"{thread.id}"
        case ev.ErrorEvent(data=error):
            return f"{error.code}: {error.message}"
        case ev.UnknownEvent(data=data):
            return data if len(data) <= 60 else data[:57] + "..."
        case ChatChunk(data=chunk):
            parts = []
            for choice in chunk.choices or ():
                delta = choice.delta
                if delta is not None and delta.content:
                    parts.append(repr(delta.content))
                if delta is not None and delta.refusal:
                    parts.append(f"refusal {delta.refusal!r}")
                if delta is not None and delta.tool_calls:
                    parts.append(f"{len(delta.tool_calls)} tool call piece(s)")
                if choice.finish_reason:
                    parts.append(f"finish_reason={choice.finish_reason}")
            if chunk.usage is not None:
                parts.append(f"usage {plural(chunk.usage.total_tokens or 0, 'token')}")
            return " ".join(parts)
        case rs.ResponseEvent():
            return _response_summary(event)
    return ""


def _message_delta(data: Any) -> str:
    """Text as a quoted string; refusals and images named, so nothing shows as ''."""
    parts = []
    for block in (data.delta.content if data.delta else None) or ():
        if isinstance(block, TextDeltaBlock):
            parts.append(repr(block.text.value if block.text else ""))
        elif isinstance(block, RefusalDeltaBlock):
            parts.append(f"refusal {block.refusal or ''!r}")
        elif isinstance(block, ImageFileDeltaBlock):
            parts.append(f"image file {block.image_file.file_id if block.image_file else '?'}")
        elif isinstance(block, ImageURLDeltaBlock):
            parts.append(f"image url {block.image_url.url if block.image_url else '?'}")
        elif isinstance(block, dict):
            parts.append(f"{block.get('type', 'unknown')} block")
    return " ".join(parts) or "''"


def _step_delta(data: Any) -> str:
    """The tool call pieces of a run step delta, named."""
    details = data.delta.step_details if data.delta else None
    calls = getattr(details, "tool_calls", None) or ()
    parts = []
    for call in calls:
        kind = call.get("type") if isinstance(call, dict) else getattr(call, "type", None)
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        parts.append(f"{kind or 'tool call'}" + (f" {name}" if name else ""))
    return (" " + ", ".join(parts)) if parts else ""


def _response_summary(event: Any) -> str:
    """Lifecycle events show the response, item events the item, deltas their text."""
    response = getattr(event, "response", None)
    if isinstance(response, rs.ResponseObject):
        return f"{response.id} {response.status}"
    if isinstance(event, rs.ResponseRefusalDelta):
        return f"refusal {event.delta or ''!r}"
    if isinstance(event, rs.ResponseRefusalDone):
        return f"refusal {event.refusal or ''!r}"
    if isinstance(event, rs.ResponseImageGenerationCallPartialImage):
        size = len(event.partial_image_b64 or "")
        return f"{event.item_id} partial image #{event.partial_image_index} ({size} base64 characters)"
    item = getattr(event, "item", None)
    if isinstance(item, rs.OutputItem):
        name = f" {item.name}" if item.name else ""
        return f"{item.type} {item.id}{name} {item.status or ''}".rstrip()
    part = getattr(event, "part", None)
    if part is not None:
        return f"{getattr(event, 'item_id', '')} {getattr(part, 'type', None) or 'part'}".strip()
    delta = getattr(event, "delta", None)
    if isinstance(delta, str):
        return repr(delta)
    text = getattr(event, "text", None)
    if isinstance(text, str):
        return f"done, {plural(len(text), 'character')}"
    if isinstance(event, rs.ResponseErrorEvent):
        return f"{event.code}: {event.message}"
    item_id = getattr(event, "item_id", None)
    return str(item_id) if item_id else ""


def _text_delta(stream: RunStream | ChatStream | ResponseStream) -> tuple[str, bool]:
    """The text the current event adds, whatever the kind of stream (one vocabulary)."""
    return stream.text_delta()


def _event_json(event: Any) -> str:
    raw: sse.Event = event.raw
    assert raw is not None
    try:
        data: Any = json.loads(raw.data)
    except ValueError:
        data = raw.data
    return json.dumps({"index": event.index, "event": raw.event, "data": data}, ensure_ascii=False)


def _cat(args: argparse.Namespace) -> int:
    """Print one line per event of an SSE stream (typed name and summary, or JSON)."""
    with _open_input(args.file) as source:
        data = _Input(source)
        stream = open_stream(data, max_event_size=args.max_event_size)
        refusal: list[str] = []
        while stream.next():
            event: Any = stream.event()
            if piece := refusal_delta(stream):
                refusal.append(piece)
            if args.json:
                print(_event_json(event), flush=True)
            else:
                print(f"{event.index:5d} {type(event).__name__:<24} {escape(_summary(event))}", flush=True)
        return _finish_input(stream, data, "".join(refusal))


def _text(args: argparse.Namespace) -> int:
    """Write only the assistant's text, flushed as each delta arrives."""
    with _open_input(args.file) as source:
        data = _Input(source)
        stream = open_stream(data, max_event_size=args.max_event_size)
        out = sys.stdout
        refusal: list[str] = []
        while stream.next():
            text, ok = _text_delta(stream)
            if ok:
                out.write(text)
                out.flush()
            if piece := refusal_delta(stream):
                refusal.append(piece)
        if stream.text() and not stream.text().endswith("\n"):
            out.write("\n")
        return _finish_input(stream, data, "".join(refusal))


def _finish_input(stream: Any, data: _Input, refusal: str) -> int:
    """The exit code of a decoded input: its error, "not SSE at all", or how the answer ended."""
    error = stream.err()
    if error is not None and stream.count == 0 and isinstance(error, UnexpectedEOF) and not data.has_fields():
        return _report(data.not_sse())
    return _finish(stream, refusal)


def _run(args: argparse.Namespace) -> int:
    """Create a thread and run on the real API and stream the answer."""
    from ..openai.client import Client

    with Client(base_url=args.base_url, max_event_size=args.max_event_size) as client:
        stream = client.create_thread_and_run_stream(
            args.assistant, thread={"messages": [{"role": "user", "content": args.message}]}
        )
        refusal: list[str] = []
        with stream:
            while stream.next():
                event = stream.event()
                if args.json:
                    print(_event_json(event), flush=True)
                    continue
                text, ok = stream.message_delta_text()
                if ok:
                    sys.stdout.write(text)
                    sys.stdout.flush()
                run, ok = stream.run()
                if ok and run is not None:
                    print(f"[run {escape(str(run.status))}]", file=sys.stderr)
                if piece := refusal_delta(stream):
                    refusal.append(piece)
            if not args.json:
                print()
            return _finish(stream, "".join(refusal))


def _chat(args: argparse.Namespace) -> int:
    """Stream a chat completion to stdout."""
    from ..openai.client import Client

    with Client(base_url=args.base_url, max_event_size=args.max_event_size) as client:
        stream = client.chat_completions_stream(
            model=args.model, messages=[{"role": "user", "content": args.message}]
        )
        with stream:
            while stream.next():
                text, ok = stream.content_delta()
                if ok:
                    sys.stdout.write(text)
                    sys.stdout.flush()
                reason, ok = stream.finish_reason()
                if ok:
                    print(f"\n[finish_reason {escape(str(reason))}]", file=sys.stderr)
            print()
            return _finish(stream, "")


def _finish(stream: Any, refusal: str) -> int:
    """The exit code of a stream that ended: its error, or how the answer ended (one stderr line)."""
    error = stream.err()
    if error is not None:
        return _report(str(error))
    result = outcome(stream, refusal)
    if result.line:
        sys.stdout.flush()
        print(f"streamer: {result.line}", file=sys.stderr)
    return result.code


def _report(message: str) -> int:
    sys.stdout.flush()
    print(f"streamer: error: {escape(message)}", file=sys.stderr)
    return EXIT_ERROR


def _demo(args: argparse.Namespace) -> int:
    """The offline demo: a replayed Assistants run over local HTTP, then the SwimOS pipeline."""
    import shutil

    from ..openai.client import Client
    from ..testing.replay import ReplayServer, sse_reply

    print("== 1. An Assistants run streamed over HTTP, through Client -> RunStream -> TextReader")
    print("   (the model's answer is a replayed recording, served by a local endpoint on 127.0.0.1;")
    print("    no API key and no network are used)\n")
    reply = sse_reply(DEMO_RECORDING, chunk_size=48, delay=args.delay)
    with ReplayServer([reply]) as server, Client(base_url=server.base_url) as client:
        started = time.monotonic()
        stream = client.create_thread_and_run_stream(
            "asst_demo", thread={"messages": [{"role": "user", "content": "Write a haiku about streams."}]}
        )
        with stream.text_reader() as reader:
            shutil.copyfileobj(reader, _Flushing(sys.stdout.buffer), 64)
        run = stream.final_run()
        status = run.status if run else "?"
        elapsed = time.monotonic() - started
        print(f"\n\n   [{plural(stream.count, 'event')} in {elapsed:.1f} s; run {status}]")
    print("\n== 2. Live SwimOS stock ticks: exchange-rate map -> 5-tick moving average -> threshold alert\n")
    from .demo import run_pipeline

    return run_pipeline(args.seconds)


class _Flushing:
    """A binary stdout that flushes every write, so text appears as it arrives."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        written = self._out.write(data)
        self._out.flush()
        return written


EXIT_HELP = "exit codes (streamer cat, text, run, chat):\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line naming the option (and where to find help)."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``streamer`` command."""
    parser = _Parser(
        prog="streamer",
        description="Decode OpenAI streams, stream runs and chats, read SwimOS feeds, run the demo.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cat = commands.add_parser(
        "cat",
        help="decode an OpenAI stream (Assistants, Chat Completions or Responses) event by event",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cat.add_argument("file", help="a file, or - for standard input")
    cat.add_argument("--json", action="store_true", help="one JSON object per line instead")
    _max_event_size_option(cat)
    cat.set_defaults(handler=_cat)

    text = commands.add_parser(
        "text",
        help="write only the assistant's text, as it arrives",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    text.add_argument("file", help="a file, or - for standard input (curl -N ... | streamer text -)")
    _max_event_size_option(text)
    text.set_defaults(handler=_text)

    run = commands.add_parser(
        "run",
        help="create a thread and run on the API and stream the answer",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--assistant", required=True, help="the assistant id (asst_...)")
    run.add_argument("message", help="the user message")
    run.add_argument("--json", action="store_true", help="print typed events as JSON lines instead")
    run.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL"),
        help="an OpenAI-compatible server (default: $OPENAI_BASE_URL, else the OpenAI API)",
    )
    _max_event_size_option(run)
    run.set_defaults(handler=_run)

    chat = commands.add_parser(
        "chat",
        help="stream a chat completion to stdout",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("message", help="the user message")
    chat.add_argument("--model", default="gpt-4o-mini", help="the model (default: gpt-4o-mini)")
    chat.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL"),
        help="an OpenAI-compatible server (default: $OPENAI_BASE_URL, else the OpenAI API)",
    )
    _max_event_size_option(chat)
    chat.set_defaults(handler=_chat)

    register_swim(commands)
    register_replay(commands)

    demo = commands.add_parser("demo", help="the offline demo (what `make demo` runs)")
    demo.add_argument(
        "--seconds", type=opt.positive_float, default=10.0, help="how long the SwimOS part runs"
    )
    demo.add_argument(
        "--delay", type=opt.non_negative_float, default=0.02, help="seconds between replayed chunks"
    )
    demo.set_defaults(handler=_demo)
    return parser


def _max_event_size_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--max-event-size",
        type=int,
        default=sse.DEFAULT_MAX_EVENT_SIZE,
        metavar="BYTES",
        help=f"the largest SSE event accepted (default: {sse.DEFAULT_MAX_EVENT_SIZE})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StreamError as exc:
        return _report(str(exc))
    except KeyboardInterrupt:
        print("streamer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`streamer ... | head`): not an error, and nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
