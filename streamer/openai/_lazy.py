"""Lazy typed objects and the pieces a kind's hot path is made of (shared by every stream kind).

Every typed event (:class:`~streamer.openai._event.StreamEvent`) and wire model
(:class:`~streamer.openai._build.Model`) derives from :class:`Lazy`: besides its attrs fields it
has one hidden slot, ``_lazy``. An object may be built with some fields left unset and ``_lazy``
holding ``(fill, state)``; the first read of an unset field calls ``fill(obj, state)``, which sets
unset fields (with :func:`setter`), and the read then goes on as usual. A fill may set the cheap
fields only and leave another ``(fill, state)`` in ``_lazy`` for the rest (two stages: ``raw`` and
``index`` first, ``data`` on its first read). A fill must be idempotent: threads reading one object
at once may both run it. Equality, repr,
``attrs.fields``, ``attrs.asdict``, pickling and ``evolve`` all read fields by name, so they see a
lazy object exactly as an eager one. Objects stay read-only to users: the attrs classes are frozen
(assignment raises ``attrs.exceptions.FrozenInstanceError``); only the slot setters here, which
bypass ``__setattr__`` at C level, write them.

How a kind plugs a hot path in (see ``assistants/stream.py`` for the worked example):

1. Match the common shape of an event's JSON text with an anchored regex (``re.fullmatch``) built
   from :data:`STRING`, :data:`ESCAPED_STRING` and :data:`INDEX`; the regex must accept only text
   that is valid JSON of a shape the full decoder accepts, so that every captured value already
   has the right type. Unescape a string capture with :func:`json_string` (None: give up).
2. On a match, build the event with a :func:`maker` (no ``__init__``, no per-field ``__setattr__``),
   leaving ``data`` unset and ``_lazy = (fill, captures)``; ``fill`` builds the full model from the
   captures and cannot fail. Fold the captures into the snapshots directly.
3. On no match (or ``json_string`` giving up), run the full path: ``loads`` and the eager,
   checking builder, which raises a ``DecodeError`` naming the event, index and ``.path`` from
   ``next()``. Errors never wait for a lazy field: a hot path accepts only what it validated.

A differential test must show that the hot path and the full path give the same events, data,
text, snapshots and errors for every input (``tests/openai/test_fast_assistants.py`` shows how).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..errors import DecodeError

__all__ = ["ESCAPED_STRING", "INDEX", "STRING", "Lazy", "json_string", "lazy_state", "maker", "setter"]

#: A JSON string's body with no escapes and no control characters (capture it in a group).
STRING: Final = r'[^"\\\x00-\x1f]*'
#: A JSON string's body that may hold escapes (unescape it with :func:`json_string`).
ESCAPED_STRING: Final = r'[^"\\\x00-\x1f]*(?:\\[^\x00-\x1f][^"\\\x00-\x1f]*)*'
#: A non-negative JSON integer small enough to stay a machine-sized int.
INDEX: Final = r"0|[1-9][0-9]{0,17}"

Fill = Callable[[Any, Any], None]


class Lazy:
    """Base of typed objects whose fields may be built on first read (see the module docstring)."""

    __slots__ = ("_lazy",)

    if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any name

        def __getattr__(self, name: str) -> Any:
            # Only called when normal lookup failed: an unset slot, or a name that does not exist.
            try:
                pair = _lazy_get(self, Lazy)
            except AttributeError:
                # Built (by another thread since the lookup failed), or no such field at all.
                return object.__getattribute__(self, name)
            pair[0](self, pair[1])  # it may leave a further (fill, state) for the fields it left unset
            # Dropped only after the fill, and only if no fill re-armed it: a thread reading the same
            # object meanwhile fills it again (fills are idempotent) rather than finding it empty.
            try:
                if _lazy_get(self, Lazy) is pair:
                    _lazy_del(self)
            except AttributeError:
                pass  # another thread dropped it
            return getattr(self, name)


_lazy_slot: Any = Lazy.__dict__["_lazy"]
_lazy_get: Callable[[Any, type], tuple[Fill, Any]] = _lazy_slot.__get__
_lazy_del: Callable[[Any], None] = _lazy_slot.__delete__


def setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The C-level setter of slot ``name`` of ``cls`` (``setter(cls, n)(obj, v)``: no ``__setattr__``)."""
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__") and type(slot).__name__ == "member_descriptor":
            setting: Callable[[Any, Any], None] = slot.__set__
            return setting
    raise TypeError(f"{cls.__name__} has no slot {name!r}")


def maker(cls: type, *names: str, lazy: bool = False) -> Callable[..., Any]:
    """A constructor of ``cls`` that sets the slots ``names`` (in that order), skipping ``__init__``.

    With ``lazy=True`` it takes one more argument, the ``(fill, state)`` pair for ``_lazy``. Fields
    not in ``names`` stay unset: ``fill`` must set them. The object is as read-only as any other.
    """
    params = [f"v{i}" for i in range(len(names))] + (["lazy"] if lazy else [])
    env: dict[str, Any] = {"new": cls.__new__, "cls": cls}
    lines = [f"def make({', '.join(params)}):", "    obj = new(cls)"]
    for i, name in enumerate(names):
        env[f"set{i}"] = setter(cls, name)
        lines.append(f"    set{i}(obj, v{i})")
    if lazy:
        env["set_lazy"] = _lazy_slot.__set__
        lines.append("    set_lazy(obj, lazy)")
    lines.append("    return obj")
    # A fixed template: only argument positions are interpolated, never the slot names.
    exec("\n".join(lines), env)
    made: Callable[..., Any] = env["make"]
    made.__qualname__ = made.__name__ = f"make_{cls.__name__}"
    return made


def lazy_state(obj: Any) -> tuple[Fill, Any] | None:
    """``(fill, state)`` of an object whose fields are not built yet; None once built (or eager)."""
    try:
        return _lazy_get(obj, Lazy)
    except AttributeError:
        return None


#: The typed core, imported on first use: it imports the models, which import this module.
_CORE: list[Any] = []


def _load_core() -> Any:
    from . import _core

    _CORE.append(_core)
    return _core


def json_string(body: str) -> str | None:
    """The text of a JSON string body matched by :data:`ESCAPED_STRING`; None if it is not valid.

    Bodies without a backslash are their own text. Escapes are decoded by the same loader as whole
    events, so a hot path agrees with the full path on every escape (lone surrogates included).
    """
    if "\\" not in body:
        return body
    try:
        text = _CORE[0].loads("", 0, f'"{body}"') if _CORE else _load_core().loads("", 0, f'"{body}"')
    except (DecodeError, ValueError):
        return None
    return text if type(text) is str else None
