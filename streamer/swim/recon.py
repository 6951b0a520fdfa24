"""Recon, the data language of SwimOS WARP messages: a complete reader and writer.

Reading gives a tree of :class:`Record` (an ordered list of items: values, :class:`Slot` key/value
pairs and :class:`Attr` attributes), ``str``, ``int``, ``float``, ``bool``, ``bytes`` (``%base64``)
and :data:`ABSENT`. :func:`to_python` turns a value into plain data (dicts, lists, numbers, None);
:func:`dumps` writes plain data back. Unlike the ``swimos`` client's reader, numbers with an
exponent, nested records, arrays and escaped strings all come through intact.
"""

from __future__ import annotations

import base64
import decimal
import math
import re
from typing import Any

from attrs import define

from ..errors import ReconError

__all__ = [
    "ABSENT",
    "MAX_DEPTH",
    "Attr",
    "ReconError",
    "Record",
    "Slot",
    "dumps",
    "loads",
    "parse",
    "to_python",
]


class _Absent:
    """The absent value: an empty body, a missing slot value."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT = _Absent()


@define(frozen=True, slots=True, init=False)
class Slot:
    """A ``key: value`` item of a record."""

    key: Any
    value: Any

    def __init__(self, key: Any, value: Any) -> None:
        # attrs' frozen __init__ goes through object.__setattr__; the slots' own setters cost 25% less.
        _set_key(self, key)
        _set_value(self, value)


_set_key = Slot.__dict__["key"].__set__
_set_value = Slot.__dict__["value"].__set__


@define(frozen=True, slots=True)
class Attr:
    """An ``@name(args)`` attribute; ``value`` is the arguments (ABSENT for a bare ``@name``)."""

    name: str
    value: Any = ABSENT


class Record(list[Any]):
    """An ordered list of items: values, :class:`Slot` and :class:`Attr`."""

    def attrs(self) -> list[Attr]:
        """The record's attributes, in order."""
        return [item for item in self if isinstance(item, Attr)]

    def get(self, key: Any, default: Any = ABSENT) -> Any:
        """The value of the first slot or attribute named ``key``."""
        for item in self:
            if isinstance(item, Slot) and item.key == key:
                return item.value
            if isinstance(item, Attr) and item.name == key:
                return item.value
        return default

    def __repr__(self) -> str:
        return f"Record({list.__repr__(self)})"


#: The deepest nesting of records and attribute arguments the reader accepts; deeper is a ReconError.
MAX_DEPTH = 256

_LEX = re.compile(
    r"""
    [ \t\r]*
    (?:
      (?P<newline>\n)
    | (?P<number>-?(?:0x[0-9A-Fa-f]+|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?))
    | (?P<ident>[A-Za-z_$\u00c0-\uffff][A-Za-z0-9_\-$\u00c0-\uffff]*)
    | (?P<data>%[A-Za-z0-9+/=]*)
    | (?P<punct>[@{}():,;\[\]])
    | (?P<string>")
    | (?P<end>\Z)
    )
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "@": "@", "{": "{", "}": "}", "[": "[", "]": "]",
            "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}  # fmt: skip
_SPACE = re.compile(r"[ \t\r]*")
_SEPARATORS = frozenset(",;")
_VALUE_ENDS = frozenset(",;})")


_ESCAPE_SPLIT = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_CHUNK = 1 << 16


def _unescape(body: str) -> str:
    """Resolve backslash escapes, a chunk at a time (cut between escapes) so memory stays linear."""
    if "\\" not in body:
        return body
    pieces = []
    start, size = 0, len(body)
    while start < size:
        target = start + _CHUNK
        found = body.find("\\", target) if target < size else -1
        if found < 0:
            cut = size
        else:  # cut where an escape starts: an even offset into the run of backslashes
            run = found
            while run > start and body[run - 1] == "\\":
                run -= 1
            cut = run + 2 * ((max(0, target - run) + 1) // 2)
        pieces.append(_unescape_chunk(body[start:cut]))
        start = cut
    return pieces[0] if len(pieces) == 1 else "".join(pieces)


# The commonest first: the loop below stops once every backslash of a piece is accounted for.
_SIMPLE_ESCAPES = [("\\" + code, _ESCAPES[code]) for code in '"ntr/@{}[]bf' if code in _ESCAPES]


def _unescape_chunk(chunk: str) -> str:
    """Escapes in one chunk. Escaped backslashes first (``split``, left to right as the reader
    pairs them), then each one-character escape with ``str.replace``: no replacement contains a
    backslash, so none can form a new escape. ``\\uXXXX`` and unknown escapes take the slow path."""
    if "\\" not in chunk:
        return chunk
    parts = chunk.split("\\\\")
    for index, part in enumerate(parts):
        left = part.count("\\")
        if left:
            for escape, char in _SIMPLE_ESCAPES:
                found = part.count(escape)
                if found:
                    part = part.replace(escape, char)
                    left -= found
                    if not left:
                        break
            parts[index] = _unescape_rest(part) if left else part
    return "\\".join(parts)


def _unescape_rest(chunk: str) -> str:
    parts = _ESCAPE_SPLIT.split(chunk)
    parts[1::2] = [
        _ESCAPES[code] if code in _ESCAPES else chr(int(code[1:], 16)) if len(code) == 5 else code
        for code in parts[1::2]
    ]
    return "".join(parts)


class _Parser:
    """A recursive-descent reader with one token of lookahead, lexed in place.

    Tokens are matched where they start (``pattern.match(text, pos)``) and strings are found with
    ``str.find``, so reading costs time and memory linear in the text: a string value is one slice.
    """

    __slots__ = ("depth", "end", "kind", "start", "text", "value")

    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0
        self.kind = ""
        self.value = ""
        self.start = 0
        self.end = 0
        self.advance()

    def advance(self) -> None:
        """Lex the token that follows the current one."""
        text = self.text
        match = _LEX.match(text, self.end)
        if match is None:
            raise ReconError("unexpected character", text, _SPACE.match(text, self.end).end())  # type: ignore[union-attr]
        kind = match.lastgroup or "end"
        start = match.start(kind)
        if kind == "string":
            close = self._string_end(start)
            self.kind, self.value, self.start, self.end = kind, text[start + 1 : close], start, close + 1
        else:
            self.kind, self.value, self.start, self.end = kind, match.group(kind), start, match.end()

    def _string_end(self, start: int) -> int:
        """The offset of the quote that closes the string opened at ``start``."""
        match = _STRING_REST.match(self.text, start + 1)
        if match is None:
            raise ReconError("unterminated string", self.text, start)
        return match.end() - 1

    def error(self, message: str) -> ReconError:
        return ReconError(message, self.text, self.start)

    def is_punct(self, chars: str) -> bool:
        return self.kind == "punct" and self.value in chars

    def skip_newlines(self) -> None:
        while self.kind == "newline":
            self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")

    def block(self, closer: str | None) -> Record:
        """Items up to ``closer`` (or the end), separated by commas, semicolons or newlines."""
        items = Record()
        while True:
            self.skip_newlines()
            kind = self.kind
            if kind == "end" or (kind == "punct" and self.value == closer):
                return items
            self.item(items)
            kind, value = self.kind, self.value
            if kind == "newline" or (kind == "punct" and value in _SEPARATORS):
                self.advance()
                continue
            if kind == "end" or (kind == "punct" and value == closer):
                return items
            raise self.error(f"expected ',' or {closer or 'the end'}")

    def item(self, items: Record) -> None:
        if self.kind == "punct" and self.value == "@":
            self.attrs_then_value(items)
            return
        key = self.read_value()
        if self.kind == "punct" and self.value == ":":
            self.advance()
            kind = self.kind
            if kind in ("newline", "end") or (kind == "punct" and self.value in _VALUE_ENDS):
                items.append(Slot(key, ABSENT))  # `key:` with no value is extant
            else:
                items.append(Slot(key, self.read_value()))
        else:
            items.append(key)

    def attrs_then_value(self, items: Record) -> None:
        """``@a(x)@b {...}``: the attributes, then the record they decorate, as one record's items."""
        while self.kind == "punct" and self.value == "@":
            self.advance()
            if self.kind not in ("ident", "string"):
                raise self.error("expected an attribute name after '@'")
            name = self.text_token()
            args: Any = ABSENT
            if self.kind == "punct" and self.value == "(":
                self.enter()
                self.advance()
                record = self.block(")")
                self.expect(")")
                self.depth -= 1
                args = _unwrap(record)
            items.append(Attr(name, args))
        kind = self.kind
        if kind == "punct" and self.value == "{":
            self.enter()
            self.advance()
            items.extend(self.block("}"))
            self.expect("}")
            self.depth -= 1
        elif kind not in ("end", "newline") and not (kind == "punct" and self.value in _VALUE_ENDS):
            items.append(self.read_value())

    def expect(self, closer: str) -> None:
        if self.kind != "punct" or self.value != closer:
            raise self.error(f"expected {closer!r}")
        self.advance()

    def text_token(self) -> str:
        """An identifier or a quoted string, as text."""
        kind, value = self.kind, self.value
        self.advance()
        return _unescape(value) if kind == "string" else value

    def read_value(self) -> Any:
        kind, value = self.kind, self.value
        if kind == "punct":
            if value == "{":
                self.enter()
                self.advance()
                record = self.block("}")
                self.expect("}")
                self.depth -= 1
                return record
            if value == "@":
                record = Record()
                self.enter()
                self.attrs_then_value(record)
                self.depth -= 1
                return record
            raise self.error("expected a value")
        if kind == "string":
            self.advance()
            return _unescape(value)
        if kind == "number":
            if "x" in value:
                number: int | float = int(value, 16)
            elif "." in value or "e" in value or "E" in value:
                number = float(value)
            else:
                try:
                    number = int(value)
                except ValueError:  # longer than sys.get_int_max_str_digits() allows
                    raise self.error(f"an integer of {len(value)} digits is too long to read") from None
            self.advance()
            return number
        if kind == "ident":
            self.advance()
            return True if value == "true" else False if value == "false" else value
        if kind == "data":
            try:
                data = base64.b64decode(value[1:], validate=True)
            except ValueError:
                raise self.error("invalid base64 data") from None
            self.advance()
            return data
        raise self.error("expected a value")


def _unwrap(record: Record) -> Any:
    """A block of one plain value is that value; an empty block is absent."""
    if not record:
        return ABSENT
    if len(record) == 1 and not isinstance(record[0], (Slot, Attr)):
        return record[0]
    return record


def parse(text: str) -> Any:
    """Read a Recon document (a block: items without surrounding braces).

    Nesting is bounded by :data:`MAX_DEPTH`; anything that is not Recon raises :class:`ReconError`.
    """
    try:
        parser = _Parser(text)
        record = parser.block(None)
        if parser.kind != "end":
            raise parser.error("unexpected closing bracket")
    except RecursionError:  # a caller already deep in its own stack; still a clear error
        raise ReconError(f"nesting too deep for this thread's stack (limit {MAX_DEPTH})", text, 0) from None
    return _unwrap(record)


#: Types :func:`to_python` returns unchanged (exact types: a subclass takes the general path).
_PLAIN_SCALARS = frozenset({str, int, float, bool, bytes})


def to_python(value: Any) -> Any:
    """Plain data: records become dicts (slots) or lists (values), absent becomes None.

    An attribute becomes a ``"@name"`` key; a record mixing slots and plain values keeps the values
    under their position as an integer key.
    """
    if isinstance(value, Record):
        if not value:
            return {}
        out: dict[Any, Any] = {}
        values_only = True  # then the record is a list (its values are keyed by position meanwhile)
        for position, item in enumerate(value):
            if type(item) is Slot or isinstance(item, Slot):  # the exact type first: the common case
                key, item_value = item.key, item.value
                if type(key) is not str and not isinstance(key, (str, int, float, bool)):
                    key = repr(key)
                # Scalars are already plain: skip the call for the commonest values.
                out[key] = item_value if type(item_value) in _PLAIN_SCALARS else to_python(item_value)
                values_only = False
            elif isinstance(item, Attr):
                out["@" + item.name] = to_python(item.value)
                values_only = False
            else:
                out[position] = to_python(item)
        return list(out.values()) if values_only else out
    if value is ABSENT:
        return None
    return value


def loads(text: str) -> Any:
    """:func:`parse` then :func:`to_python`."""
    return to_python(parse(text))


_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_\-$]*\Z")


def _text(value: str) -> str:
    if _IDENT.match(value) and value not in ("true", "false"):
        return value
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _number(value: float, java_doubles: bool) -> str:
    if not math.isfinite(value):
        raise ValueError(f"Recon has no representation for {value!r}")
    if java_doubles:
        return java_double(value)
    return repr(value)


def java_double(value: float) -> str:
    """A double written the way Java's ``Double.toString`` does (``4.7E7``, ``6.0`` -> ``6``).

    SwimOS servers write integral doubles without ``.0``, and use an exponent from 1e7 up or
    below 1e-3.
    """
    if value == int(value) and abs(value) < 1e7:
        return str(int(value))
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)
    # The shortest digits that read back as the same double, in Java's d.dddE[-]n layout.
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def dumps(value: Any, *, java_doubles: bool = False) -> str:
    """Write plain data as Recon (dicts as records of slots, lists as records of values)."""
    if value is None or value is ABSENT:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value, java_doubles)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes):
        return "%" + base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("@"):
                args = dumps(item, java_doubles=java_doubles)
                parts.append(f"@{key[1:]}({args})" if args else f"@{key[1:]}")
            else:
                parts.append(
                    f"{dumps(key, java_doubles=java_doubles)}:{dumps(item, java_doubles=java_doubles)}"
                )
        return "{" + ",".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(dumps(item, java_doubles=java_doubles) for item in value) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as Recon")
