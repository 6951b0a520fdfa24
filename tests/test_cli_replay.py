"""`streamer replay FILE...`: recorded streams on a local endpoint, for the official SDK, curl and us."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from streamer import sse

from .conftest import RECORDINGS
from .test_cli import chat_body, responses_body, run_cli

# The SDK warns that the Assistants API is deprecated; the replay serves it all the same.
pytestmark = pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning")

TEXT = RECORDINGS / "synthetic_text_01.sse"
HAIKU_LINE = "Streams flow like rivers \u2014"


class Replay:
    """A `streamer replay` process and the base URL it printed."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def stop(self) -> tuple[str, str]:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, err
        return out, err


@pytest.fixture
def recordings(tmp_path: Path) -> dict[str, Path]:
    files = {"chat": tmp_path / "chat.sse", "responses": tmp_path / "responses.sse", "assistants": TEXT}
    files["chat"].write_bytes(chat_body())
    files["responses"].write_bytes(responses_body())
    return files


def start(*args: str) -> Replay:
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "replay", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    found = re.search(r"on (http://127\.0\.0\.1:\d+/v1);", first)
    if found is None:
        process.kill()
        raise AssertionError(f"no address in {first!r}: {process.communicate()}")
    return Replay(process, found.group(1))


@pytest.fixture
def replay(recordings: dict[str, Path]) -> Iterator[Replay]:
    server = start(*(str(path) for path in recordings.values()))
    yield server
    if server.process.poll() is None:
        server.stop()


def sdk(replay: Replay) -> openai.OpenAI:
    return openai.OpenAI(api_key="not-a-real-key", base_url=replay.base_url, max_retries=0, timeout=30)


def test_the_official_sdk_streams_a_chat_completion(replay: Replay) -> None:
    stream = sdk(replay).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello \u00e9\U0001f600"
    _, log = replay.stop()
    assert "POST /v1/chat/completions -> 200 chat chat.sse" in log


def test_the_official_sdk_streams_a_response(replay: Replay) -> None:
    events = list(sdk(replay).responses.create(model="gpt-4.1", input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hi there"


def test_the_official_sdk_streams_an_assistants_run(replay: Replay) -> None:
    stream = sdk(replay).beta.threads.create_and_run(assistant_id="asst_1", stream=True)
    names = [event.event for event in stream]
    assert names[0] == "thread.created" and "thread.run.completed" in names


def test_the_official_sdk_resumes_a_response_with_starting_after(replay: Replay) -> None:
    all_events = list(sdk(replay).responses.create(model="gpt-4.1", input="hi", stream=True))
    resumed = list(sdk(replay).responses.retrieve("resp_1", stream=True, starting_after=3))
    assert [e.sequence_number for e in resumed] == [
        e.sequence_number for e in all_events if e.sequence_number > 3
    ]
    assert resumed[-1].type == "response.completed"


def test_last_event_id_resumes_after_that_event(tmp_path: Path) -> None:
    events = [
        sse.Event("response.created", json.dumps({"type": "response.created", "response": {"id": "r9"}}), "1")
    ]
    events += [
        sse.Event(
            "response.output_text.delta",
            json.dumps({"type": "response.output_text.delta", "delta": d}),
            str(i),
        )
        for i, d in enumerate(["a", "b", "c"], 2)
    ]
    path = tmp_path / "ids.sse"
    path.write_bytes(b"".join(map(sse.encode, events)))
    server = start(str(path))
    try:
        response = httpx.get(
            f"{server.base_url}/responses/r9", params={"stream": "true"}, headers={"Last-Event-ID": "2"}
        )
        assert response.status_code == 200
        assert [e.id for e in sse.iter_events([response.content])] == ["3", "4"]
        unknown = httpx.get(
            f"{server.base_url}/responses/r9", params={"stream": "true"}, headers={"Last-Event-ID": "99"}
        )
        assert unknown.status_code == 400 and "Last-Event-ID" in unknown.json()["error"]["message"]
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_curl_gets_the_recorded_stream(replay: Replay) -> None:
    result = subprocess.run(
        [
            "curl",
            "-sN",
            "-X",
            "POST",
            f"{replay.base_url}/threads/runs",
            "-H",
            "content-type: application/json",
            "-d",
            '{"assistant_id": "asst_1", "stream": true}',
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == TEXT.read_bytes()
    # ...and the stream decodes as the original does:
    assert HAIKU_LINE in run_cli("text", "-", stdin=result.stdout).stdout


def test_streamer_commands_use_the_replay(replay: Replay) -> None:
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "not-a-real-key"}
    result = run_cli("run", "--base-url", replay.base_url, "--assistant", "asst_1", "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert HAIKU_LINE in result.stdout


def test_a_path_it_does_not_serve_is_a_json_404(replay: Replay) -> None:
    response = httpx.post(f"{replay.base_url}/embeddings", json={"input": "x"})
    assert response.status_code == 404
    assert "the replay serves POST /v1/chat/completions" in response.json()["error"]["message"]


def test_a_request_that_is_not_for_a_stream_is_a_json_400(replay: Replay) -> None:
    response = httpx.post(f"{replay.base_url}/chat/completions", json={"model": "m", "stream": False})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == 'the replay serves streams only: send "stream": true'


def test_a_kind_without_a_recording_is_a_json_404() -> None:
    server = start(str(TEXT))
    try:
        with pytest.raises(openai.NotFoundError, match="no chat recording"):
            sdk(server).chat.completions.create(model="m", messages=[], stream=True)
    finally:
        server.stop()


# --- scripted faults --------------------------------------------------------------------------


def test_cut_after_ends_the_connection_after_n_events() -> None:
    server = start(str(TEXT), "--cut-after", "5")
    try:
        env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "not-a-real-key"}
        result = run_cli("run", "--base-url", server.base_url, "--assistant", "asst_1", "hi", env=env)
    finally:
        server.stop()
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("streamer: error: connection lost mid-stream")


def test_cut_after_is_exactly_after_n_events() -> None:
    server = start(str(TEXT), "--cut-after", "5")
    try:
        with httpx.stream("POST", f"{server.base_url}/threads/runs", json={"stream": True}) as response:
            body = b""
            with pytest.raises(httpx.HTTPError):
                for chunk in response.iter_raw():
                    body += chunk
    finally:
        server.stop()
    assert len(list(sse.iter_events([body]))) == 5


def test_stall_after_goes_silent_after_n_events() -> None:
    server = start(str(TEXT), "--stall-after", "2", "--stall-for", "30")
    try:
        body = b""
        with pytest.raises(httpx.ReadTimeout):  # noqa: SIM117
            with httpx.stream(
                "POST",
                f"{server.base_url}/threads/runs",
                json={"stream": True},
                timeout=httpx.Timeout(10, read=1.5),
            ) as response:
                for chunk in response.iter_raw():
                    body += chunk
        assert [e.event for e in sse.iter_events([body])] == ["thread.created", "thread.run.created"]
    finally:
        server.process.kill()
        server.process.communicate(timeout=15)


def test_status_429_is_an_openai_shaped_error() -> None:
    server = start(str(TEXT), "--status", "429")
    try:
        with pytest.raises(openai.RateLimitError):
            sdk(server).beta.threads.create_and_run(assistant_id="asst_1", stream=True)
    finally:
        server.stop()


def test_status_times_fails_only_the_first_requests_so_a_retry_succeeds() -> None:
    server = start(str(TEXT), "--status", "429", "--status-times", "1")
    try:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=2, timeout=30)
        names = [e.event for e in client.beta.threads.create_and_run(assistant_id="asst_1", stream=True)]
    finally:
        _, log = server.stop()
    assert names[-1] == "thread.run.completed" or "thread.run.completed" in names
    assert log.splitlines()[:2] == [
        "POST /v1/threads/runs -> 429 ",
        "POST /v1/threads/runs -> 200 assistants synthetic_text_01.sse",
    ]


# --- mistakes ---------------------------------------------------------------------------------


def test_a_file_that_is_not_a_recording_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n")
    result = run_cli("replay", str(path))
    assert result.returncode == 1
    assert result.stderr == f"streamer: error: {path} holds no server-sent events\n"
    missing = run_cli("replay", str(tmp_path / "missing.sse"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "No such file" in missing.stderr


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("replay", str(TEXT), "--port", str(port))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"streamer: error: cannot serve on 127.0.0.1:{port}: the address is already in use "
        "(choose another --port, or --port 0 for a free one)"
    ]


@pytest.mark.parametrize(
    ("option", "value"), [("--cut-after", "-1"), ("--status", "42"), ("--stall-for", "0"), ("--port", "x")]
)
def test_fault_options_are_checked(option: str, value: str) -> None:
    result = run_cli("replay", str(TEXT), option, value)
    assert result.returncode == 2 and f"argument {option}:" in result.stderr
    assert len(result.stderr.splitlines()) == 1
