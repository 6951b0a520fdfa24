"""The hot path of a chat stream: the common ``chat.completion.chunk`` read by one anchored regex.

A chunk of the shape the API sends for streamed text (one choice, index 0, a delta with
``content`` and maybe ``role``, no logprobs, no finish reason, keys in the API's order) is read
without decoding its JSON into a dict. Anything else (a key out of place, whitespace, an unknown
field, a wrong type, a finish reason, tool calls, usage...) does not match, and the caller takes
the full path: ``json.loads`` and the model builder. A match guarantees that the full path would
succeed and see the same role and content.
"""

from __future__ import annotations

from json.decoder import scanstring
from re import compile as _compile

__all__ = ["match_text_chunk", "string_at"]

#: Any JSON string token; the body of one (between the quotes), for a group.
_BODY = r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'
STRING = f'"{_BODY}"'
#: A JSON integer short enough for any int conversion limit.
INT = r"-?(?:0|[1-9][0-9]{0,17})"
_STRING_OR_NULL = f"(?:{STRING}|null)"

_TEXT_CHUNK = _compile(
    r'\{"id":' + STRING + r',"object":' + STRING + r',"created":' + INT + r',"model":' + STRING
    + r',(?:"service_tier":' + _STRING_OR_NULL + r",)?"
    + r'"system_fingerprint":' + _STRING_OR_NULL
    + r',"choices":\[\{"index":0,"delta":\{'
    + r'(?:"role":"(?P<role>' + _BODY + r')",)?'
    + r'"content":(?:"(?P<content>' + _BODY + r')"|null)'
    + r'(?:,"refusal":null)?'
    + r'\},"logprobs":null,"finish_reason":null\}\]'
    + r'(?:,"usage":null)?'
    + r'(?:,"obfuscation":' + STRING + r")?\}"
).fullmatch


def string_at(data: str, start: int, end: int) -> str:
    """The JSON string whose body is ``data[start:end]``, unescaped only if it has a backslash."""
    body = data[start:end]
    if "\\" in body:
        return scanstring(data, start)[0]
    return body


def match_text_chunk(data: str) -> tuple[str | None, str | None] | None:
    """``(role, content)`` of a common text chunk, or None: take the full path."""
    found = _TEXT_CHUNK(data)
    if found is None:
        return None
    start, end = found.span("content")
    content = None if start < 0 else string_at(data, start, end)
    start, end = found.span("role")
    role = None if start < 0 else string_at(data, start, end)
    return role, content
