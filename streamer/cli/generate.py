"""``streamer swim`` subcommands for model-written operators: *-generate, model-direct, execute, operators.

Wire them in with ``register_generate(swim_subparsers, value_source=...)``; ``value_source(symbol, args)``
returns the live prices of a symbol (the swim feed). Without one, ``--sample`` or ``--input FILE`` feed
the operator instead.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .._text import escape_untrusted
from ..errors import GenerationFailed, OperatorFailed, StreamError
from ..swim.generate import (
    ModelConfig,
    ModelOperator,
    OperatorCache,
    ask_model,
    coalesce_latest,
    generate_operator,
)
from ..swim.sandbox import SAMPLE_PRICES, AccumulateOperator, FilterOperator, MapOperator, os_wall
from . import options as opt
from .progress import Progress

__all__ = ["ValueSource", "register_generate"]

ValueSource = Callable[[str, argparse.Namespace], Iterable[float]]

# Everything below that came from a model, an operator or the cache is hostile text: it goes through
# `_safe` (control, bidi and surrogate characters shown as escapes) before it reaches the terminal.
_safe = escape_untrusted


def _line(value: Any) -> str:
    """A result or message of untrusted origin as one safe line."""
    return escape_untrusted(str(value), one_line=True)


TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": text,
            "parameters": {
                "type": "object",
                "properties": {
                    "symbol": {"type": "string", "description": "stock symbol, e.g. AAAA"},
                    "description": {"type": "string", "description": "the operation in words"},
                    "parameters": {"type": "object", "description": "numeric parameters of the operation"},
                },
                "required": ["symbol", "description", "parameters"],
            },
        },
    }
    for name, text in (
        ("map_generate", "transform each price (e.g. convert with an exchange rate)"),
        ("filter_generate", "keep or alert on prices meeting a condition (e.g. below a threshold)"),
        ("accumulate_generate", "aggregate prices over time (e.g. moving average with a window size)"),
    )
]


def _json_arg(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise SystemExit(f"streamer: error: {what} is not valid JSON: {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"streamer: error: {what} must be a JSON object")
    return value


def _config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig.from_env(args.model, args.base_url)


def _values(args: argparse.Namespace, source: ValueSource | None) -> Iterator[float]:
    if args.sample:
        yield from SAMPLE_PRICES
        return
    if args.input:
        lines: Iterable[str] = sys.stdin if args.input == "-" else Path(args.input).read_text().splitlines()
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield float(line)
            except ValueError:
                raise SystemExit(
                    f"streamer: error: {args.input} line {n} is not a number: {line[:40]!r}"
                ) from None
        return
    if source is None:
        raise SystemExit(
            "streamer: error: no live feed is wired into this command; use --sample or --input FILE"
        )
    print("Streaming data, press Ctrl+C to stop", flush=True)
    yield from itertools.islice(source(args.symbol, args), args.count)


def _batches(values: Iterable[float], size: int) -> Iterator[list[float]]:
    it = iter(values)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _show(generated: Any) -> None:
    origin = "cache" if generated.from_cache else f"model, attempt {generated.attempts}"
    print(f"# operator source ({origin}):")
    print(_safe(generated.source.rstrip()))
    print(f"# verdict: {_line(generated.verdict.describe())}", flush=True)


def _generate(kind: str, description: str, params: dict[str, Any], args: argparse.Namespace) -> Any:
    cache = OperatorCache()
    echo: Callable[[str], None] | None = None
    if args.verbose:

        def echo(piece: str) -> None:
            sys.stderr.write(_safe(piece))
            sys.stderr.flush()

    def refused(attempt: int, error: StreamError) -> None:
        print(f"attempt {attempt} refused: {_line(error)}", file=sys.stderr, flush=True)

    # On a terminal, a progress line while the model answers and each candidate runs in the sandbox
    # (a looping one is killed only at its time limit).
    with Progress("asking the model for an operator and checking it in the sandbox", enabled=_tty(echo)):
        return generate_operator(
            kind,
            description,
            params,
            _config(args),
            cache=cache,
            regenerate=args.regenerate,
            max_attempts=args.max_attempts,
            on_text=echo,
            on_refused=refused,
        )


def _tty(echo: object) -> bool:
    return echo is None and sys.stderr.isatty()


def _stream(
    kind: str, op: Any, params: dict[str, Any], args: argparse.Namespace, source: ValueSource | None
) -> int:
    """Feed the operator batch by batch; a failing batch is replayed one update at a time so that only
    the failing updates are lost (each is reported on stderr) and the stream goes on."""
    state: dict[str, Any] = {"acc": {}, "failures": 0, "index": 0}
    size = args.batch if (args.sample or args.input) else 1

    def run(batch: list[float]) -> list[Any]:
        if isinstance(op, AccumulateOperator):
            state["acc"], results = op.run_batch(batch, params, state["acc"])
            return results
        return list(op.run_batch(batch, params))

    for batch in _batches(_values(args, source), size):
        try:
            pairs = list(zip(batch, run(batch)))
        except OperatorFailed:
            pairs = []
            for offset, price in enumerate(batch):
                try:
                    pairs += list(zip([price], run([price])))
                except OperatorFailed as exc:
                    state["failures"] += 1
                    where = f"update #{state['index'] + offset} ({price})"
                    print(f"{where}: {_line(exc)}", file=sys.stderr, flush=True)
        for price, result in pairs:
            if isinstance(op, MapOperator):
                print(f"The price {price} has been converted to {_line(result)}.")
            elif isinstance(op, FilterOperator):
                if result:
                    print(f"The price {price} has met the filter criteria.")
            else:
                print(f"{args.symbol} -- summary: {_line(result)}; price: {price}")
        if isinstance(op, AccumulateOperator):
            print(f"{args.symbol} -- acc: {json.dumps(state['acc'])}")
        sys.stdout.flush()
        state["index"] += len(batch)
    return 1 if state["failures"] else 0


def _split_config(
    config: dict[str, Any], fallback_description: str | None = None
) -> tuple[str, dict[str, Any]]:
    description = config.get("description", fallback_description)
    params = config.get("parameters", {k: v for k, v in config.items() if k != "description"})
    if not isinstance(description, str) or not description.strip():
        raise SystemExit('streamer: error: the operation config needs a "description"')
    if not isinstance(params, dict):
        raise SystemExit('streamer: error: "parameters" must be a JSON object')
    return description, params


def _make_generate_handler(kind: str, source: ValueSource | None) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        if kind == "accumulate":
            config = _json_arg(args.operation_config, "--operation-config")
            description, params = _split_config(config, args.operator)
            if args.operator and description != args.operator:
                description = f"{args.operator}: {description}"
        else:
            description, params = _split_config(_json_arg(args.config, "OPERATION_CONFIG"))
        generated = _generate(kind, description, params, args)
        _show(generated)
        with generated.operator as op:
            return _stream(kind, op, params, args, source)

    return handler


def _make_model_direct(source: ValueSource | None) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        description, params = _split_config(_json_arg(args.config, "OPERATION_CONFIG"))
        op = ModelOperator(args.kind, description, params, _config(args))
        print(f"Asking the model about each update ({args.kind}: {description}); updates coalesce meanwhile")
        failures = 0
        for outcome in coalesce_latest(_values(args, source), op.apply):
            skipped = f" ({outcome.skipped} updates skipped while waiting)" if outcome.skipped else ""
            if outcome.error is not None:
                failures += 1
                refusal = _line(outcome.error)
                print(f"price {outcome.value}: model answer refused: {refusal}{skipped}", flush=True)
            else:
                print(f"price {outcome.value}: {json.dumps(outcome.result)}{skipped}", flush=True)
        return 1 if failures else 0

    return handler


def _make_execute(swim_subparsers: Any) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        messages = [
            {"role": "system", "content": "Pick exactly one tool for the user's request about stock prices."},
            {"role": "user", "content": args.request},
        ]
        answer = ask_model(_config(args), messages, tools=TOOLS)
        if len(answer.tool_calls) != 1:
            raise GenerationFailed(f"the model did not pick one command (it said: {answer.text[:120]!r})")
        call = answer.tool_calls[0]
        command = call.name.replace("_", "-")
        if command not in {"map-generate", "filter-generate", "accumulate-generate"}:
            raise GenerationFailed(f"the model picked an unknown command {call.name!r}")
        symbol = str(call.arguments.get("symbol", "")).upper()
        config = {
            "description": call.arguments.get("description", ""),
            "parameters": call.arguments.get("parameters") or {},
        }
        if command == "accumulate-generate":
            argv = [command, symbol, str(config["description"]), "--operation-config", json.dumps(config)]
        else:
            argv = [command, symbol, json.dumps(config)]
        target = swim_subparsers.choices[command]
        argv += _forwarded_options(args, target)
        print(f"chose: streamer swim {_line(shlex.join(argv))}", flush=True)
        chosen = target.parse_args(argv[1:])
        return int(chosen.handler(chosen))

    return handler


def _forwarded_options(args: argparse.Namespace, target: argparse.ArgumentParser) -> list[str]:
    """The options given to ``execute`` that the chosen command also takes (--model, --count, --host...)."""
    given = vars(args)
    out: list[str] = []
    for action in target._actions:
        if not action.option_strings or action.dest not in given or action.dest == "help":
            continue
        value = given[action.dest]
        if value is None or value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            out.append(flag)
        else:
            out += [flag, str(value)]
    return out


def _operators(args: argparse.Namespace) -> int:
    cache = OperatorCache()
    if args.action == "list":
        wall = os_wall()
        if not (wall.seccomp or wall.landlock):
            print(f"note: {wall.describe()}")
        entries = cache.entries()
        if not entries:
            print(f"no cached operators in {cache.root}")
        for e in entries:
            state = "ok" if e.ok else "refused"
            print(
                f"{_line(e.key)}  {_line(e.kind):<10} {state:<7} {_line(e.model):<16} "
                f"{_line(repr(e.description[:50]))} {json.dumps(e.params)}"
            )
        return 0
    if args.action == "clear":
        print(f"removed {cache.clear()} cached operators from {cache.root}")
        return 0
    if not args.key:
        raise SystemExit("streamer: error: operators show needs a KEY (see `streamer swim operators list`)")
    entry = cache.get(args.key)
    if entry is None:
        raise SystemExit(f"streamer: error: no single cached operator matches {args.key!r}")
    head = f"{entry.kind}: {entry.description} {json.dumps(entry.params)} (model {entry.model})"
    print(f"# {_line(head)}")
    print(_safe(entry.source.rstrip()))
    print(f"# verdict: {_line(entry.verdict)}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model name (default: $STREAMER_MODEL or gpt-4o-mini)")
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible server (default: $OPENAI_BASE_URL)")
    p.add_argument(
        "--sample", action="store_true", help="run on the fixed sample prices instead of the live feed"
    )
    p.add_argument("--input", default=None, help="read prices from FILE (one per line; - for stdin)")
    p.add_argument("--regenerate", action="store_true", help="ignore the cache and ask the model again")
    p.add_argument("--count", type=opt.positive_int, default=None, help="stop after N updates")


def register_generate(swim_subparsers: Any, value_source: ValueSource | None = None) -> None:
    """Add the model-driven subcommands to ``streamer swim``'s subparsers."""
    for kind in ("map", "filter"):
        p = swim_subparsers.add_parser(
            f"{kind}-generate", help=f"have a model write a sandboxed {kind} operator"
        )
        p.add_argument("symbol")
        p.add_argument("config", metavar="OPERATION_CONFIG", help='{"description": ..., "parameters": {...}}')
        _gen_options(p)
        p.set_defaults(handler=_make_generate_handler(kind, value_source))
    p = swim_subparsers.add_parser("accumulate-generate", help="have a model write a sandboxed accumulator")
    p.add_argument("symbol")
    p.add_argument("operator", metavar="STREAMING_OPERATOR", help="what to accumulate, e.g. 'moving average'")
    p.add_argument("--operation-config", default="{}", help='JSON parameters, e.g. {"window": 5}')
    _gen_options(p)
    p.set_defaults(handler=_make_generate_handler("accumulate", value_source))

    p = swim_subparsers.add_parser("model-direct", help="ask the model about every update (coalesced)")
    p.add_argument("kind", choices=["map", "filter", "accumulate"])
    p.add_argument("symbol")
    p.add_argument("config", metavar="OPERATION_CONFIG", help='{"description": ..., "parameters": {...}}')
    _common(p)
    p.set_defaults(handler=_make_model_direct(value_source))

    p = swim_subparsers.add_parser("execute", help="describe what you want; a model picks the command")
    p.add_argument("request", help='e.g. "Alert me if stock price for AAAA goes below 20"')
    _common(p)
    p.set_defaults(handler=_make_execute(swim_subparsers))

    p = swim_subparsers.add_parser("operators", help="inspect the cache of generated operators")
    p.add_argument("action", choices=["list", "show", "clear"])
    p.add_argument("key", nargs="?", help="a cache key or unique prefix (for show)")
    p.set_defaults(handler=_operators)


def _gen_options(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--max-attempts", type=opt.positive_int, default=3, help="model attempts before giving up")
    p.add_argument(
        "--batch",
        type=opt.positive_int,
        default=256,
        help="updates per sandbox round trip for --sample/--input",
    )
    p.add_argument("--verbose", action="store_true", help="echo the model's answer as it streams")
