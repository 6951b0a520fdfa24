"""Minimal valid payloads for any of the official SDK's pydantic models (required fields filled)."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import pydantic


def fill(tp: Any, depth: int = 0) -> Any:
    """A JSON value that validates as ``tp``, with every required field present."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return fill(args[0], depth)
    if origin is Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return fill(members[0], depth) if members else None
    if origin in (list, typing.List, typing.Sequence):  # noqa: UP006
        return [fill(args[0], depth + 1)] if args and depth < 3 else []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        out = {}
        for name, info in tp.model_fields.items():
            if info.is_required():
                out[info.alias or name] = fill(info.annotation, depth + 1)
        return out
    if tp is str:
        return "text"
    if tp is bool:
        return True
    if tp is int:
        return 3
    if tp is float:
        return 0.5
    if tp is object or tp is Any:
        return {}
    return None
