"""Generated Assistants v2 stream payloads covering every event type and content variant."""

from __future__ import annotations

import json
from typing import Any

from streamer import sse

THREAD = {"id": "thread_1", "object": "thread", "created_at": 1, "metadata": {}, "tool_resources": {}}
USAGE = {"completion_tokens": 5, "prompt_tokens": 7, "total_tokens": 12}


def run(status: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 1,
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": status,
        "required_action": None,
        "last_error": None,
        "expires_at": 100,
        "started_at": 2,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "tools": [
            {"type": "code_interpreter"},
            {"type": "function", "function": {"name": "f", "parameters": {}}},
        ],
        "metadata": {"k": "v"},
        "usage": None,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": True,
    }
    base.update(extra)
    return base


REQUIRED = {
    "type": "submit_tool_outputs",
    "submit_tool_outputs": {
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
            {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
        ]
    },
}

MESSAGE_STEP = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
TOOL_STEP = {
    "type": "tool_calls",
    "tool_calls": [
        {
            "id": "ci_1",
            "type": "code_interpreter",
            "code_interpreter": {
                "input": "print(1)",
                "outputs": [
                    {"type": "logs", "logs": "1\n"},
                    {"type": "image", "image": {"file_id": "file_img"}},
                ],
            },
        },
        {
            "id": "fs_1",
            "type": "file_search",
            "file_search": {
                "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
                "results": [
                    {
                        "file_id": "f1",
                        "file_name": "a.pdf",
                        "score": 0.9,
                        "content": [{"type": "text", "text": "x"}],
                    }
                ],
            },
        },
        {"id": "fn_1", "type": "function", "function": {"name": "f", "arguments": "{}", "output": "42"}},
    ],
}


def step(status: str, details: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "step_1",
        "object": "thread.run.step",
        "created_at": 3,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "run_id": "run_1",
        "type": details["type"],
        "status": status,
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }
    base.update(extra)
    return base


CONTENT = [
    {
        "type": "text",
        "text": {
            "value": "See 【1】 and sandbox:/a.csv",
            "annotations": [
                {
                    "type": "file_citation",
                    "text": "【1】",
                    "file_citation": {"file_id": "f1"},
                    "start_index": 4,
                    "end_index": 7,
                },
                {
                    "type": "file_path",
                    "text": "sandbox:/a.csv",
                    "file_path": {"file_id": "f2"},
                    "start_index": 12,
                    "end_index": 26,
                },
            ],
        },
    },
    {"type": "image_file", "image_file": {"file_id": "file_img", "detail": "low"}},
    {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png", "detail": "high"}},
    {"type": "refusal", "refusal": "I can't help with that."},
]


def message(status: str, content: list[Any], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "msg_1",
        "object": "thread.message",
        "created_at": 4,
        "thread_id": "thread_1",
        "status": status,
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "assistant",
        "content": content,
        "assistant_id": "asst_1",
        "run_id": "run_1",
        "attachments": [{"file_id": "f3", "tools": [{"type": "code_interpreter"}]}],
        "metadata": {},
    }
    base.update(extra)
    return base


MESSAGE_DELTAS = [
    {
        "role": "assistant",
        "content": [{"index": 0, "type": "text", "text": {"value": "See ", "annotations": []}}],
    },
    {
        "content": [
            {
                "index": 0,
                "type": "text",
                "text": {
                    "value": "【1】",
                    "annotations": [
                        {
                            "index": 0,
                            "type": "file_citation",
                            "text": "【1】",
                            "file_citation": {"file_id": "f1", "quote": "q"},
                            "start_index": 4,
                            "end_index": 7,
                        }
                    ],
                },
            }
        ]
    },
    {
        "content": [
            {
                "index": 0,
                "type": "text",
                "text": {
                    "value": " and sandbox:/a.csv",
                    "annotations": [
                        {
                            "index": 1,
                            "type": "file_path",
                            "text": "sandbox:/a.csv",
                            "file_path": {"file_id": "f2"},
                        }
                    ],
                },
            }
        ]
    },
    {"content": [{"index": 1, "type": "image_file", "image_file": {"file_id": "file_img", "detail": "low"}}]},
    {"content": [{"index": 2, "type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}}]},
    {"content": [{"index": 3, "type": "refusal", "refusal": "I can't "}]},
    {"content": [{"index": 3, "type": "refusal", "refusal": "help with that."}]},
]

STEP_DELTAS = [
    {"type": "message_creation", "message_creation": {"message_id": "msg_1"}},
    {
        "type": "tool_calls",
        "tool_calls": [
            {
                "index": 0,
                "id": "ci_1",
                "type": "code_interpreter",
                "code_interpreter": {"input": "pri", "outputs": []},
            }
        ],
    },
    {
        "type": "tool_calls",
        "tool_calls": [{"index": 0, "type": "code_interpreter", "code_interpreter": {"input": "nt(1)"}}],
    },
    {
        "type": "tool_calls",
        "tool_calls": [
            {
                "index": 0,
                "type": "code_interpreter",
                "code_interpreter": {
                    "outputs": [
                        {"index": 0, "type": "logs", "logs": "1\n"},
                        {"index": 1, "type": "image", "image": {"file_id": "file_img"}},
                    ]
                },
            }
        ],
    },
    {
        "type": "tool_calls",
        "tool_calls": [{"index": 1, "id": "fs_1", "type": "file_search", "file_search": {}}],
    },
    {
        "type": "tool_calls",
        "tool_calls": [
            {"index": 2, "id": "fn_1", "type": "function", "function": {"name": "f", "arguments": ""}}
        ],
    },
    {
        "type": "tool_calls",
        "tool_calls": [{"index": 2, "type": "function", "function": {"arguments": '{"a":'}}],
    },
    {
        "type": "tool_calls",
        "tool_calls": [{"index": 2, "type": "function", "function": {"arguments": " 1}", "output": None}}],
    },
]

ERROR = {"code": "server_error", "message": "Something broke.", "param": None, "type": "server_error"}


def every_event() -> list[tuple[str, Any]]:
    """(event name, payload) for every Assistants v2 event, with every content variant."""
    events: list[tuple[str, Any]] = [("thread.created", THREAD)]
    for status in ("created", "queued", "in_progress"):
        events.append((f"thread.run.{status}", run("queued" if status == "created" else status)))
    events.append(("thread.run.step.created", step("in_progress", MESSAGE_STEP)))
    events.append(("thread.run.step.in_progress", step("in_progress", TOOL_STEP)))
    events += [
        (
            "thread.run.step.delta",
            {"id": "step_1", "object": "thread.run.step.delta", "delta": {"step_details": d}},
        )
        for d in STEP_DELTAS
    ]
    events.append(("thread.message.created", message("in_progress", [])))
    events.append(("thread.message.in_progress", message("in_progress", [])))
    events += [
        ("thread.message.delta", {"id": "msg_1", "object": "thread.message.delta", "delta": d})
        for d in MESSAGE_DELTAS
    ]
    events.append(("thread.message.completed", message("completed", CONTENT, completed_at=9)))
    events.append(
        (
            "thread.message.incomplete",
            message("incomplete", CONTENT[:1], incomplete_at=9, incomplete_details={"reason": "max_tokens"}),
        )
    )
    for status in ("completed", "failed", "cancelled", "expired"):
        last_error = {"code": "server_error", "message": "boom"} if status == "failed" else None
        events.append(
            (f"thread.run.step.{status}", step(status, TOOL_STEP, last_error=last_error, usage=USAGE))
        )
    events.append(("thread.run.requires_action", run("requires_action", required_action=REQUIRED)))
    events.append(("thread.run.completed", run("completed", completed_at=9, usage=USAGE)))
    events.append(
        ("thread.run.incomplete", run("incomplete", incomplete_details={"reason": "max_completion_tokens"}))
    )
    events.append(
        (
            "thread.run.failed",
            run("failed", failed_at=9, last_error={"code": "rate_limit_exceeded", "message": "slow down"}),
        )
    )
    events.append(("thread.run.cancelling", run("cancelling")))
    events.append(("thread.run.cancelled", run("cancelled", cancelled_at=9)))
    events.append(("thread.run.expired", run("expired")))
    events.append(("error", ERROR))
    return events


def to_sse(events: list[tuple[str, Any]], *, done: bool = True) -> bytes:
    """The SSE bytes of a list of (event name, payload)."""
    body = b"".join(
        sse.encode(sse.Event(name, json.dumps(payload, ensure_ascii=False))) for name, payload in events
    )
    return body + (sse.encode(sse.Event("done", "[DONE]")) if done else b"")
