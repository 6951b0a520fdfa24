"""The worker process: a fresh interpreter that runs one checked operator behind two walls.

The host (``host.py``) starts this file by path (``python -I -B worker.py``), so it imports nothing from
``streamer``: only the stdlib, RestrictedPython and its two siblings, ``policy`` and ``oswall``. It must
start fast and must never hold the host's configuration (API keys live in the host's environment).

Protocol: length-prefixed JSON on stdin/stdout. Every request carries a sequence number ``seq`` that its
reply repeats, so the host can tell a late reply from the current one. On ``load`` the worker applies its
resource limits (address space, a finite CPU rlimit), checks and compiles the source, installs the OS
wall (``oswall.install``: seccomp allowlist + Landlock), and only then runs the operator's module code.
"""

from __future__ import annotations

import contextlib
import json
import math
import operator as _op
import os
import re
import statistics
import struct
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

try:
    from . import oswall
    from .policy import FORBIDDEN_ATTRIBUTES, PolicyViolation, check_source, restricted_compile
except ImportError:  # run by path as the worker process: the siblings are top-level modules there
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import oswall  # type: ignore[import-not-found,no-redef,unused-ignore]
    from policy import (  # type: ignore[import-not-found,no-redef,unused-ignore]
        FORBIDDEN_ATTRIBUTES,
        PolicyViolation,
        check_source,
        restricted_compile,
    )


class ReadOnlyNamespace:
    """An immutable bag of functions and constants handed to operators in place of a module."""

    __slots__ = ("_items", "_label")

    def __init__(self, label: str, items: dict[str, Any]) -> None:
        object.__setattr__(self, "_items", dict(items))
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"{self._label} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._label} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self._label} is read-only")

    def __repr__(self) -> str:
        return f"<read-only {self._label}>"


class _TypingStub:
    __slots__ = ()

    def __getitem__(self, item: Any) -> _TypingStub:
        return self


def _public(module: Any, names: list[str] | None = None) -> dict[str, Any]:
    keys = names if names is not None else [k for k in dir(module) if not k.startswith("_")]
    return {k: getattr(module, k) for k in keys}


_STATS = ["mean", "fmean", "median", "median_low", "median_high", "mode", "pstdev", "pvariance", "stdev"]
_STATS += ["variance", "geometric_mean", "harmonic_mean", "StatisticsError"]


def _namespaces() -> dict[str, Any]:
    stub = _TypingStub()
    typing_names = ["Any", "Dict", "List", "Tuple", "Optional", "Union", "Sequence", "Mapping", "Deque"]
    return {
        "math": ReadOnlyNamespace("math", _public(math)),
        "statistics": ReadOnlyNamespace("statistics", _public(statistics, _STATS)),
        "typing": ReadOnlyNamespace("typing", dict.fromkeys(typing_names, stub)),
    }


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _op.iadd,
    "-=": _op.isub,
    "*=": _op.imul,
    "/=": _op.itruediv,
    "//=": _op.ifloordiv,
    "%=": _op.imod,
    "**=": _op.ipow,
    "<<=": _op.ilshift,
    ">>=": _op.irshift,
    "|=": _op.ior,
    "^=": _op.ixor,
    "&=": _op.iand,
}

_SAFE_BUILTIN_NAMES = [
    "abs",
    "all",
    "any",
    "bool",
    "callable",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "ord",
    "pow",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
    "ArithmeticError",
    "AssertionError",
    "Exception",
    "IndexError",
    "KeyError",
    "LookupError",
    "OverflowError",
    "RuntimeError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
]


def build_globals(namespaces: dict[str, Any]) -> dict[str, Any]:
    """The globals an operator runs with: restricted builtins and RestrictedPython's guards."""
    import builtins

    from RestrictedPython.Eval import default_guarded_getitem
    from RestrictedPython.Guards import (
        full_write_guard,
        guarded_iter_unpack_sequence,
        guarded_unpack_sequence,
        safer_getattr,
    )
    from RestrictedPython.PrintCollector import PrintCollector

    # (type, name) pairs already allowed: safer_getattr's verdict depends only on these for anything
    # that is not itself a class or a module, so a hot loop pays for the full check once.
    allowed: set[tuple[type, str]] = set()

    def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
        key = (type(obj), name)
        if key in allowed:  # same result as safer_getattr: a missing attribute gives the default, None
            return getattr(obj, name, default[0] if default else None)
        if type(name) is not str or name in FORBIDDEN_ATTRIBUTES or name.startswith("_"):
            raise AttributeError(f"attribute {name!r} is not allowed")
        value = safer_getattr(obj, name, *default)  # type: ignore[no-untyped-call]
        if not isinstance(obj, (type, ModuleType)) and len(allowed) < 4096:
            allowed.add(key)
        return value

    def guarded_import(
        name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level or name not in namespaces:
            raise ImportError(f"module {name!r} is not available in the sandbox")
        return namespaces[name]

    def inplacevar(op: str, x: Any, y: Any) -> Any:
        fn = _INPLACE.get(op)
        if fn is None:
            raise TypeError(f"operator {op} is not allowed")
        return fn(x, y)

    def apply(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    safe: dict[str, Any] = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}
    safe.update({"None": None, "True": True, "False": False})
    safe.update(
        {
            "__import__": guarded_import,
            "_getattr_": guarded_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": builtins.iter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": full_write_guard,
            "_inplacevar_": inplacevar,
            "_print_": PrintCollector,
            "_apply_": apply,
        }
    )
    glb = dict(safe)
    glb["__builtins__"] = safe
    glb["__name__"] = "operator"
    glb["__metaclass__"] = None
    return glb


class OutputInvalid(Exception):
    """An operator returned something outside its contract."""


_INT_LIMIT = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_value(
    value: Any, max_nodes: int, max_depth: int, max_chars: int, what: str = "the value"
) -> None:
    """Refuse anything that is not plain bounded JSON; shared references count every time they appear.

    Walks one nesting level at a time, so the count of values and the depth are known before any level
    is expanded: a reference cycle or a huge container fails on the limits, never by exhausting memory.
    """
    level: list[Any] = [value]
    nodes = 0
    chars = 0
    depth = 0
    while level:
        if depth > max_depth:
            raise OutputInvalid(f"{what} is nested deeper than {max_depth}")
        nodes += len(level)
        if nodes > max_nodes:
            raise OutputInvalid(f"{what} has more than {max_nodes} values")
        below: list[Any] = []
        for item in level:
            t = type(item)
            if t is float:
                if item - item != 0.0:  # inf - inf and nan - nan are nan
                    raise OutputInvalid(f"{what} holds a non-finite number {item!r}")
            elif t is int:
                if not -_INT_LIMIT < item < _INT_LIMIT:
                    raise OutputInvalid(f"{what} holds an integer beyond 64 bits")
            elif t is str:
                chars += len(item)
                if not item.isascii() and _SURROGATE.search(item):
                    raise OutputInvalid(f"{what} holds a lone surrogate, which is not valid Unicode text")
            elif t is list or t is tuple:
                if nodes + len(below) + len(item) > max_nodes:
                    raise OutputInvalid(f"{what} has more than {max_nodes} values")
                below.extend(item)
            elif t is dict:
                if nodes + len(below) + len(item) > max_nodes:
                    raise OutputInvalid(f"{what} has more than {max_nodes} values")
                for k in item:
                    if type(k) is not str:
                        raise OutputInvalid(f"{what} has a non-string key of type {type(k).__name__}")
                    chars += len(k)
                    if not k.isascii() and _SURROGATE.search(k):
                        raise OutputInvalid(f"{what} holds a key with a lone surrogate")
                below.extend(item.values())
            elif item is not None and t is not bool:
                raise OutputInvalid(f"{what} holds a {t.__name__}, which is not JSON data")
        if chars > max_chars:
            raise OutputInvalid(f"{what} holds more than {max_chars} characters of text")
        level = below
        depth += 1


def _finite_number(value: Any, what: str) -> float:
    t = type(value)
    if t is not int and t is not float:
        raise OutputInvalid(f"{what} must be a number, not {t.__name__}")
    try:
        f = float(value)
    except OverflowError:
        raise OutputInvalid(f"{what} is too large for a float") from None
    if not math.isfinite(f):
        raise OutputInvalid(f"{what} must be finite, not {f!r}")
    return f


def _bounded(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def describe_exception(exc: BaseException) -> str:
    """Bounded one-line text for an exception raised by operator code."""
    try:
        detail = str(exc)
    except BaseException:
        detail = "(unprintable)"
    return _bounded(f"{type(exc).__name__}: {detail}")


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _make_dumps() -> Callable[[Any], str]:
    """``json.dumps(value, allow_nan=False)``, with its C encoder built once instead of once per call."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:
        return lambda value: json.dumps(value, allow_nan=False)
    # No cycle markers: check_json_value has already bounded the value, so a cycle never gets here.
    iterencode = make(None, _refuse, encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False)
    return lambda value: "".join(iterencode(value, 0))


_dumps = _make_dumps()
_SCALARS = frozenset({str, int, float, bool, type(None)})
_loads = json.JSONDecoder().decode


class Runner:
    """Runs one loaded operator on batches, checking every output."""

    def __init__(
        self, kind: str, source: str, limits: dict[str, int], *, os_wall: bool = True, checked: bool = True
    ) -> None:
        if checked:
            tree, name = check_source(kind, source)
            code = restricted_compile(tree)
            glb = build_globals(_namespaces())
        else:  # test-only: no Python-level wall, to show what the OS wall alone stops
            import socket  # noqa: F401 - loaded now, as a payload's `import` would need files later

            code = compile(source, "<operator>", "exec")
            name = "func"
            glb = {"__name__": "operator"}
        # The OS wall goes up before any of the operator's own code runs, its module code included.
        self.wall = oswall.install() if os_wall else oswall.OSWall(False, 0)
        exec(code, glb)  # restricted code object with restricted globals: the point of this process
        self.fn = glb[name]
        self.kind = kind
        self.max_nodes = limits.get("max_acc_nodes", 10_000)
        self.max_depth = limits.get("max_acc_depth", 32)
        self.max_chars = limits.get("max_acc_chars", 65_536)

    def run(self, values: list[Any], params_json: str, acc_json: str) -> dict[str, Any]:
        """Apply the operator to each value; stop at the first failure and say which index failed.

        ``params`` and ``acc`` are decoded afresh from JSON for every update, so nothing the operator keeps
        a reference to can change what the next update (or the host) sees. Failure replies carry no acc.
        """
        loads = _loads
        dumps = _dumps
        fn = self.fn
        kind = self.kind
        limits = (self.max_nodes, self.max_depth, self.max_chars)
        results: list[Any] = []
        # A dict of immutable scalars is as fresh after a shallow copy as after a decode, and cheaper.
        base = loads(params_json)
        flat = type(base) is dict and all(type(v) in _SCALARS for v in base.values())
        for i, value in enumerate(values):
            params = base.copy() if flat else loads(params_json)
            try:
                if kind == "accumulate":
                    out = fn(loads(acc_json), value, params)
                else:
                    out = fn(value, params)
            except BaseException as exc:
                return {"ok": False, "index": i, "error": describe_exception(exc)}
            try:
                if kind == "map":
                    results.append(_finite_number(out, "a map operator's result"))
                elif kind == "filter":
                    if type(out) is not bool:
                        raise OutputInvalid(f"a filter must return True or False, not {type(out).__name__}")
                    results.append(out)
                else:
                    if type(out) not in (tuple, list) or len(out) != 2:
                        raise OutputInvalid("an accumulator must return a pair (acc, result)")
                    new_acc, result = out
                    if type(new_acc) is not dict:
                        raise OutputInvalid(f"the new acc must be a dict, not {type(new_acc).__name__}")
                    check_json_value(new_acc, *limits, what="the accumulator")
                    acc_json = dumps(new_acc)
                    if type(result) is float and math.isfinite(result):
                        results.append(result)  # the common case, without a JSON round trip
                    else:
                        check_json_value(result, *limits, what="the result")
                        results.append(loads(dumps(result)))
            except (OutputInvalid, ValueError, TypeError, RecursionError) as exc:
                return {"ok": False, "index": i, "error": describe_exception(exc)}
        return {"ok": True, "results": results, "acc_json": acc_json}


# ----------------------------------------------------------------------------- wire (worker side)

_HEADER = struct.Struct(">I")


def _read_exact(stream: Any, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(stream: Any, message: dict[str, Any]) -> None:
    try:
        body = json.dumps(message, allow_nan=False).encode()
    except (ValueError, TypeError, RecursionError) as exc:
        body = json.dumps({"ok": False, "error": describe_exception(exc)}).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _apply_limits(memory_bytes: int) -> None:
    import resource

    for limit, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NPROC, 0)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    if memory_bytes > 0 and sys.platform.startswith("linux"):
        # Elsewhere (macOS) RLIMIT_AS is not enforced; the host's wall-clock kill is the bound there.
        vm = 0
        with open("/proc/self/status") as fh:  # the worker's own accounting, before any operator runs
            for line in fh:
                if line.startswith("VmSize:"):
                    vm = int(line.split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + memory_bytes, vm + memory_bytes))


def _cpu_used() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    return float(used.ru_utime + used.ru_stime)


def _set_cpu_limit(call_seconds: float, lifetime_seconds: float | None = None) -> None:
    """The second guard behind the host's wall-clock kill: SIGXCPU a little after this call's budget.

    The hard limit is finite (set once, at load: the worker's lifetime CPU); the soft limit moves with
    each call and never passes it.
    """
    import resource

    spent = _cpu_used()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if lifetime_seconds is not None:
        hard = math.ceil(spent + lifetime_seconds)
    soft = math.ceil(spent + call_seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def main() -> None:
    """Serve load/run requests on stdin/stdout until stdin closes."""
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Operator code never sees these streams, but keep stray writes away from the protocol channel.
    sys.stdout = sys.stderr
    import RestrictedPython  # noqa: F401 - import before the address-space limit is applied

    runner: Runner | None = None
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(stdin, _HEADER.size))
            request = json.loads(_read_exact(stdin, size))
        except EOFError:
            return
        op = request.get("op")
        seq = request.get("seq")
        budget = float(request.get("call_seconds", 1.0))
        if op == "load":
            if runner is not None:
                _send(stdout, {"seq": seq, "ok": False, "rule": "load", "error": "already loaded"})
                continue
            # Limits first: definition-time code (defaults, imports) already runs under them.
            _apply_limits(int(request.get("memory_bytes", 0)))
            _set_cpu_limit(budget, float(request.get("lifetime_cpu_seconds", 600)))
            try:
                runner = Runner(
                    request["kind"],
                    request["source"],
                    request.get("limits", {}),
                    os_wall=bool(request.get("os_wall", True)),
                    checked=request.get("python_checks", True) is not False,
                )
            except PolicyViolation as exc:
                reply = {"seq": seq, "ok": False, "rule": exc.rule, "line": exc.line, "col": exc.col}
                _send(stdout, {**reply, "error": _bounded(exc.message)})
                continue
            except BaseException as exc:  # top-level code of the operator may raise anything
                _send(stdout, {"seq": seq, "ok": False, "rule": "load", "error": describe_exception(exc)})
                continue
            sys.setrecursionlimit(int(request.get("recursion_limit", 300)))
            _send(stdout, {"seq": seq, "ok": True, "seccomp": runner.wall[0], "landlock": runner.wall[1]})
        elif op == "run" and runner is not None:
            _set_cpu_limit(budget)
            try:
                reply = runner.run(request["values"], request["params"], request.get("acc_json", "{}"))
            except BaseException as exc:
                reply = {"ok": False, "index": -1, "error": describe_exception(exc), "results": []}
            reply["seq"] = seq
            reply["cpu"] = _cpu_used()
            _send(stdout, reply)
        else:
            _send(stdout, {"seq": seq, "ok": False, "error": f"bad request {str(op)[:40]!r}"})


if __name__ == "__main__":
    main()
