"""WARP envelopes: the Recon messages SwimOS peers exchange over a WebSocket (sans-IO)."""

from __future__ import annotations

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


def parse_envelope(text: str) -> Envelope:
    """Read one envelope; raises :class:`~streamer.swim.recon.ReconError` if it is not one."""
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
