"""The ``streamer`` command: decode streams, stream runs, and the offline demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .. import __version__, sse
from .._text import escape_untrusted
from ..errors import StreamError
from ..openai.assistants import RunStream
from ..openai.assistants import events as ev
from ..openai.chat import ChatChunk, ChatStream
from ..openai.detect import open_stream
from ..openai.responses import ResponseStream
from ..openai.responses import events as rs
from .swim import register as register_swim

__all__ = ["build_parser", "main"]

DEMO_RECORDING = Path(__file__).resolve().parent.parent / "_data" / "demo_run.sse"


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    """Bytes as they arrive: ``read1`` returns what is there instead of waiting for a full buffer."""
    read = getattr(source, "read1", source.read)
    while chunk := read(65536):
        yield chunk


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
            return repr(data.delta.text() if data.delta else "")
        case ev.RunEvent(data=run):
            extra = f" {run.last_error.code}: {run.last_error.message}" if run.last_error else ""
            return f"{run.id} {run.status}{extra}"
        case ev.RunStepEvent(data=step):
            return f"{step.id} {step.type} {step.status}"
        case ev.ThreadRunStepDelta(data=data):
            return f"{data.id}"
        case ev.MessageEvent(data=message):
            return f"{message.id} {message.status} {len(message.text())} characters"
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
                if delta is not None and delta.tool_calls:
                    parts.append(f"{len(delta.tool_calls)} tool call piece(s)")
                if choice.finish_reason:
                    parts.append(f"finish_reason={choice.finish_reason}")
            if chunk.usage is not None:
                parts.append(f"usage {chunk.usage.total_tokens} tokens")
            return " ".join(parts)
        case rs.ResponseEvent():
            response = getattr(event, "response", None)
            if isinstance(response, rs.ResponseObject):
                return f"{response.id} {response.status}"
            delta = getattr(event, "delta", None)
            return repr(delta) if isinstance(delta, str) else ""
    return ""


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
        stream = open_stream(_chunks(source), max_event_size=args.max_event_size)
        while stream.next():
            event: Any = stream.event()
            if args.json:
                print(_event_json(event), flush=True)
            else:
                print(f"{event.index:5d} {type(event).__name__:<24} {_summary(event)}", flush=True)
        return _finish(stream.err())


def _text(args: argparse.Namespace) -> int:
    """Write only the assistant's text, flushed as each delta arrives."""
    with _open_input(args.file) as source:
        stream = open_stream(_chunks(source), max_event_size=args.max_event_size)
        out = sys.stdout
        while stream.next():
            text, ok = _text_delta(stream)
            if ok:
                out.write(text)
                out.flush()
        if stream.text() and not stream.text().endswith("\n"):
            out.write("\n")
        return _finish(stream.err())


def _run(args: argparse.Namespace) -> int:
    """Create a thread and run on the real API and stream the answer."""
    from ..openai.client import Client

    with Client(base_url=args.base_url, max_event_size=args.max_event_size) as client:
        stream = client.create_thread_and_run_stream(
            args.assistant, thread={"messages": [{"role": "user", "content": args.message}]}
        )
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
                    print(f"[run {run.status}]", file=sys.stderr)
                calls, ok = stream.required_action()
                for call in calls if ok else []:
                    name = call.function.name if call.function else "?"
                    arguments = call.function.arguments if call.function else ""
                    print(f"[tool call {call.id}: {name}({arguments}); answer it from code]", file=sys.stderr)
            if not args.json:
                print()
            return _finish(stream.err())


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
                    print(f"\n[finish_reason {reason}]", file=sys.stderr)
            print()
            return _finish(stream.err())


def _finish(error: BaseException | None) -> int:
    if error is None:
        return 0
    sys.stdout.flush()
    print(f"streamer: error: {error}", file=sys.stderr)
    return 1


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
        print(f"\n\n   [{stream.count} events in {time.monotonic() - started:.1f} s; run {status}]")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``streamer`` command."""
    parser = argparse.ArgumentParser(
        prog="streamer",
        description="Decode OpenAI streams, stream runs and chats, read SwimOS feeds, run the demo.",
    )
    parser.add_argument("--version", action="version", version=f"streamer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cat = commands.add_parser(
        "cat", help="decode an OpenAI stream (Assistants, Chat Completions or Responses) event by event"
    )
    cat.add_argument("file", help="a file, or - for standard input")
    cat.add_argument("--json", action="store_true", help="one JSON object per line instead")
    _max_event_size_option(cat)
    cat.set_defaults(handler=_cat)

    text = commands.add_parser("text", help="write only the assistant's text, as it arrives")
    text.add_argument("file", help="a file, or - for standard input (curl -N ... | streamer text -)")
    _max_event_size_option(text)
    text.set_defaults(handler=_text)

    run = commands.add_parser("run", help="create a thread and run on the API and stream the answer")
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

    chat = commands.add_parser("chat", help="stream a chat completion to stdout")
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

    demo = commands.add_parser("demo", help="the offline demo (what `make demo` runs)")
    demo.add_argument("--seconds", type=float, default=10.0, help="how long the SwimOS part runs")
    demo.add_argument("--delay", type=float, default=0.02, help="seconds between replayed chunks")
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
        sys.stdout.flush()
        print(f"streamer: error: {escape_untrusted(str(exc))}", file=sys.stderr)  # may quote a model
        return 1
    except KeyboardInterrupt:
        print("streamer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`streamer ... | head`): not an error, and nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
