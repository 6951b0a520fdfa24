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

__all__ = ["ABSENT", "Attr", "ReconError", "Record", "Slot", "dumps", "loads", "parse", "to_python"]


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


@define(frozen=True, slots=True)
class Slot:
    """A ``key: value`` item of a record."""

    key: Any
    value: Any


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


_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r]+)
  | (?P<newline>\n)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:0x[0-9A-Fa-f]+|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_$\u00c0-\uffff][A-Za-z0-9_\-$\u00c0-\uffff]*)
  | (?P<data>%[A-Za-z0-9+/=]*)
  | (?P<punct>[@{}():,;\[\]])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "@": "@", "{": "{", "}": "}", "[": "[", "]": "]",
            "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}  # fmt: skip
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "u" and len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, body) if "\\" in body else body


class _Parser:
    __slots__ = ("kinds", "pos", "text", "values")

    def __init__(self, text: str) -> None:
        self.text = text
        kinds: list[str] = []
        values: list[str] = []
        positions = 0
        for match in _TOKEN.finditer(text):
            if match.start() != positions:
                raise ReconError("unexpected character", text, positions)
            positions = match.end()
            kind = match.lastgroup or ""
            if kind != "space":
                kinds.append(kind)
                values.append(match.group())
        if positions != len(text):
            raise ReconError("unexpected character", text, positions)
        self.kinds = kinds
        self.values = values
        self.pos = 0

    def peek(self) -> str:
        return self.kinds[self.pos] if self.pos < len(self.kinds) else "end"

    def peek_value(self) -> str:
        return self.values[self.pos] if self.pos < len(self.values) else ""

    def error(self, message: str) -> ReconError:
        offset = sum(len(v) for v in self.values[: self.pos])
        return ReconError(message, self.text, min(offset, len(self.text)))

    def skip_newlines(self) -> None:
        while self.peek() == "newline":
            self.pos += 1

    def block(self, closer: str | None) -> Record:
        """Items up to ``closer`` (or the end), separated by commas, semicolons or newlines."""
        items = Record()
        while True:
            self.skip_newlines()
            kind, value = self.peek(), self.peek_value()
            if kind == "end" or (kind == "punct" and value == closer):
                return items
            self.item(items)
            kind, value = self.peek(), self.peek_value()
            if kind == "newline" or (kind == "punct" and value in ",;"):
                self.pos += 1
                continue
            if kind == "end" or (kind == "punct" and value == closer):
                return items
            raise self.error(f"expected ',' or {closer or 'the end'}")

    def item(self, items: Record) -> None:
        if self.peek() == "punct" and self.peek_value() == "@":
            self.attrs_then_value(items)
            return
        key = self.value()
        if self.peek() == "punct" and self.peek_value() == ":":
            self.pos += 1
            kind, value = self.peek(), self.peek_value()
            if kind in ("newline", "end") or (kind == "punct" and value in ",;})"):
                items.append(Slot(key, ABSENT))  # `key:` with no value is extant
            else:
                items.append(Slot(key, self.value()))
        else:
            items.append(key)

    def attrs_then_value(self, items: Record) -> None:
        """``@a(x)@b {...}``: the attributes, then the record they decorate, as one record's items."""
        while self.peek() == "punct" and self.peek_value() == "@":
            self.pos += 1
            if self.peek() not in ("ident", "string"):
                raise self.error("expected an attribute name after '@'")
            name = self.text_token()
            args: Any = ABSENT
            if self.peek() == "punct" and self.peek_value() == "(":
                self.pos += 1
                record = self.block(")")
                self.pos += 1
                args = _unwrap(record)
            items.append(Attr(name, args))
        kind, value = self.peek(), self.peek_value()
        if kind == "punct" and value == "{":
            self.pos += 1
            items.extend(self.block("}"))
            self.expect("}")
        elif kind not in ("end", "newline") and not (kind == "punct" and value in ",;})"):
            items.append(self.value())

    def expect(self, closer: str) -> None:
        if self.peek() != "punct" or self.peek_value() != closer:
            raise self.error(f"expected {closer!r}")
        self.pos += 1

    def text_token(self) -> str:
        """An identifier or a quoted string, as text."""
        kind, value = self.peek(), self.peek_value()
        self.pos += 1
        return _unescape(value[1:-1]) if kind == "string" else value

    def value(self) -> Any:
        kind, value = self.peek(), self.peek_value()
        if kind == "punct" and value == "{":
            self.pos += 1
            record = self.block("}")
            self.expect("}")
            return record
        if kind == "punct" and value == "@":
            record = Record()
            self.attrs_then_value(record)
            return record
        self.pos += 1
        if kind == "string":
            return _unescape(value[1:-1])
        if kind == "number":
            if "x" in value:
                return int(value, 16)
            if "." in value or "e" in value or "E" in value:
                return float(value)
            return int(value)
        if kind == "ident":
            return True if value == "true" else False if value == "false" else value
        if kind == "data":
            try:
                return base64.b64decode(value[1:], validate=True)
            except ValueError:
                self.pos -= 1
                raise self.error("invalid base64 data") from None
        self.pos -= 1
        raise self.error("expected a value")


def _unwrap(record: Record) -> Any:
    """A block of one plain value is that value; an empty block is absent."""
    if not record:
        return ABSENT
    if len(record) == 1 and not isinstance(record[0], (Slot, Attr)):
        return record[0]
    return record


def parse(text: str) -> Any:
    """Read a Recon document (a block: items without surrounding braces)."""
    parser = _Parser(text)
    record = parser.block(None)
    if parser.peek() != "end":
        raise parser.error("unexpected closing bracket")
    return _unwrap(record)


def to_python(value: Any) -> Any:
    """Plain data: records become dicts (slots) or lists (values), absent becomes None.

    An attribute becomes a ``"@name"`` key; a record mixing slots and plain values keeps the values
    under their position as an integer key.
    """
    if isinstance(value, Record):
        if not value:
            return {}
        if not any(isinstance(item, (Slot, Attr)) for item in value):
            return [to_python(item) for item in value]
        out: dict[Any, Any] = {}
        for position, item in enumerate(value):
            if isinstance(item, Slot):
                out[item.key if isinstance(item.key, (str, int, float, bool)) else repr(item.key)] = (
                    to_python(item.value)
                )
            elif isinstance(item, Attr):
                out["@" + item.name] = to_python(item.value)
            else:
                out[position] = to_python(item)
        return out
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
