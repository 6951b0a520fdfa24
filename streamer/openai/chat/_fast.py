"""The hot path of a chat stream: the common ``chat.completion.chunk`` read by one anchored regex.

A chunk of the shape the API sends for streamed text (one choice, index 0, a delta with
``content`` and maybe ``role`` and ``"refusal":null``, no logprobs, no finish reason, no usage,
keys in the API's order, no whitespace) is read without decoding its JSON into a dict: the event
is built with its ``data`` left for the first read (see ``streamer.openai._lazy``), and the role
and content go straight into the snapshots. Anything else (a key out of place, whitespace, an
unknown field, a wrong type, an escape the loader refuses...) does not match, and the caller takes
the full path, which decodes (or rejects) it. A match guarantees the full path would succeed and
see the same role and content: the uncaptured strings hold no escapes, the numbers are short.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ... import sse
from .._build import build
from .._core import loads
from .._lazy import ESCAPED_STRING, INDEX, STRING, json_string, maker, setter
from .models import ChatChunk, ChatCompletionChunk

__all__ = ["HOT_FILLS", "TextCapture", "TextChunks", "fill_text_chunk", "hot_text_chunk"]

_OR_NULL = f'(?:"{STRING}"|null)'

#: Everything before choice 0's delta fields: the same in every chunk of a stream.
_HEAD = re.compile(
    rf'\{{"id":"{STRING}","object":"{STRING}","created":(?:{INDEX}),"model":"{STRING}",'
    rf'(?:"service_tier":{_OR_NULL},)?"system_fingerprint":{_OR_NULL},'
    rf'"choices":\[\{{"index":0,"delta":\{{'
).match
#: The rest. Groups: the role (if the delta has one) and the content (None for ``"content":null``).
_TAIL = re.compile(
    rf'(?:"role":"({ESCAPED_STRING})",)?"content":(?:"({ESCAPED_STRING})"|null)(?:,"refusal":null)?'
    rf'\}},"logprobs":null,"finish_reason":null\}}\](?:,"usage":null)?(?:,"obfuscation":"{STRING}")?\}}'
).fullmatch

_make_chunk: Callable[..., ChatChunk] = maker(ChatChunk, lazy=True)
_set_raw = setter(ChatChunk, "raw")
_set_index = setter(ChatChunk, "index")
_set_data = setter(ChatChunk, "data")
_set_lazy = setter(ChatChunk, "_lazy")

#: What the hot path captured: the raw event, its index, and choice 0's role and content (each
#: None when the chunk has none).
TextCapture = tuple[sse.Event, int, "str | None", "str | None"]


def _fill_head(event: ChatChunk, capture: TextCapture) -> None:
    """First read of a hot-path chunk: ``raw`` and ``index``; ``data`` waits for its own first read."""
    _set_raw(event, capture[0])
    _set_index(event, capture[1])
    _set_lazy(event, (fill_text_chunk, capture))


def fill_text_chunk(event: ChatChunk, capture: TextCapture) -> None:
    """Build the ``data`` of a hot-path chunk (cannot fail: the match checked every value)."""
    raw, index = capture[0], capture[1]
    _set_data(event, build(ChatCompletionChunk, loads("chat.completion.chunk", index, raw.data), "data"))


#: The fills of a hot-path chunk whose ``data`` is not built yet (its capture is still at hand).
HOT_FILLS = (_fill_head, fill_text_chunk)


class TextChunks:
    """The hot path of one stream: it remembers the head of the last chunk it matched.

    A chunk that starts with that very text needs only its tail matched: the head's id, model,
    fingerprint... were checked once and are the same text again.
    """

    __slots__ = ("_head",)

    def __init__(self) -> None:
        self._head: str | None = None

    def match(self, raw: sse.Event, index: int) -> tuple[ChatChunk, TextCapture] | None:
        """The event for a common text chunk (fields built on first read) and what it holds.

        None for anything else: the full path then decodes (or rejects) it.
        """
        data = raw.data
        head = self._head
        if head is not None and data.startswith(head):
            found = _TAIL(data, len(head))
        else:
            start = _HEAD(data)
            if start is None:
                return None
            found = _TAIL(data, start.end())
            if found is not None:
                self._head = data[: start.end()]
        if found is None:
            return None
        role, content = found.groups()
        if role is not None and "\\" in role:
            role = json_string(role)
            if role is None:
                return None  # an escape the loader refuses: the full path names it
        if content is not None and "\\" in content:
            content = json_string(content)
            if content is None:
                return None
        capture = (raw, index, role, content)
        return _make_chunk((_fill_head, capture)), capture


def hot_text_chunk(raw: sse.Event, index: int) -> tuple[ChatChunk, TextCapture] | None:
    """:meth:`TextChunks.match` for one chunk on its own (no head remembered)."""
    return TextChunks().match(raw, index)
