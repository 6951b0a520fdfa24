"""The builder names where a wrong shape is, spelling the path only when it raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.openai._build import ShapeError, build, spell
from streamer.openai.assistants.models import RunStepDelta
from streamer.openai.chat.models import ChatCompletionChunk
from streamer.openai.responses.events import ContentPart, ResponseCompleted

CASES: list[tuple[type[Any], Any, str]] = [
    (ChatCompletionChunk, {"choices": [{}, {"delta": {"content": 5}}]}, "data.choices[1].delta.content"),
    (
        ChatCompletionChunk,
        {"choices": [{"delta": {"tool_calls": [{}, {"index": "1"}]}}]},
        "data.choices[0].delta.tool_calls[1].index",
    ),
    (ChatCompletionChunk, {"choices": 3}, "data.choices"),
    (ChatCompletionChunk, {"choices": [7]}, "data.choices[0]"),
    (ContentPart, {"annotations": [{}, 5]}, "data.annotations[1]"),
    (ResponseCompleted, {"response": {"created_at": "x"}}, "data.response.created_at"),
    (
        ResponseCompleted,
        {"response": {"output": [{}, {"content": [{"text": 1}]}]}},
        "data.response.output[1].content[0].text",
    ),
    (RunStepDelta, {"step_details": {"type": 5}}, "data.step_details.type"),
]


@pytest.mark.parametrize(("cls", "data", "path"), CASES, ids=[c[2] for c in CASES])
def test_a_shape_error_names_the_full_path(cls: type[Any], data: Any, path: str) -> None:
    with pytest.raises(ShapeError) as caught:
        build(cls, data, "data")
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


@given(st.lists(st.one_of(st.integers(0, 10**6), st.from_regex(r"[a-z_]{1,8}", fullmatch=True)), max_size=8))
def test_spell_joins_names_with_dots_and_indexes_in_brackets(pieces: list[Any]) -> None:
    where: Any = "data"
    expected = "data"
    for piece in pieces:
        where = (where, piece)
        expected += f"[{piece}]" if isinstance(piece, int) else f".{piece}"
    assert spell(where) == expected
    assert ShapeError(where, "wrong").path == expected
