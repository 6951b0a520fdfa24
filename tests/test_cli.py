"""The `streamer` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from streamer.testing.replay import ReplayServer, sse_reply

from .conftest import RECORDINGS

TEXT = RECORDINGS / "synthetic_text_01.sse"
HAIKU_LINE = "Streams flow like rivers \u2014"


def run_cli(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "streamer", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    )


def test_demo_streams_the_replayed_run_and_says_so() -> None:
    result = run_cli("demo", "--delay", "0", "--seconds", "2")
    assert result.returncode == 0, result.stderr
    assert "replayed recording" in result.stdout
    assert HAIKU_LINE in result.stdout
    assert "run completed" in result.stdout
    assert "5-tick moving average" in result.stdout
    assert "ticks" in result.stdout.splitlines()[-1]


def test_cat_prints_one_line_per_event() -> None:
    result = run_cli("cat", str(TEXT))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 27
    assert lines[0].split()[:3] == ["0", "ThreadCreated", "thread_abc123"]
    assert lines[-1].split()[1] == "DoneEvent"
    assert any("ThreadMessageDelta" in line and "'Hello'" in line for line in lines)


def test_cat_json_lines() -> None:
    result = run_cli("cat", "--json", str(TEXT))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["event"] == "thread.created" and records[0]["data"]["id"] == "thread_abc123"
    assert records[-1] == {"index": 26, "event": "done", "data": "[DONE]"}


def test_cat_reads_stdin() -> None:
    result = run_cli("cat", "-", stdin=TEXT.read_bytes())
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 27


def test_truncated_input_prints_what_was_valid_then_fails_in_one_line() -> None:
    body = TEXT.read_bytes()
    result = run_cli("cat", "-", stdin=body[: len(body) // 2])
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].split()[1] == "ThreadCreated"
    assert result.stderr.count("\n") == 1 and "before its 'done' event" in result.stderr


def test_malformed_input_fails_with_the_decode_error() -> None:
    result = run_cli("cat", "-", stdin=b"event: thread.created\ndata: {nope\n\n")
    assert result.returncode == 1
    assert "cannot decode event #0" in result.stderr


def test_text_writes_only_the_assistant_text() -> None:
    result = run_cli("text", str(TEXT))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello! Here is a haiku:") and HAIKU_LINE in result.stdout
    assert "thread" not in result.stdout


def test_text_from_an_error_stream_fails_after_the_partial_text() -> None:
    result = run_cli("text", str(RECORDINGS / "synthetic_error_event_01.sse"))
    assert result.returncode == 1
    assert result.stdout.strip() == "Partial"
    assert "server_error" in result.stderr


def test_missing_file_is_a_one_line_error() -> None:
    result = run_cli("cat", "no-such-file.sse")
    assert result.returncode != 0 and "cannot read no-such-file.sse" in result.stderr


def test_run_streams_from_an_openai_compatible_server() -> None:
    with ReplayServer([sse_reply(TEXT)]) as server:
        result = run_cli("run", "--assistant", "asst_1", "--base-url", server.base_url, "Write a haiku")
    assert result.returncode == 0, result.stderr
    assert HAIKU_LINE in result.stdout
    assert "[run completed]" in result.stderr
    assert server.requests[0].body["thread"] == {"messages": [{"role": "user", "content": "Write a haiku"}]}


def test_run_without_a_key_says_what_to_set(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-m", "streamer", "run", "--assistant", "asst_1", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=str(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("streamer: error: no OpenAI API key")
    assert "Traceback" not in result.stderr


def test_every_subcommand_has_help() -> None:
    for command in ("cat", "text", "run", "chat", "replay", "demo"):
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage: streamer" in result.stdout


def chat_body() -> bytes:
    from .openai.test_chat import CHUNKS, encode

    return encode(CHUNKS)


def responses_body() -> bytes:
    from .openai.test_responses import encode, realistic

    return encode(realistic(["Hi ", "there"]))


def test_cat_recognises_a_chat_completion_stream() -> None:
    result = run_cli("cat", "-", stdin=chat_body())
    assert result.returncode == 5, result.stderr  # the answer ends asking for tool calls
    assert result.stderr.startswith("streamer: needs a tool call: finish_reason 'tool_calls'")
    lines = result.stdout.splitlines()
    assert all(line.split()[1] == "ChatChunk" for line in lines)
    assert any("finish_reason=tool_calls" in line for line in lines)


def test_cat_recognises_a_responses_stream() -> None:
    result = run_cli("cat", "-", stdin=responses_body())
    assert result.returncode == 5, result.stderr  # its output has a function call to answer
    assert 'lookup({"q": "x"})' in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[1:3] == ["ResponseCreated", "resp_1"]
    assert lines[-1].split()[1:4] == ["ResponseCompleted", "resp_1", "completed"]


def test_text_works_for_all_three_kinds() -> None:
    assert run_cli("text", "-", stdin=chat_body()).stdout == "Hello \u00e9\U0001f600\n"
    assert run_cli("text", "-", stdin=responses_body()).stdout == "Hi there\n"
    assert HAIKU_LINE in run_cli("text", "-", stdin=TEXT.read_bytes()).stdout


def test_text_of_a_truncated_chat_stream_fails() -> None:
    body = chat_body()
    result = run_cli("text", "-", stdin=body[: len(body) - 20])
    assert result.returncode == 1 and "before 'data: [DONE]'" in result.stderr


def test_chat_command_streams_a_completion() -> None:
    from streamer.testing.replay import Reply

    with ReplayServer([Reply(body=chat_body())]) as server:
        result = run_cli("chat", "--base-url", server.base_url, "--model", "gpt-test", "hello")
    assert result.returncode == 5, result.stderr  # the recorded answer ends asking for tool calls
    assert "streamer: needs a tool call" in result.stderr
    assert result.stdout.strip() == "Hello \u00e9\U0001f600"
    assert "[finish_reason tool_calls]" in result.stderr
    assert server.requests[0].body["model"] == "gpt-test"
