"""`streamer text` and `streamer cat` exit 0 only for a complete answer; every other ending says why.

Each case is a small recording written out below as SSE text, run through the command in a
subprocess as a user would.
"""

from __future__ import annotations

import os
import re

import pytest

from .conftest import RECORDINGS
from .test_cli import run_cli

CHAT = '{{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{choice}]}}'


def chat(*choices: str) -> str:
    body = "".join(f"data: {CHAT.format(choice=choice)}\n\n" for choice in choices)
    return body + "data: [DONE]\n\n"


RUN = (
    '{{"id":"run_1","object":"thread.run","thread_id":"thread_1","assistant_id":"asst_1",'
    '"status":"{status}"{extra}}}'
)


def run_event(name: str, status: str, extra: str = "") -> str:
    return f"event: {name}\ndata: {RUN.format(status=status, extra=extra)}\n\n"


def assistants(*events: str) -> str:
    thread = 'event: thread.created\ndata: {"id":"thread_1","object":"thread"}\n\n'
    return (
        thread + run_event("thread.run.created", "queued") + "".join(events) + "event: done\ndata: [DONE]\n\n"
    )


def message_delta(block: str) -> str:
    return (
        'event: thread.message.delta\ndata: {"id":"msg_1","object":"thread.message.delta",'
        f'"delta":{{"content":[{block}]}}}}\n\n'
    )


RESPONSE = '{{"id":"resp_1","object":"response","status":"{status}","output":[]{extra}}}'


def responses(*events: str) -> str:
    created = '{"type":"response.created","sequence_number":0,"response":' + RESPONSE.format(
        status="in_progress", extra=""
    )
    return f"event: response.created\ndata: {created}}}\n\n" + "".join(events)


def response_end(name: str, status: str, extra: str) -> str:
    payload = (
        f'{{"type":"{name}","sequence_number":9,"response":'
        + RESPONSE.format(status=status, extra=extra)
        + "}"
    )
    return f"event: {name}\ndata: {payload}\n\n"


def text_delta(text: str) -> str:
    return (
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,'
        f'"item_id":"msg_1","output_index":0,"content_index":0,"delta":"{text}"}}\n\n'
    )


FAILED_RUN = assistants(
    message_delta('{"index":0,"type":"text","text":{"value":"Partial"}}'),
    run_event(
        "thread.run.failed",
        "failed",
        ',"last_error":{"code":"server_error","message":"The model crashed"}',
    ),
)
CANCELLED_RUN = assistants(run_event("thread.run.cancelled", "cancelled"))
INCOMPLETE_RUN = assistants(
    message_delta('{"index":0,"type":"text","text":{"value":"Half an ans"}}'),
    run_event(
        "thread.run.incomplete", "incomplete", ',"incomplete_details":{"reason":"max_completion_tokens"}'
    ),
)
INCOMPLETE_MESSAGE = assistants(
    message_delta('{"index":0,"type":"text","text":{"value":"Half"}}'),
    'event: thread.message.incomplete\ndata: {"id":"msg_1","object":"thread.message","status":"incomplete",'
    '"incomplete_details":{"reason":"content_filter"},"role":"assistant",'
    '"content":[{"type":"text","text":{"value":"Half","annotations":[]}}]}\n\n',
)
REQUIRES_ACTION = assistants(
    run_event(
        "thread.run.requires_action",
        "requires_action",
        ',"required_action":{"type":"submit_tool_outputs","submit_tool_outputs":{"tool_calls":'
        '[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}}',
    )
)
COMPLETED_RUN = assistants(
    message_delta('{"index":0,"type":"text","text":{"value":"All done."}}'),
    run_event("thread.run.completed", "completed"),
)
ASSISTANTS_REFUSAL = assistants(
    message_delta('{"index":0,"type":"refusal","refusal":"I cannot help with that."}'),
    run_event("thread.run.completed", "completed"),
)
RESPONSE_FAILED = responses(
    text_delta("Parti"),
    response_end(
        "response.failed", "failed", ',"error":{"code":"server_error","message":"The model crashed"}'
    ),
)
RESPONSE_INCOMPLETE = responses(
    text_delta("Half an ans"),
    response_end("response.incomplete", "incomplete", ',"incomplete_details":{"reason":"max_output_tokens"}'),
)
RESPONSE_COMPLETED = responses(text_delta("Fine."), response_end("response.completed", "completed", ""))
RESPONSE_REFUSAL = responses(
    'event: response.refusal.delta\ndata: {"type":"response.refusal.delta","sequence_number":1,'
    '"item_id":"msg_1","output_index":0,"content_index":0,"delta":"No, I will not."}\n\n',
    response_end("response.completed", "completed", ""),
)
RESPONSE_FUNCTION_CALL = responses(
    'event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":1,'
    '"output_index":0,"item":{"id":"fc_1","type":"function_call","status":"in_progress",'
    '"call_id":"call_1","name":"get_weather","arguments":""}}\n\n',
    'event: response.function_call_arguments.delta\ndata: {"type":"response.function_call_arguments.delta",'
    '"sequence_number":2,"item_id":"fc_1","output_index":0,"delta":"{}"}\n\n',
    response_end("response.completed", "completed", ""),
)
CHAT_LENGTH = chat(
    '{"index":0,"delta":{"role":"assistant","content":"Once upon a"}}',
    '{"index":0,"delta":{},"finish_reason":"length"}',
)
CHAT_STOP = chat(
    '{"index":0,"delta":{"role":"assistant","content":"Hello."}}',
    '{"index":0,"delta":{},"finish_reason":"stop"}',
)
CHAT_REFUSAL = chat(
    '{"index":0,"delta":{"role":"assistant","refusal":"I can\'t "}}',
    '{"index":0,"delta":{"refusal":"do that."}}',
    '{"index":0,"delta":{},"finish_reason":"stop"}',
)
CHAT_TOOL_CALL = chat(
    '{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function",'
    '"function":{"name":"get_weather","arguments":"{}"}}]}}',
    '{"index":0,"delta":{},"finish_reason":"tool_calls"}',
)


CASES = [
    # (id, recording, exit code, what stderr must say)
    ("failed-run", FAILED_RUN, 3, ["failed", "server_error", "The model crashed"]),
    ("cancelled-run", CANCELLED_RUN, 3, ["failed", "cancelled"]),
    ("incomplete-run", INCOMPLETE_RUN, 4, ["incomplete", "max_completion_tokens"]),
    ("incomplete-message", INCOMPLETE_MESSAGE, 4, ["incomplete", "msg_1", "content_filter"]),
    ("requires-action", REQUIRES_ACTION, 5, ["needs a tool call", 'get_weather({"city":"Paris"})']),
    ("response-failed", RESPONSE_FAILED, 3, ["failed", "resp_1", "The model crashed"]),
    ("response-incomplete", RESPONSE_INCOMPLETE, 4, ["incomplete", "max_output_tokens"]),
    ("response-function-call", RESPONSE_FUNCTION_CALL, 5, ["needs a tool call", "get_weather({})"]),
    ("chat-length", CHAT_LENGTH, 4, ["incomplete", "finish_reason 'length'"]),
    ("chat-tool-calls", CHAT_TOOL_CALL, 5, ["needs a tool call", "get_weather({})"]),
    ("chat-refusal", CHAT_REFUSAL, 6, ["refusal: I can't do that."]),
    ("response-refusal", RESPONSE_REFUSAL, 6, ["refusal: No, I will not."]),
    ("assistants-refusal", ASSISTANTS_REFUSAL, 6, ["refusal: I cannot help with that."]),
]


@pytest.mark.parametrize("command", ["text", "cat"])
@pytest.mark.parametrize(("recording", "code", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_answer_that_is_not_complete_exits_non_zero_with_one_line_saying_why(
    command: str, recording: str, code: int, said: list[str]
) -> None:
    result = run_cli(command, "-", stdin=recording.encode())
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for words in said:
        assert words in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["text", "cat"])
@pytest.mark.parametrize(
    "recording", [COMPLETED_RUN, RESPONSE_COMPLETED, CHAT_STOP], ids=["run", "response", "chat"]
)
def test_a_complete_answer_exits_zero_with_nothing_on_stderr(command: str, recording: str) -> None:
    result = run_cli(command, "-", stdin=recording.encode())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_text_prints_the_partial_answer_before_the_reason() -> None:
    result = run_cli("text", "-", stdin=RESPONSE_INCOMPLETE.encode())
    assert result.stdout == "Half an ans\n"
    assert result.stderr.startswith("streamer: incomplete: response resp_1 ended incomplete")


def test_a_refusal_goes_to_stderr_marked_and_not_to_stdout() -> None:
    result = run_cli("text", "-", stdin=CHAT_REFUSAL.encode())
    assert result.stdout == ""
    assert result.stderr == "streamer: refusal: I can't do that.\n"


def test_cat_shows_refusal_text_not_an_empty_string() -> None:
    for recording in (CHAT_REFUSAL, RESPONSE_REFUSAL, ASSISTANTS_REFUSAL):
        result = run_cli("cat", "-", stdin=recording.encode())
        assert "''" not in result.stdout
        assert any("refusal '" in line or 'refusal "' in line for line in result.stdout.splitlines())


def test_cat_names_image_deltas_and_response_items() -> None:
    result = run_cli("cat", str(RECORDINGS / "synthetic_image_refusal_crlf_01.sse"))
    assert "image file file-img123" in result.stdout
    assert 'refusal "I can\'t describe people in images."' in result.stdout
    items = run_cli("cat", "-", stdin=RESPONSE_FUNCTION_CALL.encode()).stdout.splitlines()
    added = next(line for line in items if "ResponseOutputItemAdded" in line)
    assert added.split()[2:] == ["function_call", "fc_1", "get_weather", "in_progress"]


def test_the_recorded_failure_cases_have_their_own_codes() -> None:
    codes = {
        name: run_cli("text", str(RECORDINGS / name)).returncode
        for name in (
            "synthetic_text_01.sse",
            "synthetic_run_failed_01.sse",
            "synthetic_incomplete_01.sse",
            "synthetic_function_call_01.sse",
            "synthetic_error_event_01.sse",
        )
    }
    assert codes == {
        "synthetic_text_01.sse": 0,
        "synthetic_run_failed_01.sse": 3,
        "synthetic_incomplete_01.sse": 4,
        "synthetic_function_call_01.sse": 5,
        "synthetic_error_event_01.sse": 1,
    }


def test_server_text_in_the_reason_is_escaped() -> None:
    hostile = FAILED_RUN.replace("The model crashed", "crash\\u001b[2J\\nstreamer: fine")
    result = run_cli("text", "-", stdin=hostile.encode())
    assert result.returncode == 3
    assert "\x1b" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "\\x1b[2J\\nstreamer: fine" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    for command in ("text", "cat"):
        out = run_cli(command, "--help").stdout
        assert "exit codes" in out
        for code in ("0", "1", "2", "3", "4", "5", "6"):
            assert any(line.split()[:1] == [code] for line in out.splitlines()), code


# --- input that is not SSE ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["text", "cat"])
def test_random_bytes_are_reported_as_not_sse(command: str) -> None:
    data = os.urandom(100_000).replace(b"data:", b"xxxx:")
    result = run_cli(command, "-", stdin=data)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "no server-sent events in the input; it starts with b" in line  # b'...' or b"..."
    assert "incomplete" not in line and len(result.stderr.splitlines()) == 1
    assert line.isprintable()


def test_plain_text_is_reported_as_not_sse_with_its_first_bytes_escaped() -> None:
    result = run_cli("text", "-", stdin=b"hello\tworld\nthis is not a stream\n")
    assert result.returncode == 1
    assert "no server-sent events in the input; it starts with b'hello\\tworld\\nthis is" in result.stderr


def test_an_empty_file_is_reported_as_empty(tmp_path: object) -> None:
    result = run_cli("cat", "-", stdin=b"")
    assert result.returncode == 1
    assert result.stderr == "streamer: error: no server-sent events in the input: it is empty\n"


def test_the_readme_table_lists_every_exit_code() -> None:
    from streamer.cli.outcome import EXIT_CODES

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    codes = {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert codes == set(EXIT_CODES)


def test_a_stream_cut_inside_its_first_event_is_still_reported_as_cut() -> None:
    result = run_cli("text", "-", stdin=b'event: thread.created\ndata: {"id": "thread_1"')
    assert result.returncode == 1
    assert "no server-sent events" not in result.stderr
    assert "in the middle of an event" in result.stderr
