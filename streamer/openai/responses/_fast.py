"""The hot path of a Responses stream: the common ``response.output_text.delta`` read by one regex.

The event is a flat object; servers send its keys in several orders (the API's own, sorted ones
from proxies), so the regex takes ``type`` first and then the known keys in any order, each with
the one type the full path accepts without complaint: the item id and ``obfuscation`` (the one
unknown field kept, in ``extra``) as strings without escapes, the indexes and sequence number as
short non-negative integers, ``logprobs`` only as ``[]``, and the delta as a string whose escapes
every JSON loader accepts (no surrogates). A key given twice keeps its last value, as in JSON.
Anything else (nulls, other fields, whitespace, non-empty logprobs...) does not match, and the
caller takes the full path, which decodes (or rejects) it. On a match the indexes are checked,
the text folded, and the event built with its ``delta`` set and its other fields (``raw`` and ``index`` too)
left for first read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ... import sse
from .._build import Model
from .._deltas import check_index
from .._lazy import INDEX, STRING, json_string, maker, setter
from .events import ResponseOutputTextDelta

if TYPE_CHECKING:
    from .stream import ResponseProtocol

__all__ = ["DeltaCapture", "DeltaState", "accept_text_delta", "fill_text_delta"]

#: A JSON string body whose escapes any loader decodes alike: no ``\u`` escape of a surrogate.
SAFE_STRING = r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u(?![dD][89a-fA-F])[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'

#: Groups: sequence number, item id, output index, content index, delta, ``[]``, obfuscation.
_TEXT_DELTA = re.compile(
    rf'\{{"type":"response\.output_text\.delta"(?:,"(?:sequence_number":({INDEX})|item_id":"({STRING})"'
    rf'|output_index":({INDEX})|content_index":({INDEX})|delta":"({SAFE_STRING})"|logprobs":(\[\])'
    rf'|obfuscation":"({STRING})"))*\}}'
).fullmatch

_NAME = ResponseOutputTextDelta.event
_make_delta: Callable[..., ResponseOutputTextDelta] = maker(ResponseOutputTextDelta, "delta", lazy=True)
_SETTERS = [
    setter(ResponseOutputTextDelta, name)
    for name in (
        "raw",
        "index",
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "logprobs",
        "extra",
    )
]
#: The ``extra`` of a model with no unknown fields (the builder's shared empty mapping).
_NOTHING: Mapping[str, Any] = Model().extra

#: What the regex captured: sequence number, item id, output index, content index, delta (as
#: sent), ``[]`` and obfuscation, each None when absent.
DeltaCapture = tuple["str | None", ...]
#: The state a hot-path delta keeps for its first read: the raw event, its index, the capture.
DeltaState = tuple[sse.Event, int, DeltaCapture]


def _number(digits: str | None) -> int | None:
    return None if digits is None else 0 if digits == "0" else int(digits)


def fill_text_delta(event: ResponseOutputTextDelta, state: DeltaState) -> None:
    """Set the fields a hot-path delta left for first read (cannot fail: the match checked them)."""
    raw, index, (sequence, item, output, content, _, logprobs, obfuscation) = state
    set_raw, set_index, kind, number, item_id, output_index, content_index, logprob_list, extra = _SETTERS
    set_raw(event, raw)
    set_index(event, index)
    kind(event, _NAME)
    number(event, _number(sequence))
    item_id(event, item)
    output_index(event, _number(output))
    content_index(event, _number(content))
    logprob_list(event, None if logprobs is None else [])
    extra(event, _NOTHING if obfuscation is None else {"obfuscation": obfuscation})


def accept_text_delta(protocol: ResponseProtocol, raw: sse.Event) -> ResponseOutputTextDelta | None:
    """What ``protocol.accept(raw)`` does for a common text delta, without a dict; None: full path.

    Checks the indexes as the full path does (raising the same ``ShapeError``), appends the text,
    and builds the event with ``delta`` set and its other fields left for first read.
    """
    match = _TEXT_DELTA(raw.data)
    if match is None:
        return None
    capture: DeltaCapture = match.groups()
    _, _, output, content, delta, _, _ = capture
    if delta is not None and "\\" in delta:
        delta = json_string(delta)
        if delta is None:
            return None  # not reached for a SAFE_STRING body; the full path would name it
    if capture[0] is not None:  # the resume point, checked as the full path does
        number = int(capture[0])
        if protocol.joined and protocol.sequence is not None and number <= protocol.sequence:
            raise protocol._duplicate(number, raw.event)
        protocol.sequence = number
    if output is not None:
        # The full path's _check_indexes: an index below the count so far is always in bounds.
        out = 0 if output == "0" else int(output)
        if out >= protocol.outputs:
            check_index(out, protocol.outputs, "data.output_index")
            protocol.outputs = out + 1
        if content is not None:
            part = 0 if content == "0" else int(content)
            parts = protocol.contents.get(out, 0)
            if part >= parts:
                check_index(part, parts, "data.content_index")
                protocol.contents[out] = part + 1
    event = _make_delta(delta, (fill_text_delta, (raw, protocol.index, capture)))
    if delta and protocol.keep_snapshots:
        protocol.text.append(delta)
    protocol.index += 1
    protocol.last = event
    return event
