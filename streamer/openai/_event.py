"""The base of every typed event of every OpenAI stream kind, and the event a version does not know."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from attrs import define, field

from .. import sse
from ._lazy import Lazy

__all__ = ["StreamEvent", "UnknownEvent"]


@define(frozen=True, slots=True)
class StreamEvent(Lazy):
    """Base of every typed event: the raw SSE event behind it and its position in the stream.

    Read-only: assigning a field raises ``attrs.exceptions.FrozenInstanceError``. A hot path may
    build ``data`` on first read (see ``streamer.openai._lazy``); that is invisible to users.
    """

    #: The SSE event name this class stands for.
    event: ClassVar[str] = ""
    raw: sse.Event = field(kw_only=True, repr=False, eq=False)
    index: int = field(kw_only=True, repr=False, eq=False)

    @property
    def name(self) -> str:
        """The SSE event name as received."""
        return self.raw.event


@define(frozen=True, slots=True)
class UnknownEvent(StreamEvent):
    """An event name this version does not know (see ``name``): kept with its raw data, never dropped."""

    data: str

    def json(self) -> Any:
        """Decode the data as JSON."""
        return json.loads(self.data)
