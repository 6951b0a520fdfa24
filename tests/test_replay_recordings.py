"""`streamer.testing.replay.Recordings`: recorded streams routed by path, for users' own tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import sse
from streamer.openai import Client
from streamer.testing.replay import Recording, Recordings, ReplayServer, kind_of_path

from .conftest import RECORDINGS


def test_a_tool_call_round_trip_is_two_assistants_files_served_in_turn() -> None:
    recordings = Recordings.load(
        [
            RECORDINGS / "synthetic_function_call_01.sse",
            RECORDINGS / "synthetic_function_call_02_continue.sse",
        ]
    )
    with (
        ReplayServer(responder=recordings) as server,
        Client(base_url=server.base_url, api_key="k") as client,
    ):
        stream = client.create_thread_and_run_stream("asst_1", thread={"messages": []})
        while stream.next():
            calls, ok = stream.required_action()
            if ok:
                stream.submit_tool_outputs([{"tool_call_id": c.id, "output": "18 C"} for c in calls])
        assert stream.err() is None
        run = stream.final_run()
        assert run is not None and run.status == "completed"
        assert "Paris" in stream.text()
    paths = [request.path for request in server.requests]
    assert paths[0] == "/v1/threads/runs" and paths[1].endswith("/submit_tool_outputs")


def test_paths_choose_the_kind() -> None:
    assert kind_of_path("POST", "/v1/chat/completions") == "chat"
    assert kind_of_path("POST", "/chat/completions") == "chat"
    assert kind_of_path("POST", "/v1/responses") == "responses"
    assert kind_of_path("GET", "/v1/responses/resp_1?stream=true&starting_after=2") == "responses"
    assert kind_of_path("POST", "/v1/threads/runs") == "assistants"
    assert kind_of_path("POST", "/v1/threads/thread_1/runs") == "assistants"
    assert kind_of_path("POST", "/v1/threads/thread_1/runs/run_1/submit_tool_outputs") == "assistants"
    assert kind_of_path("GET", "/v1/chat/completions") is None
    assert kind_of_path("POST", "/v1/embeddings") is None


ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r"])


@given(
    st.lists(st.text(alphabet="abc xyz{}:0123", min_size=1, max_size=20), min_size=1, max_size=8),
    ENDINGS,
    st.integers(min_value=0, max_value=10),
)
def test_offset_after_n_events_holds_exactly_the_first_n(
    tmp_path_factory: pytest.TempPathFactory, datas: list[str], end: bytes, n: int
) -> None:
    body = b"".join(b"data: " + d.encode() + end + end for d in datas)
    path = tmp_path_factory.mktemp("rec") / "r.sse"
    path.write_bytes(body)
    recording = Recording.load(path)
    assert [e.data for e in recording.events] == datas
    head = body[: recording.offset_after(n)]
    decoder = sse.Decoder()
    decoded = decoder.feed(head) + decoder.close()
    assert [e.data for e in decoded] == datas[:n]
