"""Build attrs models from decoded JSON, driven by their type hints, keeping unknown fields."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from attrs import define, field, fields

from ._lazy import Lazy, maker

__all__ = ["Model", "ShapeError", "Where", "build", "spell"]

M = TypeVar("M", bound="Model")
#: Where a value sits: a spelled path (``"data.choices"``), or ``(parent, field name)`` /
#: ``(parent, list index)`` pieces, spelled out only when a :class:`ShapeError` needs them.
Where = str | tuple[Any, str | int]
Convert = Callable[[Any, Where], Any]
Kind = type | tuple[type, ...] | None

#: What a JSON scalar or container of each annotated type must be (``float`` takes ints too).
_KINDS: dict[Any, Kind] = {str: str, int: int, float: (int, float), bool: bool, dict: dict, list: list}
_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


class ShapeError(ValueError):
    """A JSON value does not have the shape its model expects (``path`` says where)."""

    def __init__(self, path: Where, message: str) -> None:
        self.path = spell(path)
        super().__init__(f"{self.path}: {message}")


def spell(where: Where) -> str:
    """The dotted path ``where`` stands for: ``(("data", "choices"), 0)`` is ``data.choices[0]``."""
    pieces: list[str] = []
    while type(where) is tuple:
        where, piece = where
        pieces.append(f"[{piece}]" if type(piece) is int else f".{piece}")
    pieces.append(str(where))
    return "".join(reversed(pieces))


#: The ``extra`` of a model that had no unknown fields: one shared, read-only empty mapping.
_NOTHING_EXTRA: Mapping[str, Any] = MappingProxyType({})


@define(frozen=True, slots=True)
class Model(Lazy):
    """Base of the wire models: typed fields, plus ``extra`` for the fields this version does not know.

    Read-only: assigning a field raises ``attrs.exceptions.FrozenInstanceError``.
    """

    #: For members of a union told apart by their ``type`` field: that field's value.
    KIND: ClassVar[str | None] = None

    extra: Mapping[str, Any] = field(default=_NOTHING_EXTRA, kw_only=True, repr=False)

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        """Build from a decoded JSON object; raises :class:`ShapeError` if the shape is wrong."""
        return build(cls, data, cls.__name__)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object this model was built from (fields that were absent come back as None)."""
        out = {
            a.name: _unbuild(getattr(self, a.name))
            for a in fields(type(self))
            if a.name != "extra" and a.metadata.get("wire", True)
        }
        out.update(self.extra)
        return out


def _unbuild(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_unbuild(item) for item in value]
    return value


@define(frozen=True, slots=True)
class _Plan:
    #: (field name, converter for nested models and lists, or the JSON type(s) a scalar must have).
    names: tuple[tuple[str, Convert | None, Kind], ...]
    known: frozenset[str]
    #: Builds the model from every wire field's value and ``extra``, skipping ``__init__`` (None
    #: when the model has fields that do not come from the JSON: those take ``cls(**kwargs)``).
    make: Callable[..., Any] | None


_PLANS: dict[type, _Plan] = {}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Model)


def _converter(hint: Any) -> Convert | None:
    """How to convert a JSON value for a field of type ``hint`` (None: keep it as it is)."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _converter(members[0])
        models = [m for m in members if _is_model(m)]
        if not models:
            return None
        by_kind = {m.KIND: m for m in models if m.KIND is not None}
        if len(by_kind) != len(models):
            raise TypeError(f"union {hint} needs a KIND on every model member")
        return _union(by_kind)
    if origin is list and args:
        item = _converter(args[0])
        if item is None:
            kind = _kind(args[0])
            if kind is None:
                return None
            return _list_of_kind(kind)
        return _list_of(item)
    if _is_model(hint):
        cls = hint

        def one(value: Any, path: Where) -> Any:
            return build(cls, value, path)

        return one
    return None


def _kind(hint: Any) -> Kind:
    """The JSON type(s) a field of type ``hint`` takes when it has no converter (None: anything)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        return _kind(members[0]) if len(members) == 1 else None
    return _KINDS.get(origin or hint)


def _describe(kind: type | tuple[type, ...]) -> str:
    return _NAMES.get(kind[-1] if isinstance(kind, tuple) else kind, "another type")


def _check(value: Any, kind: type | tuple[type, ...], path: Where) -> None:
    """Raise :class:`ShapeError` unless ``value`` is of ``kind`` (a bool is not a number here)."""
    if not isinstance(value, kind) or (type(value) is bool and kind is not bool):
        raise ShapeError(path, f"expected {_describe(kind)}, got {type(value).__name__}")


def _union(by_kind: dict[str | None, type[Model]]) -> Convert:
    def pick(value: Any, path: Where) -> Any:
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object, got {type(value).__name__}")
        kind = value.get("type")
        if kind is not None and type(kind) is not str:
            raise ShapeError((path, "type"), f"expected a string, got {type(kind).__name__}")
        cls = by_kind.get(kind)
        # A kind this version does not know stays a plain dict: kept, never dropped.
        return value if cls is None else build(cls, value, path)

    return pick


def _list_of_kind(kind: type | tuple[type, ...]) -> Convert:
    """A list whose items are JSON scalars or plain objects: checked, and kept as it is."""

    def checked(value: Any, path: Where) -> Any:
        if type(value) is not list:
            raise ShapeError(path, f"expected an array, got {type(value).__name__}")
        for i, item in enumerate(value):
            if type(item) is not kind:
                _check(item, kind, (path, i))
        return value

    return checked


def _list_of(item: Convert) -> Convert:
    def many(value: Any, path: Where) -> Any:
        if not isinstance(value, list):
            raise ShapeError(path, f"expected an array, got {type(value).__name__}")
        return [item(v, (path, i)) for i, v in enumerate(value)]

    return many


def _plan(cls: type[Model]) -> _Plan:
    hints = typing.get_type_hints(cls)
    # Fields marked ``metadata={"wire": False}`` are not read from JSON (the raw event, its index).
    names = tuple(
        (a.name, _converter(hints[a.name]), _kind(hints[a.name]))
        for a in fields(cls)
        if a.name != "extra" and a.metadata.get("wire", True)
    )
    wire = [name for name, _, _ in names]
    every = [a.name for a in fields(cls)]
    make = maker(cls, *wire, "extra") if sorted(every) == sorted([*wire, "extra"]) else None
    plan = _Plan(names, frozenset(wire), make)
    _PLANS[cls] = plan
    return plan


def build(cls: type[M], data: Any, path: Where, **fixed: Any) -> M:
    """Build ``cls`` from ``data``; absent fields are None, unknown ones go to ``extra``.

    ``fixed`` sets fields that do not come from the JSON. ``path`` is spelled only for an error.
    """
    if not isinstance(data, dict):
        raise ShapeError(path, f"expected an object, got {type(data).__name__}")
    plan = _PLANS.get(cls) or _plan(cls)
    values: list[Any] = []
    for name, convert, kind in plan.names:
        value = data.get(name)
        if value is not None:
            if convert is not None:
                value = convert(value, (path, name))
            elif kind is not None and type(value) is not kind:
                _check(value, kind, (path, name))
        values.append(value)
    extra: Mapping[str, Any] = (
        _NOTHING_EXTRA
        if data.keys() <= plan.known
        else {k: v for k, v in data.items() if k not in plan.known}
    )
    if plan.make is not None and not fixed:
        built: M = plan.make(*values, extra)
        return built
    kwargs = {name: value for (name, _, _), value in zip(plan.names, values, strict=True)}
    return cls(**kwargs, extra=extra, **fixed)
