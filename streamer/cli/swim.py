"""``streamer swim``: the SwimOS console app's commands, on the embedded simulated feed by default."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import StreamError
from ..swim.downlink import TRANSPORTS, DownlinkScanner, Update
from ..swim.operators import OperatorConfigError, bind, match, resolve
from ..testing.simulator import CADENCES, StockSimulator
from . import options as opt
from .display import escape, number

__all__ = ["prices", "register"]

_SYMBOL = re.compile(r"[A-Za-z0-9._\-]{1,32}\Z")


@contextlib.contextmanager
def _feed(args: argparse.Namespace) -> Iterator[str]:
    """The host to link to: ``--host``, or the embedded simulator on a free loopback port."""
    if args.host:
        yield args.host
        return
    with StockSimulator(rate=args.feed_rate, seed=args.seed, java_doubles=args.java_doubles) as simulator:
        yield simulator.url


def _symbol(value: str) -> str:
    if not _SYMBOL.match(value):
        raise SystemExit(f"streamer: error: {value!r} is not a stock symbol (letters and digits, like AAAA)")
    return value.upper()


def _updates(args: argparse.Namespace, host: str) -> Iterator[Update]:
    """Status updates of ``args.symbol``, bounded by ``--count`` / ``--duration``."""
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with DownlinkScanner(
        host,
        f"/stock/{_symbol(args.symbol)}",
        "status",
        transport=args.transport,
        sync_timeout=args.sync_timeout,
    ) as scanner:
        seen = 0
        while scanner.next():
            yield scanner.event()
            seen += 1
            if args.count is not None and seen >= args.count:
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
        error = scanner.err()
        if error is not None:
            raise error


def prices(symbol: str, args: argparse.Namespace) -> Iterator[float]:
    """The live prices of ``symbol`` (the value source of the model-driven commands)."""
    args.symbol = symbol
    for name, default in _FEED_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    with _feed(args) as host:
        for update in _updates(args, host):
            price = _price(update)
            if price is not None:
                yield price


def _price(update: Update) -> float | None:
    value = update.value
    if isinstance(value, dict) and isinstance(value.get("price"), (int, float)):
        return float(value["price"])
    return None


#: The shape each JSON argument takes, shown when one is wrong.
OPERATION_CONFIG_SHAPE = '{"description": "apply exchange rate", "parameters": {"exchange_rate": 1.2}}'
PARAMETERS_SHAPE = '{"window": 5}'


def _config(text: str, what: str = "OPERATION_CONFIG", shape: str = OPERATION_CONFIG_SHAPE) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise SystemExit(
            f"streamer: error: {what} is not valid JSON: {escape(text, 80)!r} (try '{shape}')"
        ) from None
    if not isinstance(value, dict):
        raise SystemExit(f"streamer: error: {what} must be a JSON object, like '{shape}'")
    return value


def _operator(
    kind: str, name: str | None, config: dict[str, Any]
) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """The built-in operator a command asks for: by name, or by what its description says."""
    params = config.get("parameters", config if name else {})
    if not isinstance(params, dict):
        raise SystemExit("streamer: error: 'parameters' must be a JSON object")
    name = name or config.get("operator")
    description = str(config.get("description", ""))
    # The name the description points to, before its parameters are checked: a missing parameter
    # is then reported as such, not as "no operator matches".
    name = name or match(kind, description, params)
    if not name:
        raise SystemExit(
            f"streamer: error: no built-in {kind} operator matches {escape(description, 80)!r}: name one "
            f'with "operator" (see `streamer swim operators-builtin`), or let a model handle it with '
            f"`streamer swim {kind}-generate` or `streamer swim model-direct {kind}`"
        )
    try:
        spec = resolve(str(name), kind, params)
        fn = bind(spec, params)
        _try(kind, spec.name, fn)
    except OperatorConfigError as exc:
        raise SystemExit(f"streamer: error: {exc}") from None
    label = str(name).strip().lower() if kind == "accumulate" else spec.name
    return label, fn, params


def _try(kind: str, name: str, fn: Callable[..., Any]) -> None:
    """Apply the operator to a sample value, so that a bad parameter fails before streaming starts."""
    sample: Any = {"price": 1.0, "volume": 1.0} if name == "vwap" else 1.0
    if kind == "accumulate":
        fn({}, sample)
    else:
        fn(sample)


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(record), flush=True)
    elif args.live:
        sys.stdout.write("\r\033[K" + text)
        sys.stdout.flush()
    else:
        print(text, flush=True)


def _announce(args: argparse.Namespace, host: str) -> None:
    if not args.json:
        where = host if args.host else f"the embedded simulated feed ({host})"
        print(f"Streaming data from {where}, press Ctrl+C to stop", file=sys.stderr, flush=True)


def _read_adhoc(args: argparse.Namespace) -> int:
    args.count, args.duration = 1, None
    with _feed(args) as host:
        for update in _updates(args, host):
            if args.json:
                print(json.dumps({"symbol": args.symbol, "value": update.value}))
            else:
                print(f"Ad-hoc read result for {args.symbol} is: {number(_price(update))}")
    return 0


def _read_streaming(args: argparse.Namespace) -> int:
    with _feed(args) as host:
        _announce(args, host)
        for update in _updates(args, host):
            record = {"symbol": args.symbol, "seq": update.seq, "value": update.value}
            _emit(args, record, f"Streaming read result is: {number(_price(update))}")
    if args.live:
        print()
    return 0


def _map_direct(args: argparse.Namespace) -> int:
    name, fn, _ = _operator("map", None, _config(args.config))
    with _feed(args) as host:
        _announce(args, host)
        for update in _updates(args, host):
            price = _price(update)
            result = fn(price)
            record = {"symbol": args.symbol, "price": price, "operator": name, "result": result}
            _emit(args, record, f"Mapped {number(price)} to {number(result)}.")
    return 0


def _filter_direct(args: argparse.Namespace) -> int:
    name, fn, _ = _operator("filter", None, _config(args.config))
    with _feed(args) as host:
        _announce(args, host)
        for update in _updates(args, host):
            price = _price(update)
            passed = bool(fn(price))
            if args.json:
                print(json.dumps({"symbol": args.symbol, "price": price, "operator": name, "passed": passed}))
            elif passed:
                print(f"Price {number(price)} meets the filter criteria.", flush=True)
    return 0


def _accumulate_direct(args: argparse.Namespace) -> int:
    parameters = _config(args.operation_config, "--operation-config", PARAMETERS_SHAPE)
    name, fn, _ = _operator("accumulate", args.operator, {"parameters": parameters})
    acc: dict[str, Any] = {}
    with _feed(args) as host:
        _announce(args, host)
        for update in _updates(args, host):
            value = update.value if name == "vwap" else _price(update)
            acc, result = fn(acc, value)
            record = {"symbol": args.symbol, "value": value, "operator": name, "result": result, "acc": acc}
            _emit(args, record, f"Result for {args.symbol}: {name}: {number(result)}; acc: {_shown(acc)}.")
    return 0


def _shown(acc: dict[str, Any]) -> str:
    """An accumulator's state for people: its numbers rounded, lists shortened."""
    parts = []
    for key, value in acc.items():
        if isinstance(value, list):
            shown = "[" + ", ".join(number(v) for v in value) + "]"
        else:
            shown = number(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts) or "{}"


def _simulate(args: argparse.Namespace) -> int:
    simulator = StockSimulator(
        host=args.bind,
        port=args.port,
        seed=args.seed,
        cadence=args.cadence,
        rate=args.feed_rate,
        symbols=args.symbols,
        strict=args.strict,
        java_doubles=args.java_doubles,
    )
    try:
        simulator.start()  # returns once the port is bound, or raises why it could not be
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the address is already in use (choose another --port, or --port 0 for a free one)"
        raise SystemExit(f"streamer: error: cannot serve on {args.bind}:{args.port}: {reason}") from None
    try:
        print(f"Serving the simulated stock feed on {simulator.url}; Ctrl+C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        simulator.stop()
    return 0


_FEED_DEFAULTS: dict[str, Any] = {
    "host": None,
    "transport": "warp",
    "sync_timeout": 10.0,
    "feed_rate": 5.0,
    "seed": 0,
    "java_doubles": False,
    "count": None,
    "duration": None,
}


def _feed_options(p: argparse.ArgumentParser, *, streaming: bool = True) -> None:
    p.add_argument(
        "--host", default=None, help="a SwimOS server (ws://... or wss://...); default: the embedded feed"
    )
    p.add_argument(
        "--transport", choices=TRANSPORTS, default="warp", help="warp (default) or the swimos client"
    )
    p.add_argument(
        "--sync-timeout", type=opt.positive_float, default=10.0, help="seconds to wait for the link to sync"
    )
    p.add_argument(
        "--feed-rate", type=opt.positive_float, default=5.0, help="updates/s of the embedded feed (default 5)"
    )
    p.add_argument("--seed", type=opt.non_negative_int, default=0, help="seed of the embedded feed")
    p.add_argument("--java-doubles", action="store_true", help="embedded feed writes numbers as Java does")
    if streaming:
        limits = p.add_mutually_exclusive_group()
        limits.add_argument("--count", type=opt.positive_int, default=None, help="stop after N updates")
        limits.add_argument("--duration", type=opt.positive_float, default=None, help="stop after S seconds")
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        p.add_argument("--no-live", dest="live_allowed", action="store_false", help="no live terminal view")


def _with_live(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if hasattr(args, "json"):
            args.live = getattr(args, "live_allowed", True) and not args.json and sys.stdout.isatty()
        try:
            return handler(args)
        except OperatorConfigError as exc:
            raise SystemExit(f"streamer: error: {exc}") from None
        except TypeError as exc:  # an operator applied to a value it cannot take
            raise StreamError(f"the operator failed on a live value: {exc}") from exc

    return run


def _builtin(args: argparse.Namespace) -> int:
    from ..swim.operators import OPERATORS

    for name, spec in sorted(OPERATORS.items()):
        needs = ", ".join(spec.required) or "-"
        print(f"{spec.kind:<10} {name:<15} needs: {needs:<22} {spec.description}")
    return 0


def register(commands: Any) -> None:
    """Add ``streamer swim`` and its subcommands to the ``streamer`` command's subparsers."""
    swim = commands.add_parser("swim", help="SwimOS stock feeds: read, map, filter, accumulate, simulate")
    sub = swim.add_subparsers(dest="swim_command", required=True, metavar="SWIM_COMMAND")

    p = sub.add_parser("simulate", help="serve the simulated stock feed over WARP")
    p.add_argument("--port", type=opt.port, default=9001, help="port (0: a free one)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--seed", type=opt.non_negative_int, default=0, help="seed of the random walk")
    p.add_argument(
        "--cadence", choices=CADENCES, default="fixed", help="fixed rate, the public feed's, or drain"
    )
    p.add_argument(
        "--feed-rate", type=opt.positive_float, default=5.0, help="updates/s per symbol for --cadence fixed"
    )
    p.add_argument(
        "--symbols", type=opt.positive_int, default=100, help="pre-created symbols AAAA, AAAB, ..."
    )
    p.add_argument("--strict", action="store_true", help="@nodeNotFound for symbols not pre-created")
    p.add_argument("--java-doubles", action="store_true", help="write numbers as Java SwimOS servers do")
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("read-adhoc", help="read a symbol's current status once")
    p.add_argument("symbol")
    _feed_options(p, streaming=False)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_with_live(_read_adhoc))

    p = sub.add_parser("read-streaming", help="print every status update of a symbol")
    p.add_argument("symbol")
    _feed_options(p)
    p.set_defaults(handler=_with_live(_read_streaming))

    p = sub.add_parser("map-direct", help="apply a built-in map operator to each price")
    p.add_argument("symbol")
    p.add_argument("config", metavar="OPERATION_CONFIG", help='{"description": ..., "parameters": {...}}')
    _feed_options(p)
    p.set_defaults(handler=_with_live(_map_direct))

    p = sub.add_parser("filter-direct", help="print the prices a built-in filter keeps")
    p.add_argument("symbol")
    p.add_argument("config", metavar="OPERATION_CONFIG", help='{"description": ..., "parameters": {...}}')
    _feed_options(p)
    p.set_defaults(handler=_with_live(_filter_direct))

    p = sub.add_parser("accumulate-direct", help="run a built-in accumulator over the prices")
    p.add_argument("symbol")
    p.add_argument("operator", metavar="OP", help="avg, sma, ema, min, max, sum, count, stddev, vwap")
    p.add_argument("--operation-config", default="{}", help='JSON parameters, e.g. {"window": 5}')
    _feed_options(p)
    p.set_defaults(handler=_with_live(_accumulate_direct))

    p = sub.add_parser("operators-builtin", help="list the built-in operators and their parameters")
    p.set_defaults(handler=_builtin)

    from .generate import register_generate

    register_generate(sub, value_source=prices)
    for name in ("map-generate", "filter-generate", "accumulate-generate", "model-direct", "execute"):
        parser = sub.choices.get(name)
        if parser is not None:
            _feed_options(parser, streaming=False)
