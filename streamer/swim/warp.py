"""WARP envelopes: the Recon messages SwimOS peers exchange over a WebSocket (sans-IO)."""

from __future__ import annotations

import re
from typing import Any

from attrs import define

from .recon import ABSENT, Attr, ReconError, Record, Slot, dumps, parse

__all__ = ["Envelope", "parse_envelope"]

#: Envelopes addressed to a lane or link (the rest, @auth and friends, address the host).
LINK_TAGS = frozenset({"link", "linked", "sync", "synced", "event", "command", "unlink", "unlinked"})


@define(frozen=True, slots=True)
class Envelope:
    """One WARP message: its tag (``event``, ``link``, ...), node and lane URIs, and a Recon body."""

    tag: str
    node: str = ""
    lane: str = ""
    body: Any = ABSENT
    prio: float | None = None
    rate: float | None = None

    def encode(self, *, java_doubles: bool = False, body_text: str | None = None) -> str:
        """The envelope as Recon text (``body_text`` passes a body already written as Recon)."""
        if self.tag not in LINK_TAGS:
            head = f"@{self.tag}"
        else:
            headers = [f"node:{_uri(self.node)}", f"lane:{_uri(self.lane)}"]
            if self.prio is not None:
                headers.append(f"prio:{self.prio}")
            if self.rate is not None:
                headers.append(f"rate:{self.rate}")
            head = f"@{self.tag}({','.join(headers)})"
        body = body_text if body_text is not None else dumps(self.body, java_doubles=java_doubles)
        return head + body


def _uri(value: str) -> str:
    return dumps(value)


_NAME = r'(?:"([^"\\]*)"|([A-Za-z_][A-Za-z0-9_-]*))'
_FLAT_EVENT = re.compile(r"@event\(node:" + _NAME + ",lane:" + _NAME + r"\)\{(.*)\}", re.DOTALL)
_FLAT_SLOT = re.compile(
    r'([A-Za-z_][A-Za-z0-9_-]*):(?:(-?\d+)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|"([^"\\]*)"|([A-Za-z_][A-Za-z0-9_-]*))(?:,|\Z)'
)
_WORDS = frozenset({"true", "false"})


def _flat_event(text: str) -> Envelope | None:
    """The common ``@event(node:..,lane:..){k:v,...}`` of scalars, read without the full reader.

    Returns None (the caller falls back to :func:`parse`) unless the slots tile the body exactly
    and hold only plain numbers, escape-free strings and identifiers other than true/false.
    """
    match = _FLAT_EVENT.fullmatch(text)
    if match is None:
        return None
    quoted_node, node, quoted_lane, lane = match.group(1, 2, 3, 4)
    if node in _WORDS or lane in _WORDS:
        return None
    items = Record()
    position, size = match.span(5)  # the body is read in place: no copy of it
    while position < size:  # each slot must start where the last one ended: no search, no skipping
        slot = _FLAT_SLOT.match(text, position, size)
        if slot is None:
            return None
        key, integer, decimal, string, word = slot.groups()
        if key in _WORDS or word in _WORDS:
            return None
        if integer is not None:
            value: Any = int(integer)
        elif decimal is not None:
            value = float(decimal)
        else:
            value = string if string is not None else word
        items.append(Slot(key, value))
        position = slot.end()
    if position != size or (size > match.start(5) and text[size - 1] == ","):
        return None
    return Envelope(
        "event",
        quoted_node if quoted_node is not None else node,
        quoted_lane if quoted_lane is not None else lane,
        items if items else ABSENT,
    )


def parse_envelope(text: str) -> Envelope:
    """Read one envelope; raises :class:`~streamer.swim.recon.ReconError` if it is not one."""
    flat = _flat_event(text) if text.startswith("@event(") else None
    return flat if flat is not None else _parse_envelope(text)


def _parse_envelope(text: str) -> Envelope:
    """The general path of :func:`parse_envelope`: the full Recon reader."""
    value = parse(text)
    items = value if isinstance(value, Record) else Record([value])
    if not items or not isinstance(items[0], Attr):
        raise ReconError("a WARP envelope starts with an @tag", text, 0)
    head = items[0]
    headers = head.value if isinstance(head.value, Record) else Record()
    fields: dict[str, Any] = {}
    for item in headers:
        if isinstance(item, Slot):
            fields[str(item.key)] = item.value
    rest = Record(items[1:])
    body: Any = (
        ABSENT if not rest else rest[0] if len(rest) == 1 and not isinstance(rest[0], (Slot, Attr)) else rest
    )
    prio, rate = fields.get("prio"), fields.get("rate")
    return Envelope(
        head.name,
        str(fields.get("node", "")) if fields.get("node") is not ABSENT else "",
        str(fields.get("lane", "")) if fields.get("lane") is not ABSENT else "",
        body,
        float(prio) if isinstance(prio, (int, float)) else None,
        float(rate) if isinstance(rate, (int, float)) else None,
    )
