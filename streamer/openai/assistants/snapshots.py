"""Deltas accumulated into snapshots: the message and run step as they stand so far."""

from __future__ import annotations

import copy
from typing import Any

from attrs import define, field

from .._deltas import is_text_block, merge_delta
from .models import Message, MessageDeltaEvent, RunStep, TextDeltaBlock

__all__ = ["Snapshots", "merge_delta"]

_TEXT_BLOCK = frozenset({"index", "type", "text"})
_TEXT = frozenset({"value", "annotations"})


def _is_text_block(blocks: list[Any], index: int | None) -> bool:
    return index is not None and 0 <= index < len(blocks) and is_text_block(blocks[index])


@define(slots=True)
class Snapshots:
    """The state of a run as its events arrive: messages, run steps, the run, all text so far.

    The streamed text is kept once: ``_text`` holds every piece in arrival order (what ``text()``
    joins), and a message's text blocks refer to runs of it (``_runs``) until something needs the
    text in the snapshot itself; a message is assembled from both when it is read.
    """

    _messages: dict[str, dict[str, Any]] = field(factory=dict)
    _steps: dict[str, dict[str, Any]] = field(factory=dict)
    _current_message: str | None = None
    _current_step: str | None = None
    _completed: list[str] = field(factory=list)
    _text: list[str] = field(factory=list)
    # Text appended to a message's text blocks and not in its snapshot yet: message key -> block
    # index -> flat [start, end, start, end, ...] ranges of ``_text``. Joining once on demand keeps
    # a long message linear, and the ranges keep the text once.
    _runs: dict[str, dict[int, list[int]]] = field(factory=dict)

    def message_created(self, message: dict[str, Any]) -> None:
        """A message started (or was re-sent whole): it becomes the current message."""
        key = message.get("id") or f"message-{len(self._messages)}"
        self._runs.pop(key, None)
        self._messages[key] = copy.deepcopy(message)
        self._current_message = key

    def message_delta(self, event: dict[str, Any], text: str) -> None:
        """Fold a ``thread.message.delta`` payload into its message."""
        key = event.get("id") or self._current_message or "message-0"
        snapshot = self._messages.setdefault(key, {"id": event.get("id"), "content": []})
        if not isinstance(snapshot.get("content"), list):
            snapshot["content"] = []
        delta = event.get("delta") or {}
        self._current_message = key
        if self._append_text(key, snapshot["content"], delta):
            return  # its pieces are the delta's text
        self._fold(key)
        merge_delta(snapshot, delta, "data.delta")
        if text:
            self._text.append(text)  # in the snapshot too: this rare delta's text is kept twice

    def text_piece(self, ident: str | None, index: int, value: str) -> bool:
        """Fold more text for text block ``index`` of message ``ident`` (the common delta).

        False, folding nothing, if the message has no text block there yet: the caller then folds
        the whole delta with :meth:`message_text`.
        """
        key = ident or self._current_message or "message-0"
        noted = self._runs.get(key)
        runs = noted.get(index) if noted is not None else None
        if runs is None:
            snapshot = self._messages.get(key)
            targets = snapshot.get("content") if snapshot is not None else None
            if not isinstance(targets, list) or not _is_text_block(targets, index):
                return False
            runs = self._runs.setdefault(key, {}).setdefault(index, [])
        text = self._text
        end = len(text)
        text.append(value)
        if runs and runs[-1] == end:
            runs[-1] = end + 1
        else:
            runs += (end, end + 1)
        self._current_message = key
        return True

    def _note(self, runs: list[int], value: str) -> None:
        """Append ``value`` to the text and to a block's ranges of it."""
        text = self._text
        end = len(text)
        text.append(value)
        if runs and runs[-1] == end:
            runs[-1] = end + 1
        else:
            runs += (end, end + 1)

    def message_text(self, event: MessageDeltaEvent) -> None:
        """Fold a delta made only of plain text blocks (the common case) into its message."""
        delta = event.delta
        blocks = delta.content if delta is not None and delta.content is not None else []
        if len(blocks) == 1:
            block = blocks[0]
            if isinstance(block, TextDeltaBlock) and block.index is not None:
                value = (block.text.value if block.text is not None else None) or ""
                if self.text_piece(event.id, block.index, value):
                    return
        key = event.id or self._current_message or "message-0"
        snapshot = self._messages.get(key)
        targets = snapshot.get("content") if snapshot is not None else None
        if not isinstance(targets, list) or not all(
            isinstance(block, TextDeltaBlock) and _is_text_block(targets, block.index) for block in blocks
        ):
            self.message_delta(event.to_dict(), delta.text() if delta is not None else "")
            return
        noted = self._runs.setdefault(key, {})
        for block in blocks:
            if isinstance(block, TextDeltaBlock) and block.index is not None:  # checked above; for mypy
                value = (block.text.value if block.text is not None else None) or ""
                self._note(noted.setdefault(block.index, []), value)
        self._current_message = key

    def _append_text(self, key: str, blocks: list[Any], delta: dict[str, Any]) -> bool:
        """The common delta, more text for existing text blocks: note it; False for anything else."""
        content = delta.get("content")
        if len(delta) != 1 or not isinstance(content, list):
            return False
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text" or not block.keys() <= _TEXT_BLOCK:
                return False
            text, index = block.get("text"), block.get("index")
            if not isinstance(text, dict) or not text.keys() <= _TEXT or text.get("annotations"):
                return False
            if not isinstance(text.get("value"), str) or type(index) is not int:
                return False
            if not _is_text_block(blocks, index):
                return False
        noted = self._runs.setdefault(key, {})
        for block in content:
            self._note(noted.setdefault(block["index"], []), block["text"]["value"])
        return True

    def _joined(self, runs: list[int]) -> str:
        """The text in ``runs`` (ranges of ``_text``)."""
        text = self._text
        if len(runs) == 2:
            return "".join(text[runs[0] : runs[1]])
        return "".join("".join(text[runs[i] : runs[i + 1]]) for i in range(0, len(runs), 2))

    def _fold(self, key: str) -> None:
        """Move the noted text of message ``key`` into its snapshot (before a delta merged in full)."""
        noted = self._runs.pop(key, None)
        if not noted:
            return
        blocks = self._messages[key]["content"]
        for index, runs in noted.items():
            text = blocks[index]["text"]
            text["value"] = (text.get("value") or "") + self._joined(runs)

    def _assembled(self, key: str) -> dict[str, Any]:
        """Message ``key`` with its noted text, without copying that text into the snapshot."""
        snapshot = self._messages[key]
        noted = self._runs.get(key)
        if not noted:
            return snapshot
        content = list(snapshot["content"])
        for index, runs in noted.items():
            block = dict(content[index])
            text = dict(block["text"])
            text["value"] = (text.get("value") or "") + self._joined(runs)
            block["text"] = text
            content[index] = block
        return {**snapshot, "content": content}

    def message_done(self, message: dict[str, Any]) -> None:
        """A message completed or ended incomplete: the server's copy is the final word."""
        key = message.get("id") or self._current_message or "message-0"
        self._runs.pop(key, None)
        self._messages[key] = copy.deepcopy(message)
        self._current_message = key
        if key not in self._completed:
            self._completed.append(key)

    def step_created(self, step: dict[str, Any]) -> None:
        """A run step started, or changed state: the server's copy replaces ours."""
        key = step.get("id") or f"step-{len(self._steps)}"
        self._steps[key] = copy.deepcopy(step)
        self._current_step = key

    def step_delta(self, event: dict[str, Any]) -> None:
        """Fold a ``thread.run.step.delta`` payload into its run step."""
        key = event.get("id") or self._current_step or "step-0"
        snapshot = self._steps.setdefault(key, {"id": event.get("id")})
        merge_delta(snapshot, event.get("delta") or {}, "data.delta")
        self._current_step = key

    def current_message(self) -> Message | None:
        """The message being written, assembled from its deltas so far."""
        if self._current_message is None:
            return None
        return Message.from_dict(self._assembled(self._current_message))

    def current_run_step(self) -> RunStep | None:
        """The run step in progress, with tool call arguments assembled so far."""
        if self._current_step is None:
            return None
        return RunStep.from_dict(self._steps[self._current_step])

    def final_messages(self) -> list[Message]:
        """Every message that completed (or ended incomplete), in order."""
        return [Message.from_dict(self._assembled(key)) for key in self._completed]

    def text(self) -> str:
        """All message text streamed so far."""
        return "".join(self._text)
