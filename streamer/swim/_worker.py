"""Sandbox policy and worker process for generated operators (stdlib and RestrictedPython only).

The host (``streamer.swim.sandbox``) imports the policy half of this module to check source before it
starts anything. Run as a script, the module is the worker: a fresh interpreter that applies resource
limits to itself, compiles the checked source with RestrictedPython, and answers length-prefixed JSON
requests on stdin/stdout. Nothing here imports the rest of ``streamer``: the worker must start fast and
must not hold the host's configuration (API keys live in the host's environment, never here).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import operator as _op
import statistics
import struct
import sys
import tokenize
from collections.abc import Callable
from typing import Any

MAX_SOURCE_CHARS = 20_000
"""Source longer than this is refused before it is parsed (parsing cost grows much faster than size)."""

MAX_AST_NODES = 5_000
"""A checked module may contain at most this many AST nodes."""

KINDS = ("accumulate", "map", "filter")
ARITY = {"accumulate": 3, "map": 2, "filter": 2}
PREFERRED_NAMES = ("func", "operator", "op", "apply", "accumulate", "map_value", "filter_value")

ALLOWED_MODULES = frozenset({"math", "statistics", "typing"})

FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "breakpoint",
        "input",
        "help",
        "type",
        "object",
        "super",
        "memoryview",
        "bytearray",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "iter",
        "next",
        "aiter",
        "anext",
        "copyright",
        "credits",
        "license",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
        "StopIteration",
        "StopAsyncIteration",
        "BaseException",
        "printed",
    }
)

# Attributes that open a frame, a code object, a traceback, a format-string mini-language or the MRO.
# None starts with an underscore, so the underscore rule alone does not cover them.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "format",
        "format_map",
        "mro",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "gi_running",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "f_trace",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "im_func",
        "im_self",
        "with_traceback",
        "throw",
        "send",
        "close",
        "load_module",
        "exec_module",
        "get_data",
        "environ",
        "system",
    }
)

FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.ClassDef: "class definitions are not allowed",
    ast.AsyncFunctionDef: "async functions are not allowed",
    ast.Await: "await is not allowed",
    ast.AsyncFor: "async for is not allowed",
    ast.AsyncWith: "async with is not allowed",
    ast.With: "with statements are not allowed",
    ast.Global: "global statements are not allowed",
    ast.Nonlocal: "nonlocal statements are not allowed",
    ast.Yield: "generators (yield) are not allowed",
    ast.YieldFrom: "generators (yield from) are not allowed",
    ast.Match: "match statements are not allowed",
    ast.Starred: "star-unpacking is not allowed",
}


class PolicyViolation(Exception):
    """Source broke a sandbox rule: ``rule`` names it, ``line``/``col`` say where (1-based; 0 if unknown)."""

    def __init__(self, rule: str, message: str, line: int = 0, col: int = 0) -> None:
        self.rule = rule
        self.line = line
        self.col = col
        self.message = message
        super().__init__(f"{rule} at line {line}, column {col}: {message}")


def _where(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1


def _check_identifiers_ascii(source: str) -> None:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise PolicyViolation("syntax", f"cannot tokenize: {str(exc)[:200]}") from None
    for tok in tokens:
        if tok.type == tokenize.NAME and not tok.string.isascii():
            normal = _nfkc(tok.string)
            raise PolicyViolation(
                "non-ascii-identifier",
                f"identifier {tok.string!r} is not ASCII (Python reads it as {normal!r}); "
                "write identifiers in ASCII",
                tok.start[0],
                tok.start[1] + 1,
            )


def _nfkc(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", text)


def _check_name(name: str, node: ast.AST, what: str) -> None:
    line, col = _where(node)
    if name.startswith("_"):
        raise PolicyViolation("underscore-name", f"{what} {name!r} starts with an underscore", line, col)
    if name in FORBIDDEN_NAMES:
        raise PolicyViolation("forbidden-name", f"{what} {name!r} is not available in the sandbox", line, col)


def _check_defaults(args: ast.arguments) -> None:
    # Defaults run at definition time and persist between calls: only plain constants.
    for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
        inner = default.operand if isinstance(default, ast.UnaryOp) else default
        if not isinstance(inner, ast.Constant):
            line, col = _where(default)
            raise PolicyViolation("signature", "default values must be plain constants", line, col)


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.count = 0

    def generic_visit(self, node: ast.AST) -> None:
        self.count += 1
        if self.count > MAX_AST_NODES:
            line, col = _where(node)
            raise PolicyViolation("too-complex", f"more than {MAX_AST_NODES} syntax nodes", line, col)
        for forbidden, message in FORBIDDEN_NODES.items():
            if isinstance(node, forbidden):
                line, col = _where(node)
                raise PolicyViolation("forbidden-construct", message, line, col)
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        _check_name(node.id, node, "name")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        line, col = _where(node)
        if node.attr.startswith("_"):
            raise PolicyViolation(
                "underscore-name", f"attribute {node.attr!r} starts with an underscore", line, col
            )
        if node.attr in FORBIDDEN_ATTRIBUTES:
            raise PolicyViolation("forbidden-attribute", f"attribute {node.attr!r} is not allowed", line, col)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        _check_name(node.arg, node, "argument")
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:
            _check_name(node.arg, node, "keyword")
        else:
            line, col = _where(node)
            raise PolicyViolation("forbidden-construct", "**keyword unpacking is not allowed", line, col)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        _check_name(node.name, node, "function")
        if node.decorator_list:
            line, col = _where(node.decorator_list[0])
            raise PolicyViolation("forbidden-construct", "decorators are not allowed", line, col)
        if node.args.vararg or node.args.kwarg:
            line, col = _where(node)
            raise PolicyViolation(
                "forbidden-construct", "*args/**kwargs parameters are not allowed", line, col
            )
        _check_defaults(node.args)
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        _check_defaults(node.args)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name is not None:
            _check_name(node.name, node, "exception name")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES:
                line, col = _where(node)
                raise PolicyViolation(
                    "import",
                    f"import of {alias.name!r}; only {', '.join(sorted(ALLOWED_MODULES))} are provided",
                    line,
                    col,
                )
            if alias.asname is not None:
                _check_name(alias.asname, node, "import alias")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        line, col = _where(node)
        if node.level or node.module not in ALLOWED_MODULES:
            raise PolicyViolation(
                "import",
                f"import from {node.module!r}; only {', '.join(sorted(ALLOWED_MODULES))} are provided",
                line,
                col,
            )
        for alias in node.names:
            if alias.name == "*":
                raise PolicyViolation("import", "star imports are not allowed", line, col)
            _check_name(alias.name, node, "imported name")
            if alias.asname is not None:
                _check_name(alias.asname, node, "import alias")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bytes):
            line, col = _where(node)
            raise PolicyViolation("forbidden-construct", "bytes literals are not allowed", line, col)
        self.generic_visit(node)


def _strip_annotations(tree: ast.Module) -> None:
    """Drop annotations: they are evaluated at definition time and are never needed by an operator."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                a.annotation = None


class _Rewriter(ast.NodeTransformer):
    """Rewrite what RestrictedPython refuses but models write all the time."""

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        # acc["n"] += 1  ->  acc["n"] = acc["n"] + 1 (only when the subscript has no side effects)
        t = node.target
        if (
            isinstance(t, ast.Subscript)
            and isinstance(t.value, ast.Name)
            and isinstance(t.slice, (ast.Name, ast.Constant))
        ):
            load = ast.Subscript(value=ast.Name(t.value.id, ast.Load()), slice=t.slice, ctx=ast.Load())
            new = ast.Assign(targets=[t], value=ast.BinOp(left=load, op=node.op, right=node.value))
            return ast.fix_missing_locations(ast.copy_location(new, node))
        return node


def _select_function(tree: ast.Module, kind: str) -> str:
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not defs:
        raise PolicyViolation("no-function", "the source defines no top-level function", 1, 1)
    chosen = next((d for name in PREFERRED_NAMES for d in defs if d.name == name), None)
    if chosen is None:
        chosen = defs[-1]
    args = chosen.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    need = ARITY[kind]
    if not (required <= need <= positional):
        line, col = _where(chosen)
        raise PolicyViolation(
            "signature",
            f"function {chosen.name!r} must take {need} positional arguments for a {kind} operator "
            f"({'acc, value, params' if kind == 'accumulate' else 'value, params'})",
            line,
            col,
        )
    if args.kwonlyargs and any(d is None for d in args.kw_defaults):
        line, col = _where(chosen)
        raise PolicyViolation("signature", "keyword-only arguments need defaults", line, col)
    return chosen.name


# Top-level values: immutable constants only, so no state can live between calls outside `acc`.
_IMMUTABLE_LITERAL = (ast.Constant, ast.Tuple, ast.UnaryOp, ast.USub, ast.UAdd, ast.Not, ast.Load, ast.Name)


def _check_top_level(tree: ast.Module) -> None:
    for node in tree.body:
        ok = isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign))
        ok = ok or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        if not ok:
            line, col = _where(node)
            raise PolicyViolation(
                "top-level-statement",
                f"only functions, imports, docstrings and constant assignments may appear at top level, "
                f"not {type(node).__name__}",
                line,
                col,
            )
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for sub in ast.walk(node.value):
                if not isinstance(sub, _IMMUTABLE_LITERAL):
                    line, col = _where(sub)
                    raise PolicyViolation(
                        "top-level-statement", "top-level assignments must be immutable constants", line, col
                    )


def check_source(kind: str, source: str) -> tuple[ast.Module, str]:
    """Check ``source`` against the allowlist; return the rewritten tree and the operator's function name."""
    if kind not in KINDS:
        raise PolicyViolation("kind", f"unknown operator kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(source, str):
        raise PolicyViolation("source", "source must be text")
    if len(source) > MAX_SOURCE_CHARS:
        raise PolicyViolation(
            "source-size", f"source is {len(source)} characters; the limit is {MAX_SOURCE_CHARS}"
        )
    if "\x00" in source:
        raise PolicyViolation("syntax", "source contains a NUL character")
    try:
        tree = ast.parse(source, "<operator>", "exec")
    except SyntaxError as exc:
        raise PolicyViolation("syntax", str(exc.msg)[:200], exc.lineno or 0, exc.offset or 0) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise PolicyViolation("syntax", f"cannot parse: {type(exc).__name__}") from None
    _check_identifiers_ascii(source)
    try:
        _Checker().visit(tree)
    except RecursionError:
        raise PolicyViolation("too-complex", "the source is nested too deeply") from None
    _check_top_level(tree)
    name = _select_function(tree, kind)
    _strip_annotations(tree)
    tree = _Rewriter().visit(tree)
    ast.fix_missing_locations(tree)
    return tree, name


def restricted_compile(tree: ast.Module) -> Any:
    """Compile a checked tree with RestrictedPython; raise PolicyViolation with its first complaint."""
    from RestrictedPython.compile import compile_restricted_exec

    try:
        result = compile_restricted_exec(tree, "<operator>")
    except (RecursionError, MemoryError):
        raise PolicyViolation("too-complex", "the source is nested too deeply to compile") from None
    if result.errors or result.code is None:
        first = result.errors[0] if result.errors else "RestrictedPython refused the source"
        line = 0
        if first.startswith("Line "):
            head = first[5:].split(":", 1)[0]
            line = int(head) if head.isdigit() else 0
        raise PolicyViolation("restricted-python", first[:300], line, 0)
    return result.code


# ----------------------------------------------------------------------------- runtime (worker side)


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

    def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
        if type(name) is not str or name in FORBIDDEN_ATTRIBUTES or name.startswith("_"):
            raise AttributeError(f"attribute {name!r} is not allowed")
        return safer_getattr(obj, name, *default)  # type: ignore[no-untyped-call]

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


def check_json_value(
    value: Any, max_nodes: int, max_depth: int, max_chars: int, what: str = "the value"
) -> None:
    """Refuse anything that is not plain bounded JSON; shared references count every time they appear."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    chars = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise OutputInvalid(f"{what} has more than {max_nodes} values")
        if depth > max_depth:
            raise OutputInvalid(f"{what} is nested deeper than {max_depth}")
        t = type(item)
        if t is float:
            if not math.isfinite(item):
                raise OutputInvalid(f"{what} holds a non-finite number {item!r}")
        elif t is int:
            if not -_INT_LIMIT < item < _INT_LIMIT:
                raise OutputInvalid(f"{what} holds an integer beyond 64 bits")
        elif t is str:
            chars += len(item)
        elif item is None or t is bool:
            pass
        elif t is dict:
            if nodes + len(stack) + len(item) > max_nodes:
                raise OutputInvalid(f"{what} has more than {max_nodes} values")
            for k, v in item.items():
                if type(k) is not str:
                    raise OutputInvalid(f"{what} has a non-string key of type {type(k).__name__}")
                chars += len(k)
                stack.append((v, depth + 1))
        elif t is list or t is tuple:
            if nodes + len(stack) + len(item) > max_nodes:
                raise OutputInvalid(f"{what} has more than {max_nodes} values")
            stack.extend((v, depth + 1) for v in item)
        else:
            raise OutputInvalid(f"{what} holds a {t.__name__}, which is not JSON data")
        if chars > max_chars:
            raise OutputInvalid(f"{what} holds more than {max_chars} characters of text")


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


class Runner:
    """Runs one loaded operator on batches, checking every output."""

    def __init__(self, kind: str, source: str, limits: dict[str, int]) -> None:
        tree, name = check_source(kind, source)
        code = restricted_compile(tree)
        glb = build_globals(_namespaces())
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
        loads = json.loads
        dumps = json.dumps
        fn = self.fn
        kind = self.kind
        limits = (self.max_nodes, self.max_depth, self.max_chars)
        results: list[Any] = []
        for i, value in enumerate(values):
            params = loads(params_json)
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
                    check_json_value(result, *limits, what="the result")
                    acc_json = dumps(new_acc, allow_nan=False)
                    results.append(loads(dumps(result, allow_nan=False)))
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


def _set_cpu_budget(seconds: int) -> None:
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = math.ceil(used.ru_utime + used.ru_stime)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = spent + max(1, seconds)
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
        if op == "load":
            if runner is not None:
                _send(stdout, {"ok": False, "rule": "load", "error": "this worker already holds an operator"})
                continue
            # Limits first: definition-time code (defaults, imports) already runs under them.
            _apply_limits(int(request.get("memory_bytes", 0)))
            _set_cpu_budget(int(request.get("cpu_seconds", 1)))
            try:
                runner = Runner(request["kind"], request["source"], request.get("limits", {}))
            except PolicyViolation as exc:
                reply = {"ok": False, "rule": exc.rule, "line": exc.line, "col": exc.col}
                _send(stdout, {**reply, "error": _bounded(exc.message)})
                continue
            except BaseException as exc:  # top-level code of the operator may raise anything
                _send(stdout, {"ok": False, "rule": "load", "error": describe_exception(exc)})
                continue
            sys.setrecursionlimit(int(request.get("recursion_limit", 300)))
            _send(stdout, {"ok": True})
        elif op == "run" and runner is not None:
            _set_cpu_budget(int(request.get("cpu_seconds", 1)))
            try:
                reply = runner.run(request["values"], request["params"], request.get("acc_json", "{}"))
            except BaseException as exc:
                reply = {"ok": False, "index": -1, "error": describe_exception(exc), "results": []}
            _send(stdout, reply)
        else:
            _send(stdout, {"ok": False, "error": f"bad request {str(op)[:40]!r}"})


if __name__ == "__main__":
    main()
