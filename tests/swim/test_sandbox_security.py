"""Escape and abuse attempts against the operator sandbox: each is rejected or contained, with no host effect.

Static cases never start a worker. Run-time cases start one fresh worker each (about 40 ms) with small
CPU, memory and wall-clock budgets, so bombs end within about a second.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamer.errors import OperatorFailed, OperatorRejected, StreamError
from streamer.swim.sandbox import Limits, check_operator_source, compile_operator

CANARY = Path(tempfile.gettempdir()) / "streamer-sandbox-canary"
SECRET_NAME = "STREAMER_SANDBOX_TEST_SECRET"
SECRET_VALUE = "s3cr3t-value-for-the-sandbox-tests"
TIGHT = Limits(wall_seconds=0.8, memory_mb=64)


def m(body: str) -> str:
    """A map operator whose body is ``body`` (one statement per line, indented for the function)."""
    lines = "\n".join("    " + line for line in body.splitlines())
    return f"def func(value, params):\n{lines}\n"


def fw(word: str) -> str:
    """``word`` in fullwidth letters (NFKC folds them back to ASCII)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in word)


def a(body: str) -> str:
    """An accumulate operator whose body is ``body``."""
    lines = "\n".join("    " + line for line in body.splitlines())
    return f"def func(acc, value, params):\n{lines}\n"


# --------------------------------------------------------------------------------------------------
# Rejected before anything runs: (kind, source, rule)

REJECTED: dict[str, tuple[str, str, str]] = {
    # imports
    "import-os": ("map", "import os\n" + m("return float(len(os.environ))"), "import"),
    "import-sys": ("map", "import sys\n" + m("return 1.0"), "import"),
    "import-subprocess": ("map", "import subprocess\n" + m("return 1.0"), "import"),
    "from-os-import-system": ("map", "from os import system\n" + m("return 1.0"), "import"),
    "import-builtins": ("map", "import builtins\n" + m("return 1.0"), "import"),
    "import-importlib": ("map", "import importlib\n" + m("return 1.0"), "import"),
    "import-ctypes": ("map", "import ctypes\n" + m("return 1.0"), "import"),
    "import-inside-function": ("map", m("import os\nreturn 1.0"), "import"),
    "from-math-star": ("map", "from math import *\n" + m("return sqrt(value)"), "import"),
    "relative-import": ("map", "from . import sandbox\n" + m("return 1.0"), "import"),
    "import-dotted-math-os": ("map", "import math.os\n" + m("return 1.0"), "import"),
    "import-string-formatter": ("map", "import string\n" + m("return 1.0"), "import"),
    "import-operator-attrgetter": ("map", "from operator import attrgetter\n" + m("return 1.0"), "import"),
    "dunder-import-call": ("map", m("os = __import__('os')\nreturn 1.0"), "underscore-name"),
    "import-math-under-alias": ("map", "import math as _m\n" + m("return 1.0"), "underscore-name"),
    # builtins
    "dunder-builtins": ("map", m("b = __builtins__\nreturn 1.0"), "underscore-name"),
    "dunder-builtins-eval": ("map", m("return __builtins__['eval']('1')"), "underscore-name"),
    "eval": ("map", m("return eval('value * 2')"), "forbidden-name"),
    "exec": ("map", m("exec('x = 1')\nreturn 1.0"), "forbidden-name"),
    "compile": ("map", m("c = compile('1', 'x', 'eval')\nreturn 1.0"), "forbidden-name"),
    "open-read": ("map", m("return float(len(open('/etc/passwd').read()))"), "forbidden-name"),
    "open-write-canary": ("map", m(f"open({str(CANARY)!r}, 'w').write('x')\nreturn 1.0"), "forbidden-name"),
    "getattr-class": ("map", m("c = getattr(value, '__class__')\nreturn 1.0"), "forbidden-name"),
    "getattr-computed-name": ("map", m("n = '__cla' + 'ss__'\nreturn getattr(value, n)"), "forbidden-name"),
    "setattr": ("map", m("setattr(params, 'x', 1)\nreturn 1.0"), "forbidden-name"),
    "delattr": ("map", m("delattr(params, 'x')\nreturn 1.0"), "forbidden-name"),
    "hasattr": ("map", m("return 1.0 if hasattr(value, 'real') else 0.0"), "forbidden-name"),
    "globals": ("map", m("g = globals()\nreturn 1.0"), "forbidden-name"),
    "locals": ("map", m("g = locals()\nreturn 1.0"), "forbidden-name"),
    "vars": ("map", "import math\n" + m("return float(len(vars(math)))"), "forbidden-name"),
    "dir": ("map", "import math\n" + m("return float(len(dir(math)))"), "forbidden-name"),
    "breakpoint": ("map", m("breakpoint()\nreturn 1.0"), "forbidden-name"),
    "input": ("map", m("return float(input())"), "forbidden-name"),
    "type-call": ("map", m("t = type(value)\nreturn 1.0"), "forbidden-name"),
    "type-three-args": ("map", m("K = type('K', (), {})\nreturn 1.0"), "forbidden-name"),
    "object-subclasses": ("map", m("s = object.__subclasses__()\nreturn 1.0"), "underscore-name"),
    "object-name": ("map", m("o = object\nreturn 1.0"), "forbidden-name"),
    "super": ("map", m("s = super()\nreturn 1.0"), "forbidden-name"),
    "help": ("map", m("help(value)\nreturn 1.0"), "forbidden-name"),
    "exit": ("map", m("exit(0)"), "forbidden-name"),
    "quit": ("map", m("quit()"), "forbidden-name"),
    "memoryview": ("map", m("x = memoryview\nreturn 1.0"), "forbidden-name"),
    "iter-next": ("map", m("return next(iter([value]))"), "forbidden-name"),
    "raise-system-exit": ("map", m("raise SystemExit(0)"), "forbidden-name"),
    "raise-keyboard-interrupt": ("map", m("raise KeyboardInterrupt"), "forbidden-name"),
    "raise-stop-iteration": ("map", m("raise StopIteration"), "forbidden-name"),
    "except-base-exception": (
        "map",
        m("try:\n    pass\nexcept BaseException:\n    pass\nreturn 1.0"),
        "forbidden-name",
    ),
    "printed-name": ("map", m("print(value)\nreturn float(len(printed))"), "forbidden-name"),
    # dunder walks
    "tuple-class-bases-subclasses": (
        "map",
        m("x = ().__class__.__bases__[0].__subclasses__()\nreturn 1.0"),
        "underscore-name",
    ),
    "value-class": ("map", m("return value.__class__"), "underscore-name"),
    "lambda-globals": ("map", m("g = (lambda: 0).__globals__\nreturn 1.0"), "underscore-name"),
    "function-code": ("map", m("def h():\n    return 0\nc = h.__code__\nreturn 1.0"), "underscore-name"),
    "list-mro-dunder": ("map", m("x = [].__class__.__mro__\nreturn 1.0"), "underscore-name"),
    "str-base": ("map", m("x = ''.__class__.__base__\nreturn 1.0"), "underscore-name"),
    "params-init-globals": (
        "map",
        m("g = params.__class__.__init__.__globals__\nreturn 1.0"),
        "underscore-name",
    ),
    "math-loader": ("map", "import math\n" + m("x = math.__loader__\nreturn 1.0"), "underscore-name"),
    "math-sqrt-self": ("map", "import math\n" + m("x = math.sqrt.__self__\nreturn 1.0"), "underscore-name"),
    "math-dict": ("map", "import math\n" + m("x = math.__dict__\nreturn 1.0"), "underscore-name"),
    "mro-method": ("map", m("x = int.mro()\nreturn 1.0"), "forbidden-attribute"),
    "namespace-private-items": ("map", "import math\n" + m("x = math._items\nreturn 1.0"), "underscore-name"),
    "underscore-local": ("map", m("_x = value\nreturn _x"), "underscore-name"),
    "underscore-argument": ("map", "def func(_value, params):\n    return 1.0\n", "underscore-name"),
    "dunder-function-name": ("map", "def __getattr__(value, params):\n    return 1.0\n", "underscore-name"),
    "keyword-underscore": ("map", m("return float(dict(_a=1)['_a'])"), "underscore-name"),
    # frames through generators and tracebacks
    "genexpr-gi-frame": ("map", m("g = (x for x in [1])\nf = g.gi_frame\nreturn 1.0"), "forbidden-attribute"),
    "genexpr-f-globals": (
        "map",
        m("g = (x for x in [1])\nreturn g.gi_frame.f_globals"),
        "forbidden-attribute",
    ),
    "genexpr-f-back": ("map", m("g = (x for x in [1])\nreturn g.gi_frame.f_back"), "forbidden-attribute"),
    "genexpr-gi-code-consts": (
        "map",
        m("g = (x for x in [1])\nreturn g.gi_code.co_consts"),
        "forbidden-attribute",
    ),
    "genexpr-send": ("map", m("g = (x for x in [1])\ng.send(None)\nreturn 1.0"), "forbidden-attribute"),
    "genexpr-throw": (
        "map",
        m("g = (x for x in [1])\ng.throw(ValueError)\nreturn 1.0"),
        "forbidden-attribute",
    ),
    "traceback-frame": (
        "map",
        m("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__\nreturn 1.0"),
        "underscore-name",
    ),
    "with-traceback": (
        "map",
        m("try:\n    1 / 0\nexcept Exception as e:\n    e.with_traceback(None)\nreturn 1.0"),
        "forbidden-attribute",
    ),
    "tb-frame-attr": ("map", m("x = params.tb_frame\nreturn 1.0"), "forbidden-attribute"),
    "f-locals-attr": ("map", m("x = params.f_locals\nreturn 1.0"), "forbidden-attribute"),
    "f-builtins-attr": ("map", m("x = params.f_builtins\nreturn 1.0"), "forbidden-attribute"),
    "generator-function": ("map", "def gen():\n    yield 1\n" + m("return 1.0"), "forbidden-construct"),
    "yield-from": ("map", "def gen():\n    yield from [1]\n" + m("return 1.0"), "forbidden-construct"),
    # str.format attribute access
    "format-loader": (
        "map",
        "import math\n" + m("return '{0.__loader__}'.format(math)"),
        "forbidden-attribute",
    ),
    "format-environ-chain": (
        "map",
        "import math\n"
        + m("s = '{0.__loader__.__init__.__globals__[sys].modules[os].environ}'.format(math)\nreturn 1.0"),
        "forbidden-attribute",
    ),
    "format-map": ("map", m("return '{x.__class__}'.format_map({'x': value})"), "forbidden-attribute"),
    "str-format-unbound": ("map", m("return str.format('{0.__class__}', value)"), "forbidden-attribute"),
    "bound-format-alias": ("map", m("f = '{0.real}'.format\nreturn 1.0"), "forbidden-attribute"),
    "fstring-dunder": ("map", m("s = f'{value.__class__}'\nreturn 1.0"), "underscore-name"),
    "fstring-nested-spec-dunder": (
        "map",
        m("s = f'{value:{params.__class__}}'\nreturn 1.0"),
        "underscore-name",
    ),
    # class and metaclass tricks, async, with, global
    "class-def": ("map", "class K:\n    pass\n" + m("return 1.0"), "forbidden-construct"),
    "class-metaclass": ("map", "class M(type):\n    pass\n" + m("return 1.0"), "forbidden-construct"),
    "class-in-function": ("map", m("class K:\n    pass\nreturn 1.0"), "forbidden-construct"),
    "metaclass-name": ("map", "__metaclass__ = 1\n" + m("return 1.0"), "underscore-name"),
    "build-class": ("map", m("x = __build_class__\nreturn 1.0"), "underscore-name"),
    "decorator": (
        "map",
        "def deco(f):\n    return f\n@deco\ndef func(value, params):\n    return 1.0\n",
        "forbidden-construct",
    ),
    "async-def": ("map", "async def func(value, params):\n    return 1.0\n", "forbidden-construct"),
    "await-in-lambda-def": (
        "map",
        m("return 1.0") + "async def g():\n    await g()\n",
        "forbidden-construct",
    ),
    "with-statement": ("map", m("with params as p:\n    pass\nreturn 1.0"), "forbidden-construct"),
    "global": ("map", m("global counter\nreturn 1.0"), "forbidden-construct"),
    "nonlocal": ("map", m("def g():\n    nonlocal value\nreturn 1.0"), "forbidden-construct"),
    "match-statement": (
        "map",
        m("match value:\n    case _:\n        pass\nreturn 1.0"),
        "forbidden-construct",
    ),
    "kwargs-unpack-call": ("map", m("return float(dict(**params)['x'])"), "forbidden-construct"),
    "star-args-signature": (
        "map",
        "def func(value, params, *rest):\n    return 1.0\n",
        "forbidden-construct",
    ),
    "bytes-literal": ("map", m("b = b'\\x00'\nreturn 1.0"), "forbidden-construct"),
    "non-literal-default": ("map", "def func(value, params, cache=[]):\n    return 1.0\n", "signature"),
    "call-in-default": (
        "map",
        "def func(value, params, x=sum(range(10 ** 12))):\n    return 1.0\n",
        "signature",
    ),
    "lambda-call-default": ("map", m("f = lambda x=open('/etc/passwd'): x\nreturn 1.0"), "signature"),
    "top-level-call": ("map", "X = sum(range(10 ** 12))\n" + m("return 1.0"), "top-level-statement"),
    "top-level-loop": ("map", "while True:\n    pass\n" + m("return 1.0"), "top-level-statement"),
    "top-level-bomb-binop": ("map", "X = 10 ** 10 ** 10\n" + m("return 1.0"), "top-level-statement"),
    # hidden state between calls outside acc
    "top-level-mutable-list": (
        "map",
        "SEEN = []\n" + m("SEEN.append(value)\nreturn float(len(SEEN))"),
        "top-level-statement",
    ),
    "top-level-mutable-dict": ("map", "STATE = {'n': 0}\n" + m("return 1.0"), "top-level-statement"),
    # unicode look-alikes (Python folds identifiers with NFKC)
    "fullwidth-eval": ("map", m("return " + fw("eval") + "('1')"), "non-ascii-identifier"),
    "script-e-eval": ("map", m("return \u212fval('1')"), "non-ascii-identifier"),
    "modifier-e-eval": ("map", m("return \u1d49val('1')"), "non-ascii-identifier"),
    "fullwidth-open": ("map", m("return " + fw("open") + "('/etc/passwd')"), "non-ascii-identifier"),
    # U+FF3F is not an identifier character at all: Python's own parser refuses it.
    "fullwidth-underscore-class": ("map", m("return value.\uff3f\uff3fclass\uff3f\uff3f"), "syntax"),
    "fullwidth-getattr": ("map", m("return " + fw("getattr") + "(value, 'real')"), "non-ascii-identifier"),
    "cyrillic-e-eval": ("map", m("return \u0435val('1')"), "non-ascii-identifier"),
    "math-fullwidth-format": ("map", m("return 'x'." + fw("format") + "()"), "non-ascii-identifier"),
    # source size, shape and kind
    "ten-megabyte-literal": ("map", m("return 1.0") + "X = '" + "a" * 10_000_000 + "'\n", "source-size"),
    "nul-byte": ("map", m("return 1.0") + "\x00", "hidden-character"),
    "deep-parentheses": ("map", m("return " + "(" * 500 + "1" + ")" * 500), "syntax"),
    "syntax-error": ("map", "def func(value, params)\n    return 1.0\n", "syntax"),
    "no-function": ("map", "X = 1\n", "no-function"),
    "wrong-arity": ("accumulate", "def func(value, params):\n    return value\n", "signature"),
    "unknown-kind": ("reduce", m("return 1.0"), "kind"),
    "too-many-nodes": ("map", m("x = [" + "1, " * 6000 + "]\nreturn 1.0"), "too-complex"),
    "deep-unary-chain": ("map", m("return " + "-" * 300 + "1"), "too-complex"),
    "deep-binop-chain": ("map", m("return 1" + "+1" * 300), "too-complex"),
    "deep-not-chain": ("map", m("return " + "not " * 300 + "value"), "too-complex"),
    "huge-unary-chain": ("map", m("return " + "-" * 19000 + "1"), "syntax"),
    # augmented assignment on attributes (RestrictedPython's own rule)
    "augassign-attribute": ("map", "import math\n" + m("math.pi += 1\nreturn 1.0"), "restricted-python"),
}


@pytest.mark.parametrize(("kind", "source", "rule"), list(REJECTED.values()), ids=list(REJECTED))
def test_rejected_statically(kind: str, source: str, rule: str) -> None:
    with pytest.raises(OperatorRejected) as info:
        check_operator_source(kind, source)
    assert info.value.rule == rule, str(info.value)
    assert len(str(info.value)) < 700


def test_rejection_names_line_and_column() -> None:
    with pytest.raises(OperatorRejected) as info:
        check_operator_source("map", "def func(value, params):\n    x = 1\n    return eval('2')\n")
    assert (info.value.rule, info.value.line, info.value.col) == ("forbidden-name", 3, 12)
    assert "line 3, column 12" in str(info.value)


def test_compile_operator_rejects_without_starting_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamer.swim.sandbox as sandbox

    def no_worker(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker was started for rejected source")

    monkeypatch.setattr(sandbox.host, "_Worker", no_worker)
    with pytest.raises(OperatorRejected):
        compile_operator("map", m("return eval('1')"))


# --------------------------------------------------------------------------------------------------
# Accepted by the static check but contained at run time: (kind, source, value, params, acc)

CONTAINED: dict[str, tuple[str, str, float, dict[str, Any], dict[str, Any] | None]] = {
    # CPU bombs: single C-level calls and loops that swallow exceptions
    "sum-range-huge": ("map", m("return float(sum(range(10 ** 12)))"), 1.0, {}, None),
    "power-tower": ("map", m("return float(10 ** 10 ** 10)"), 1.0, {}, None),
    "math-factorial": (
        "map",
        "import math\n" + m("return float(math.factorial(10 ** 7) % 7)"),
        1.0,
        {},
        None,
    ),
    "pow-builtin": ("map", m("return float(pow(10, 10 ** 9) % 3)"), 1.0, {}, None),
    "math-comb": (
        "map",
        "import math\n" + m("return float(math.comb(10 ** 7, 5 * 10 ** 6) % 3)"),
        1.0,
        {},
        None,
    ),
    "while-true": ("map", m("while True:\n    pass"), 1.0, {}, None),
    "bare-except-loop": (
        "map",
        m("while True:\n    try:\n        while True:\n            pass\n    except:\n        pass"),
        1.0,
        {},
        None,
    ),
    "except-exception-loop": (
        "map",
        m("while True:\n    try:\n        1 / 0\n    except Exception:\n        continue"),
        1.0,
        {},
        None,
    ),
    "finally-continue-loop": (
        "map",
        m("while True:\n    try:\n        pass\n    finally:\n        continue"),
        1.0,
        {},
        None,
    ),
    "genexpr-sum-huge": ("map", m("return float(sum(i * i for i in range(10 ** 11)))"), 1.0, {}, None),
    "squaring-loop": ("map", m("x = 3\nfor i in range(64):\n    x = x * x\nreturn 1.0"), 1.0, {}, None),
    "sorted-huge": ("map", m("return float(len(sorted(range(10 ** 9, 0, -1))))"), 1.0, {}, None),
    # memory bombs
    "list-multiply": ("map", m("x = [0] * 10 ** 9\nreturn 1.0"), 1.0, {}, None),
    "string-multiply": ("map", m("x = 'x' * 10 ** 10\nreturn 1.0"), 1.0, {}, None),
    "list-range": ("map", m("x = list(range(10 ** 9))\nreturn 1.0"), 1.0, {}, None),
    "dict-comprehension": ("map", m("x = {i: i for i in range(10 ** 8)}\nreturn 1.0"), 1.0, {}, None),
    "string-doubling": ("map", m("s = 'ab'\nwhile True:\n    s = s + s"), 1.0, {}, None),
    "nested-lists": ("map", m("x = [[0] * 10 ** 4 for i in range(10 ** 5)]\nreturn 1.0"), 1.0, {}, None),
    "recursion": ("map", m("def f(n):\n    return f(n + 1)\nreturn float(f(0))"), 1.0, {}, None),
    # run-time failures that must come back as bounded OperatorFailed
    "huge-exception-message": ("map", m("raise ValueError('x' * 10 ** 6)"), 1.0, {}, None),
    "assert-huge-message": ("map", m("assert False, 'y' * 10 ** 6"), 1.0, {}, None),
    "zero-division": ("map", m("return value / 0"), 1.0, {}, None),
    "missing-param": ("map", m("return value * params['rate']"), 1.0, {}, None),
    "import-unknown-name-at-load-is-rejected-lazily": ("map", m("return float(unknown_name)"), 1.0, {}, None),
    "str-int-digits-limit": ("map", m("return float(len(str(10 ** 100000)))"), 1.0, {}, None),
    # non-finite, huge or mistyped outputs
    "map-infinity": ("map", m("return float('inf')"), 1.0, {}, None),
    "map-nan": ("map", m("return float('nan')"), 1.0, {}, None),
    "map-int-too-big-for-float": ("map", m("return 10 ** 400"), 1.0, {}, None),
    "map-string": ("map", m("return '12.5'"), 1.0, {}, None),
    "map-bool": ("map", m("return True"), 1.0, {}, None),
    "map-none": ("map", m("return None"), 1.0, {}, None),
    "map-list": ("map", m("return [value]"), 1.0, {}, None),
    "map-complex": ("map", m("return complex(1, 2)").replace("complex(1, 2)", "1j"), 1.0, {}, None),
    "filter-string-true": ("filter", m("return 'true'"), 1.0, {}, None),
    "filter-int": ("filter", m("return 1"), 1.0, {}, None),
    "filter-none": ("filter", m("return None"), 1.0, {}, None),
    "acc-not-pair": ("accumulate", a("return value"), 1.0, {}, {}),
    "acc-triple": ("accumulate", a("return acc, value, value"), 1.0, {}, {}),
    "acc-list-not-dict": ("accumulate", a("return [value], value"), 1.0, {}, {}),
    "acc-nan": ("accumulate", a("acc['x'] = float('nan')\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-infinity": ("accumulate", a("acc['x'] = float('-inf')\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-huge-string": ("accumulate", a("acc['x'] = 'x' * 10 ** 6\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-huge-list": ("accumulate", a("acc['x'] = [0.0] * 10 ** 6\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-shared-reference-explosion": (
        "accumulate",
        a("x = [1.0] * 100\nfor i in range(6):\n    x = [x] * 100\nacc['x'] = x\nreturn acc, 1.0"),
        1.0,
        {},
        {},
    ),
    "acc-self-cycle": ("accumulate", a("acc['me'] = acc\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-deep-nesting": (
        "accumulate",
        a("x = []\nfor i in range(1000):\n    x = [x]\nacc['x'] = x\nreturn acc, 1.0"),
        1.0,
        {},
        {},
    ),
    "acc-int-key": ("accumulate", a("acc[1] = 2\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-tuple-key": ("accumulate", a("acc[(1, 2)] = 2\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-function-value": ("accumulate", a("acc['f'] = lambda: 0\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-set-value": ("accumulate", a("acc['s'] = {1, 2}\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-namespace-value": (
        "accumulate",
        "import math\n" + a("acc['m'] = math\nreturn acc, 1.0"),
        1.0,
        {},
        {},
    ),
    "acc-big-int": ("accumulate", a("acc['n'] = 2 ** 80\nreturn acc, 1.0"), 1.0, {}, {}),
    "acc-result-explosion": ("accumulate", a("x = [1.0] * 1000\nreturn acc, [x] * 1000"), 1.0, {}, {}),
    "acc-result-nan": ("accumulate", a("return acc, float('nan')"), 1.0, {}, {}),
    # the host's secrets and files stay out of reach even with the names the sandbox does provide
    "function-attribute-state": ("map", m("func.calls = 1\nreturn 1.0"), 1.0, {}, None),
    "print-to-file-kw": ("map", m("print('x', file=params)\nreturn 1.0"), 1.0, {}, None),
    "math-namespace-write": ("map", "import math\n" + m("math.pi = 3\nreturn 1.0"), 1.0, {}, None),
    "statistics-error-attr": (
        "map",
        "import statistics\n" + m("return float(len(statistics.StatisticsError.args))"),
        1.0,
        {},
        None,
    ),
    "typing-cast-unavailable": ("map", "from typing import cast\n" + m("return 1.0"), 1.0, {}, None),
}

BUDGET = "budget"
MEMORY = "MemoryError|budget"
# Why each contained case must fail: the failure must be the containment, not some accident.
EXPECT: dict[str, str] = {
    **dict.fromkeys(
        ["sum-range-huge", "power-tower", "math-factorial", "pow-builtin", "math-comb", "while-true"], BUDGET
    ),
    **dict.fromkeys(
        ["bare-except-loop", "except-exception-loop", "finally-continue-loop", "genexpr-sum-huge"], BUDGET
    ),
    "squaring-loop": MEMORY,
    **dict.fromkeys(
        ["sorted-huge", "list-multiply", "string-multiply", "list-range", "dict-comprehension"], MEMORY
    ),
    **dict.fromkeys(["string-doubling", "nested-lists"], MEMORY),
    "recursion": "RecursionError",
    "huge-exception-message": "ValueError: x+",
    "assert-huge-message": "AssertionError: y+",
    "zero-division": "ZeroDivisionError",
    "missing-param": "KeyError: 'rate'",
    "import-unknown-name-at-load-is-rejected-lazily": "NameError",
    "str-int-digits-limit": "ValueError: Exceeds the limit",
    **dict.fromkeys(["map-infinity", "map-nan"], "must be finite"),
    "map-int-too-big-for-float": "too large for a float",
    **dict.fromkeys(["map-string", "map-bool", "map-none", "map-list", "map-complex"], "must be a number"),
    **dict.fromkeys(["filter-string-true", "filter-int", "filter-none"], "must return True or False"),
    **dict.fromkeys(["acc-not-pair", "acc-triple"], "must return a pair"),
    "acc-list-not-dict": "must be a dict",
    **dict.fromkeys(["acc-nan", "acc-infinity", "acc-result-nan"], "non-finite number"),
    "acc-huge-string": "characters of text",
    **dict.fromkeys(
        ["acc-huge-list", "acc-shared-reference-explosion", "acc-result-explosion"], "more than 10000 values"
    ),
    **dict.fromkeys(["acc-self-cycle", "acc-deep-nesting"], "nested deeper than"),
    **dict.fromkeys(["acc-int-key", "acc-tuple-key"], "non-string key"),
    **dict.fromkeys(["acc-function-value", "acc-set-value", "acc-namespace-value"], "not JSON data"),
    "acc-big-int": "beyond 64 bits",
    "print-to-file-kw": "AttributeError",
    "function-attribute-state": "TypeError: attribute-less object",
    "math-namespace-write": "TypeError: attribute-less object",
    "statistics-error-attr": "TypeError",
}

# Loading fails for these (import of a name the sandbox does not provide): also contained, not an escape.
LOAD_REJECTED = {"typing-cast-unavailable"}


@pytest.fixture
def host_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plant a secret in the host's environment and make sure no case creates the canary or changes env."""
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    CANARY.unlink(missing_ok=True)
    before = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    cwd = os.getcwd()
    yield
    assert not CANARY.exists()
    assert {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} == before
    assert os.getcwd() == cwd


@pytest.mark.parametrize("case", list(CONTAINED))
def test_contained_at_run_time(host_guard: None, case: str) -> None:
    kind, source, value, params, acc = CONTAINED[case]
    check_operator_source(kind, source)  # passes the static check: containment is what is under test
    if case in LOAD_REJECTED:
        with pytest.raises(OperatorRejected) as rejected:
            compile_operator(kind, source, limits=TIGHT)
        assert rejected.value.rule == "load"
        return
    op = compile_operator(kind, source, limits=TIGHT)
    try:
        with pytest.raises(OperatorFailed) as info:
            if kind == "accumulate":
                op(acc, value, params)  # type: ignore[call-arg, arg-type]
            else:
                op(value, params)  # type: ignore[call-arg, arg-type]
        err = info.value
        assert re.search(EXPECT[case], str(err)), str(err)
        assert isinstance(err, StreamError)
        assert len(str(err)) < 700
        assert SECRET_VALUE not in str(err)
    finally:
        op.close()


def test_worker_survives_a_failed_update_and_keeps_serving(host_guard: None) -> None:
    with compile_operator("map", m("return 1.0 / value"), limits=TIGHT) as op:
        with pytest.raises(OperatorFailed):
            op(0.0)
        assert op(4.0) == 0.25
        assert op.restarts == 0


def test_a_killed_worker_is_replaced_on_the_next_call(host_guard: None) -> None:
    source = m("if value > 100:\n    while True:\n        pass\nreturn value * 2")
    with compile_operator("map", source, limits=TIGHT) as op:
        with pytest.raises(OperatorFailed, match="budget"):
            op(101.0)
        assert op(3.0) == 6.0
        assert op.restarts == 1


def test_batch_failure_names_the_failing_update(host_guard: None) -> None:
    with compile_operator("map", m("return 10.0 / value"), limits=TIGHT) as op:
        with pytest.raises(OperatorFailed) as info:
            op.run_batch([1.0, 2.0, 0.0, 4.0])
        assert info.value.index == 2


def test_params_are_fresh_for_every_call(host_guard: None) -> None:
    source = m("seen = params.get('seen', 0)\nparams['seen'] = seen + 1\nreturn float(seen)")
    params = {"seen": 0}
    with compile_operator("map", source, limits=TIGHT) as op:
        assert op.run_batch([1.0, 2.0, 3.0], params) == [0.0, 0.0, 0.0]
    assert params == {"seen": 0}


def test_accumulator_is_a_fresh_copy_each_update(host_guard: None) -> None:
    # Keeping a reference to params inside acc and mutating it later changes nothing the host sees.
    source = a("acc['p'] = params\nparams['x'] = 99\nreturn acc, acc['p']['x']")
    host_acc: dict[str, Any] = {}
    with compile_operator("accumulate", source, limits=TIGHT) as op:
        new_acc, results = op.run_batch([1.0, 2.0], {"x": 1}, host_acc)
    assert host_acc == {}
    assert new_acc == {"p": {"x": 99}}
    assert results == [99, 99]


def test_math_namespace_cannot_be_mutated_for_later_calls(host_guard: None) -> None:
    source = "import math\n" + m("try:\n    math.pi = 3\nexcept Exception:\n    pass\nreturn math.pi")
    with compile_operator("map", source, limits=TIGHT) as op:
        assert op.run_batch([1.0, 2.0]) == [3.141592653589793, 3.141592653589793]


def test_worker_environment_carries_no_host_secrets(host_guard: None) -> None:
    import streamer.swim.sandbox as sandbox

    env = sandbox.host._clean_env()
    assert SECRET_NAME not in env
    assert "OPENAI_API_KEY" not in env
    assert all(not k.startswith("PYTHON") for k in env)


def test_errors_are_exceptions_never_base_exceptions(host_guard: None) -> None:
    with compile_operator(
        "map", m("while True:\n    try:\n        pass\n    except:\n        pass"), limits=TIGHT
    ) as op:
        with pytest.raises(Exception) as info:  # an Exception: a host `except Exception` loop sees it
            op(1.0)
        assert type(info.value) is OperatorFailed


def test_the_case_lists_are_large_enough() -> None:
    assert len(REJECTED) + len(CONTAINED) >= 100
    assert set(EXPECT) | LOAD_REJECTED == set(CONTAINED)


def test_python_folds_lookalike_identifiers_which_is_why_they_are_refused() -> None:
    import ast

    call = ast.parse(fw("eval") + "('1')").body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    assert isinstance(call.value.func, ast.Name) and call.value.func.id == "eval"


def test_close_ends_the_worker_process() -> None:
    op = compile_operator("map", m("return value"), limits=TIGHT)
    worker = op._box[0]
    assert worker is not None and worker.alive()
    op.close()
    assert worker.proc.returncode is not None


def test_a_wall_clock_kill_leaves_no_process_behind(host_guard: None) -> None:
    op = compile_operator("map", m("while True:\n    pass"), limits=TIGHT)
    worker = op._box[0]
    assert worker is not None
    with pytest.raises(OperatorFailed, match="wall-clock"):
        op(1.0)
    assert worker.proc.returncode is not None  # killed and reaped, not a zombie
    with pytest.raises(ProcessLookupError):
        os.kill(worker.proc.pid, 0)
    op.close()
