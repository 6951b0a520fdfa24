"""What every OpenAI stream kind folds the same way: JSON deltas, tool calls, text blocks, indexes.

Everything here is pure. A wrong shape raises :class:`ShapeError` with the field's path; the
typed-stream core turns it into a ``DecodeError`` naming the event and its index.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Hashable, Mapping
from typing import Any, Generic, TypeVar

from attrs import define, field

from ..errors import StreamAPIError
from ._build import ShapeError

__all__ = [
    "MAX_INDEX_GAP",
    "ToolCallPieces",
    "ToolCalls",
    "aclose_quietly",
    "api_error",
    "check_index",
    "close_quietly",
    "is_text_block",
    "merge_delta",
]

K = TypeVar("K", bound=Hashable)

#: How far past the entries seen so far an index may point. The API sends indexes in order; a
#: larger jump would make us allocate the gap (an index of 5,000,000 in a 500-byte event), so it
#: is a wrong shape instead.
MAX_INDEX_GAP = 64

# Keys that identify rather than accumulate: a later delta replaces them, never extends them.
_IDENTITY_KEYS = frozenset({"index", "type", "id", "object", "file_id", "url", "detail", "role", "name"})


def check_index(index: Any, size: int, path: str) -> int:
    """``index`` if it is an int from 0 to ``size + MAX_INDEX_GAP``; :class:`ShapeError` otherwise."""
    if type(index) is not int:
        raise ShapeError(path, f"expected an integer index, got {type(index).__name__}")
    if index < 0 or index > size + MAX_INDEX_GAP:
        raise ShapeError(
            path,
            f"index {index} is out of bounds (0 to {size + MAX_INDEX_GAP}: {size} entries so far "
            f"plus a gap of at most {MAX_INDEX_GAP})",
        )
    return index


def is_text_block(block: Any) -> bool:
    """True for a snapshot content block of type ``text`` whose ``text`` is an object."""
    return isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), dict)


def merge_delta(snapshot: dict[str, Any], delta: dict[str, Any], path: str = "delta") -> None:
    """Fold a JSON delta into a JSON snapshot in place, the way the API streams pieces.

    Strings are appended (text, arguments, code input, logs), objects merged, lists of objects
    merged by each entry's ``index`` (the position in the snapshot's list, bounded by
    :func:`check_index`, and dropped from the snapshot), other lists extended, and everything
    else replaced.
    """
    for key, value in delta.items():
        current = snapshot.get(key)
        where = f"{path}.{key}"
        if key in _IDENTITY_KEYS:
            snapshot[key] = copy.deepcopy(value)
        elif isinstance(value, dict):
            if isinstance(current, dict):
                merge_delta(current, value, where)
            else:
                snapshot[key] = _fresh(value, where)
        elif isinstance(value, list):
            if isinstance(current, list):
                _merge_list(current, value, where)
            else:
                fresh: list[Any] = []
                _merge_list(fresh, value, where)
                snapshot[key] = fresh
        elif isinstance(current, str) and isinstance(value, str):
            snapshot[key] = current + value
        else:
            snapshot[key] = value


def _fresh(value: dict[str, Any], path: str) -> dict[str, Any]:
    """A new snapshot object from a delta object, without its ``index``."""
    fresh: dict[str, Any] = {}
    merge_delta(fresh, {k: v for k, v in value.items() if k != "index"}, path)
    return fresh


def _merge_list(current: list[Any], delta: list[Any], path: str) -> None:
    for n, entry in enumerate(delta):
        if isinstance(entry, dict) and "index" in entry:
            where = f"{path}[{n}]"
            position = check_index(entry["index"], len(current), f"{where}.index")
            if position < len(current) and isinstance(current[position], dict):
                merge_delta(current[position], {k: v for k, v in entry.items() if k != "index"}, where)
                continue
            while len(current) < position:
                current.append({})  # a gap the server skipped stays visible, never misplaced
            fresh = _fresh(entry, where)
            if position < len(current):
                current[position] = fresh
            else:
                current.append(fresh)
        else:
            current.append(copy.deepcopy(entry))


@define(slots=True)
class ToolCallPieces:
    """One tool call as its pieces arrive: identity fields, and the argument pieces."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = field(factory=list)

    def text(self) -> str:
        """The arguments so far, joined."""
        return "".join(self.arguments)


@define(slots=True)
class ToolCalls(Generic[K]):
    """The one tool-call accumulator: calls keyed by their index (chat) or item id (responses)."""

    calls: dict[K, ToolCallPieces] = field(factory=dict)

    def slot(self, key: K) -> ToolCallPieces:
        """The call for ``key``, created on first sight."""
        call = self.calls.get(key)
        if call is None:
            call = self.calls[key] = ToolCallPieces()
        return call

    def add(
        self,
        key: K,
        *,
        id: str | None = None,
        type: str | None = None,
        name: str | None = None,
        arguments: str | None = None,
        complete: bool = False,
    ) -> None:
        """Fold a piece in: identity fields replace, arguments append (or replace when ``complete``)."""
        call = self.slot(key)
        call.id = id or call.id
        call.type = type or call.type
        call.name = name or call.name
        if arguments is not None:
            if complete:
                call.arguments = [arguments]
            elif arguments:
                call.arguments.append(arguments)


def close_quietly(source: object) -> None:
    """Call ``source.close()`` if it has one."""
    close = getattr(source, "close", None)
    if close is not None:
        close()


async def aclose_quietly(source: object) -> None:
    """Await ``source.aclose()`` if it has one, else call (and await) its ``close()``."""
    close = getattr(source, "aclose", None) or getattr(source, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result


def api_error(fields: Mapping[str, Any], index: int) -> StreamAPIError:
    """The error an in-band error object ends a stream with, flat or nested under ``error``.

    Real servers send both ``{"code": ..., "message": ...}`` and
    ``{"type": "error", "error": {"type": ..., "code": ..., "message": ...}}``; a field missing at
    the top is read from the nested object. The code falls back to the error's ``type`` (other
    than the event's own ``error``).
    """
    nested = fields.get("error")
    inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}

    def pick(name: str) -> str | None:
        for source in (fields, inner):
            value = source.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    kinds = [inner.get("type"), fields.get("type")]
    kind = next((k for k in kinds if isinstance(k, str) and k and k != "error"), None)
    return StreamAPIError(pick("code") or kind, pick("message"), index=index)
