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
    """The state of a run as its events arrive: messages, run steps, the run, all text so far."""

    _messages: dict[str, dict[str, Any]] = field(factory=dict)
    _steps: dict[str, dict[str, Any]] = field(factory=dict)
    _current_message: str | None = None
    _current_step: str | None = None
    _completed: list[str] = field(factory=list)
    _text: list[str] = field(factory=list)
    # Text appended to a message's text blocks and not folded into its snapshot yet, by block
    # index: joining once on demand keeps a long message linear instead of quadratic.
    _pieces: dict[str, dict[int, list[str]]] = field(factory=dict)

    def message_created(self, message: dict[str, Any]) -> None:
        """A message started (or was re-sent whole): it becomes the current message."""
        key = message.get("id") or f"message-{len(self._messages)}"
        self._pieces.pop(key, None)
        self._messages[key] = copy.deepcopy(message)
        self._current_message = key

    def message_delta(self, event: dict[str, Any], text: str) -> None:
        """Fold a ``thread.message.delta`` payload into its message."""
        key = event.get("id") or self._current_message or "message-0"
        snapshot = self._messages.setdefault(key, {"id": event.get("id"), "content": []})
        if not isinstance(snapshot.get("content"), list):
            snapshot["content"] = []
        delta = event.get("delta") or {}
        if not self._append_text(key, snapshot["content"], delta):
            self._fold(key)
            merge_delta(snapshot, delta, "data.delta")
        self._current_message = key
        if text:
            self._text.append(text)

    def message_text(self, event: MessageDeltaEvent) -> None:
        """Fold a delta made only of plain text blocks (the common case) into its message."""
        delta = event.delta
        blocks = delta.content if delta is not None and delta.content is not None else []
        key = event.id or self._current_message or "message-0"
        noted = self._pieces.get(key)
        if noted is not None and len(blocks) == 1:
            # More text for a block this message already has pieces for: checked when they began.
            block = blocks[0]
            texts = (
                noted.get(block.index)
                if isinstance(block, TextDeltaBlock) and block.index is not None
                else None
            )
            if texts is not None and isinstance(block, TextDeltaBlock):
                value = (block.text.value if block.text is not None else None) or ""
                texts.append(value)
                self._text.append(value)
                self._current_message = key
                return
        snapshot = self._messages.get(key)
        targets = snapshot.get("content") if snapshot is not None else None
        if not isinstance(targets, list) or not all(
            isinstance(block, TextDeltaBlock) and _is_text_block(targets, block.index) for block in blocks
        ):
            self.message_delta(event.to_dict(), delta.text() if delta is not None else "")
            return
        pieces = self._pieces.setdefault(key, {})
        for block in blocks:
            if isinstance(block, TextDeltaBlock) and block.index is not None:  # checked above; for mypy
                value = (block.text.value if block.text is not None else None) or ""
                pieces.setdefault(block.index, []).append(value)
                self._text.append(value)
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
        pieces = self._pieces.setdefault(key, {})
        for block in content:
            pieces.setdefault(block["index"], []).append(block["text"]["value"])
        return True

    def _fold(self, key: str) -> None:
        """Fold the noted text of message ``key`` into its snapshot."""
        pieces = self._pieces.pop(key, None)
        if not pieces:
            return
        blocks = self._messages[key]["content"]
        for index, texts in pieces.items():
            text = blocks[index]["text"]
            text["value"] = (text.get("value") or "") + "".join(texts)

    def message_done(self, message: dict[str, Any]) -> None:
        """A message completed or ended incomplete: the server's copy is the final word."""
        key = message.get("id") or self._current_message or "message-0"
        self._pieces.pop(key, None)
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
        self._fold(self._current_message)
        return Message.from_dict(self._messages[self._current_message])

    def current_run_step(self) -> RunStep | None:
        """The run step in progress, with tool call arguments assembled so far."""
        if self._current_step is None:
            return None
        return RunStep.from_dict(self._steps[self._current_step])

    def final_messages(self) -> list[Message]:
        """Every message that completed (or ended incomplete), in order."""
        for key in self._completed:
            self._fold(key)
        return [Message.from_dict(self._messages[key]) for key in self._completed]

    def text(self) -> str:
        """All message text streamed so far."""
        return "".join(self._text)
