"""The sandbox policy: the AST allowlist every operator source must pass (pure; stdlib and RestrictedPython).

The host checks source with it before it starts anything; the worker checks it again before it compiles.
Nothing here imports the rest of ``streamer``, does I/O or keeps state.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
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


# Control characters (C0 except tab and newline, a CR only before LF; DEL; C1), bidi controls
# (Trojan Source: U+202A-U+202E, U+2066-U+2069, and the marks U+200E, U+200F, U+061C), lone surrogates.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _check_visible(source: str) -> None:
    """Refuse characters that hide or reorder what a reader sees (Trojan Source), comments included."""
    for match in _HIDDEN.finditer(source):
        if match.group() == "\r" and source.startswith("\r\n", match.start()):
            continue
        line = source.count("\n", 0, match.start()) + 1
        col = match.start() - (source.rfind("\n", 0, match.start()) + 1) + 1
        raise PolicyViolation(
            "hidden-character",
            f"the source holds the control or bidi character U+{ord(match.group()):04X}; "
            "write plain visible text",
            line,
            col,
        )


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
    if name.startswith("_") and name != "_":  # the bare `_` (a throwaway loop variable) is harmless
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


class _AnnotationStripper(ast.NodeTransformer):
    """Drop annotations before any check: they are never needed by an operator, and are not run."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        args = node.args
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if a is not None:
                a.annotation = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        new = ast.Assign(targets=[node.target], value=node.value)
        visited: ast.AST = self.visit(new)
        return ast.copy_location(visited, node)


class _Rewriter(ast.NodeTransformer):
    """Rewrite what RestrictedPython refuses but models write all the time."""

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
    _check_visible(source)
    try:
        tree = ast.parse(source, "<operator>", "exec")
    except SyntaxError as exc:
        raise PolicyViolation("syntax", str(exc.msg)[:200], exc.lineno or 0, exc.offset or 0) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise PolicyViolation("syntax", f"cannot parse: {type(exc).__name__}") from None
    _check_identifiers_ascii(source)
    try:
        tree = _AnnotationStripper().visit(tree)
        ast.fix_missing_locations(tree)
        _Checker().visit(tree)
    except RecursionError:
        raise PolicyViolation("too-complex", "the source is nested too deeply") from None
    _check_top_level(tree)
    name = _select_function(tree, kind)
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
