"""A tiny, obviously-correct SSE decoder, written straight from the WHATWG steps, for comparisons.

It decodes the whole input at once, walks it one character at a time, and keeps no limits.
"""

from __future__ import annotations

from streamer.sse import MAX_RETRY, Event


def reference_decode(stream: bytes) -> tuple[list[Event], bool]:
    """Events of a complete byte stream, and whether an unterminated event was discarded at EOF."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\r":
            lines.append(current)
            current = ""
            if i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        elif ch == "\n":
            lines.append(current)
            current = ""
        else:
            current += ch
        i += 1
    events: list[Event] = []
    data = ""
    event_type = ""
    id_buffer: str | None = None
    retry: int | None = None
    fields_since_dispatch = False
    for line in lines:
        if line == "":
            fields_since_dispatch = False
            last_id = id_buffer
            if data == "":
                event_type = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            events.append(Event(event_type or "message", data, last_id, retry))
            data = ""
            event_type = ""
            continue
        if line.startswith(":"):
            continue
        fields_since_dispatch = True
        if ":" in line:
            name, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id":
            if "\x00" not in value:
                id_buffer = value
        elif name == "retry":
            if value and all(c in "0123456789" for c in value):
                digits = value.lstrip("0")  # clamped, as the decoder documents
                retry = MAX_RETRY if len(digits) > 19 else min(int(digits or "0"), MAX_RETRY)
    truncated = fields_since_dispatch or (current != "" and not current.startswith(":"))
    return events, truncated
