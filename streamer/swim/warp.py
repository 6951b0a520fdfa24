"""WARP envelopes: the Recon messages SwimOS peers exchange over a WebSocket (sans-IO)."""

from __future__ import annotations

import re
from typing import Any

from attrs import define

from .recon import ABSENT, Attr, ReconError, Record, Slot, dumps, parse

__all__ = ["Envelope", "flat_event_data", "parse_envelope"]

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


_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*+"
_NAME = rf'(?:"([^"\\]*+)"|({_IDENT}))'
_FLAT_HEAD = re.compile(rf"@event\(node:{_NAME},lane:{_NAME}\)\{{")
# One slot and the comma after it: a key, then exactly one of a number, an escape-free string or an
# identifier, ending at a comma that more follows or at the end of the body. ``split`` returns the
# gaps between the slots and, after each gap, a slot's 4 groups (None where a group did not match).
_FLAT_SLOT = re.compile(
    rf'({_IDENT}):(?:(-?\d++(?:\.\d++)?+(?:[eE][+-]?+\d++)?+)|"([^"\\]*+)"|({_IDENT}))(?:,(?!\Z)|\Z)'
)
_STRIDE = 5  # split's stride: a gap, then a slot's 4 groups
_WORDS = frozenset({"true", "false"})
_WORD_VALUES = {"true": True, "false": False}
#: Longer messages go to the full reader, which reads large values in place (the fast path copies).
_FLAT_LIMIT = 1 << 16


def _flat_slots(text: str) -> tuple[str, str, list[str], list[Any]] | None:
    """Node, lane, keys and values of a flat ``@event(node:..,lane:..){k:v,...}``, or None.

    None (the caller falls back to the full reader) unless the slots tile the body exactly (every
    gap between them is empty) and hold only numbers, escape-free strings and identifiers, and no
    key, node or lane is true/false. Each piece reads exactly as the full reader reads it.
    """
    head = _FLAT_HEAD.match(text)
    if head is None or text[-1] != "}" or len(text) > _FLAT_LIMIT:
        return None
    quoted_node, node, quoted_lane, lane = head.groups()
    if node in _WORDS or lane in _WORDS:
        return None
    parts = _FLAT_SLOT.split(text[head.end() : -1])
    if any(parts[::_STRIDE]):  # something before, between or after the slots: not flat
        return None
    keys = parts[1::_STRIDE]
    if _WORDS.intersection(keys):
        return None
    try:
        values = [
            (float(number) if "." in number or "e" in number or "E" in number else int(number))
            if number is not None
            else string
            if word is None
            else _WORD_VALUES.get(word, word)
            for number, string, word in zip(parts[2::_STRIDE], parts[3::_STRIDE], parts[4::_STRIDE])
        ]
    except ValueError:  # an integer too long for int(): the full reader reports it
        return None
    return (
        quoted_node if quoted_node is not None else node,
        quoted_lane if quoted_lane is not None else lane,
        keys,
        values,
    )


def _flat_event(text: str) -> Envelope | None:
    """A flat ``@event`` (see :func:`_flat_slots`) read without the full reader, or None."""
    flat = _flat_slots(text)
    if flat is None:
        return None
    node, lane, keys, values = flat
    return Envelope("event", node, lane, Record(map(Slot, keys, values)) if keys else ABSENT)


def flat_event_data(text: str) -> tuple[str, str, Any] | None:
    """Node, lane and plain body of a flat ``@event``, exactly ``to_python`` of its body, or None.

    The shortcut a downlink takes for the commonest message: no Recon tree is built.
    """
    flat = _flat_slots(text)
    if flat is None:
        return None
    node, lane, keys, values = flat
    return node, lane, dict(zip(keys, values)) if keys else None


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
