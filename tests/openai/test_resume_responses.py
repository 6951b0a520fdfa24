"""Background responses resume after a cut, exactly once, through real sockets on 127.0.0.1.

A recorded response stream is served by the replay server, cut at every event boundary and in the
middle of every event; the client resumes with ``GET /responses/{id}?stream=true&starting_after=N``
and the scanner must hand out exactly the events of the uncut stream, with equal text and snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import (
    ConnectionLost,
    InternalServerError,
    ProtocolError,
    StreamTimeout,
    UsageError,
)
from streamer.openai import AsyncResponseStream, ResponseStream
from streamer.openai.client import AsyncClient, Client, Resume, Timeouts
from streamer.testing.replay import Faults, Recorded, Recording, Recordings, ReplayServer, Reply

REAL = Path(__file__).parent / "real_streams"
#: A real background response (17 events, each with a sequence_number).
BACKGROUND = Recording.load(REAL / "responses_pydantic-ai_7.sse")
#: A real function-call response (14 events): snapshots of calls must survive the join too.
FUNCTION_CALL = Recording.load(REAL / "responses_openai-dotnet_5.sse")
KEY = "sk-test-resume-SECRET-do-not-log"
QUICK = Resume(attempts=3, initial_backoff=0.0)


def uncut(recording: Recording) -> ResponseStream:
    stream = ResponseStream.from_chunks([recording.body])
    assert list(stream) and stream.err() is None
    return stream


def cut_positions(recording: Recording) -> list[tuple[int, bool]]:
    """Every event boundary (after 1..n-1 events) and the middle of every event after the first."""
    n = len(recording.events)
    return [(k, False) for k in range(1, n)] + [(k, True) for k in range(1, n)]


@pytest.fixture(scope="module")
def recordings() -> Recordings:
    return Recordings([BACKGROUND])


@pytest.fixture(scope="module")
def server(recordings: Recordings) -> Iterator[ReplayServer]:
    with ReplayServer(responder=recordings) as server:
        yield server


@pytest.fixture(scope="module")
def calls_server() -> Iterator[tuple[ReplayServer, Recordings]]:
    recordings = Recordings([FUNCTION_CALL])
    with ReplayServer(responder=recordings) as server:
        yield server, recordings


def check_same(stream: ResponseStream | AsyncResponseStream, got: list[Any], recording: Recording) -> None:
    want = uncut(recording)
    expected = list(ResponseStream.from_chunks([recording.body]))
    assert got == expected
    assert [e.sequence_number for e in got] == [e.sequence_number for e in expected]
    assert [e.index for e in got] == list(range(len(expected)))
    assert stream.text() == want.text()
    assert stream.final_response() == want.final_response()
    assert stream.function_calls() == want.function_calls()


@pytest.mark.parametrize(("after", "within"), cut_positions(BACKGROUND))
def test_a_cut_anywhere_resumes_with_exactly_the_uncut_events(
    server: ReplayServer, recordings: Recordings, after: int, within: bool
) -> None:
    recordings.cut_after, recordings.cut_within = after, within
    start = len(server.requests)
    with Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="2+2?", background=True, resume=QUICK)
        got = list(stream)
    assert stream.err() is None and stream.ended
    check_same(stream, got, BACKGROUND)
    assert stream.resumes == 1
    requests = server.requests[start:]
    assert [r.method for r in requests] == ["POST", "GET"]
    assert requests[0].body["background"] is True
    # mid-event: the event cut in half is not handed out, so the resume starts after the one before
    assert requests[1].path.endswith(f"starting_after={after - 1}")


@pytest.mark.parametrize(("after", "within"), cut_positions(FUNCTION_CALL))
def test_function_call_snapshots_survive_every_cut(
    calls_server: tuple[ReplayServer, Recordings], after: int, within: bool
) -> None:
    server, recordings = calls_server
    recordings.cut_after, recordings.cut_within = after, within
    with Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = list(stream)
    assert stream.err() is None
    check_same(stream, got, FUNCTION_CALL)
    assert stream.function_calls() and stream.resumes == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("after", "within"), cut_positions(BACKGROUND)[::3])
async def test_async_a_cut_resumes_with_exactly_the_uncut_events(
    server: ReplayServer, recordings: Recordings, after: int, within: bool
) -> None:
    recordings.cut_after, recordings.cut_within = after, within
    async with AsyncClient(KEY, base_url=server.base_url) as client:
        stream = await client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = [event async for event in stream]
    assert stream.err() is None
    check_same(stream, got, BACKGROUND)
    assert stream.resumes == 1


def test_resumed_segments_cut_again_resume_again_until_the_end() -> None:
    recordings = Recordings([BACKGROUND], cut_after=3, cut_resumes=True)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=Resume(2, 0.0))
        got = list(stream)
    assert stream.err() is None
    check_same(stream, got, BACKGROUND)
    # 17 events, 3 per connection: 5 resumes; the budget (2 in a row) restarts after each progress
    assert stream.resumes == 5


def test_an_idle_timeout_resumes() -> None:
    recordings = Recordings([BACKGROUND], stall_after=6, stall_for=3.0)
    timeouts = Timeouts(idle=0.4)
    with (
        ReplayServer(responder=recordings) as server,
        Client(KEY, base_url=server.base_url, timeouts=timeouts) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = list(stream)
    assert stream.err() is None
    check_same(stream, got, BACKGROUND)
    assert stream.resumes == 1
    assert server.requests[-1].path.endswith("starting_after=5")


def scripted(first: Faults, resumed: Any) -> Any:
    """A responder: the POST gets the recording with ``first`` faults, each GET gets ``resumed(request)``."""

    def respond(request: Recorded) -> Reply:
        if request.method == "POST":
            body, ends = BACKGROUND.served()
            return first.reply(body, ends, resumed=False)
        reply: Reply = resumed(request)
        return reply

    return respond


def always_cut(request: Recorded) -> Reply:
    start = BACKGROUND.start_after(starting_after=int(request.path.rsplit("=", 1)[1]))
    body, ends = BACKGROUND.served(start or 0)
    return Faults(cut_after=0, cut_resumes=True).reply(body, ends, resumed=True)


def test_a_server_that_always_cuts_spends_the_budget_and_err_is_the_original_cut() -> None:
    with (
        ReplayServer(responder=scripted(Faults(cut_after=4), always_cut)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = []
        while stream.next():
            got.append(stream.event())
    error = stream.err()
    assert isinstance(error, ConnectionLost)
    assert error.resume_attempts == 3
    assert isinstance(error.resume_cause, ConnectionLost) and error.resume_cause is not error
    assert len(got) == 4 and stream.resumes == 3
    assert len(server.requests) == 4  # the POST and 3 resumes


def test_reconnects_refused_with_5xx_spend_the_budget_with_the_status_as_cause() -> None:
    def unavailable(request: Recorded) -> Reply:
        from streamer.testing.replay import error_reply

        return error_reply(503, "busy", "server_error")

    with (
        ReplayServer(responder=scripted(Faults(cut_after=4), unavailable)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=Resume(2, 0.0))
        while stream.next():
            pass
    error = stream.err()
    assert isinstance(error, ConnectionLost) and error.resume_attempts == 2
    assert isinstance(error.resume_cause, InternalServerError)
    assert stream.resumes == 0 and len(server.requests) == 3


def test_a_404_on_resume_ends_at_once_with_the_original_error() -> None:
    def gone(request: Recorded) -> Reply:
        from streamer.testing.replay import error_reply

        return error_reply(404, "no such response", "not_found")

    with (
        ReplayServer(responder=scripted(Faults(cut_after=4), gone)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        while stream.next():
            pass
    error = stream.err()
    assert isinstance(error, ConnectionLost) and error.resume_attempts == 1
    assert len(server.requests) == 2


_FIRST_TEXT_DELTA = [event.event for event in sse.iter_events([BACKGROUND.body])].index(
    "response.output_text.delta"
)


# Cut after event 4 (the repeat is a structural event, the full path) and after the first text
# delta (the repeat takes the Responses hot path, which must check the resume point too).
@pytest.mark.parametrize("cut_after", [4, _FIRST_TEXT_DELTA + 1])
def test_a_duplicate_sequence_number_after_a_resume_is_a_protocol_error(cut_after: int) -> None:
    def repeats_one(request: Recorded) -> Reply:
        start = BACKGROUND.start_after(starting_after=int(request.path.rsplit("=", 1)[1]))
        body, _ = BACKGROUND.served((start or 1) - 1)  # the last event handed out, again
        return Reply(body=body)

    with (
        ReplayServer(responder=scripted(Faults(cut_after=cut_after), repeats_one)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = []
        while stream.next():
            got.append(stream.event())
    error = stream.err()
    assert isinstance(error, ProtocolError), error
    last = got[-1].sequence_number
    assert f"sequence_number {last}, not above {last}" in str(error)
    assert got[-1].name in str(error)
    assert len(got) == cut_after


def test_a_cut_after_the_final_event_needs_no_resume(server: ReplayServer, recordings: Recordings) -> None:
    recordings.cut_after, recordings.cut_within = len(BACKGROUND.events), False
    start = len(server.requests)
    with Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        got = list(stream)
    assert stream.err() is None and stream.resumes == 0
    check_same(stream, got, BACKGROUND)
    assert len(server.requests) - start == 1


def test_a_cut_before_response_created_cannot_resume() -> None:
    recordings = Recordings([BACKGROUND], cut_after=0, cut_within=True)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        assert not stream.next()
    assert isinstance(stream.err(), ConnectionLost)
    assert len(server.requests) == 1


def test_close_from_another_thread_during_a_resume_wait_returns_promptly() -> None:
    recordings = Recordings([BACKGROUND], cut_after=4, retry_ms=30_000)  # the server asks for 30 s
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        for _ in range(4):
            assert stream.next()
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        assert not stream.next()  # blocks in the 30 s wait until close()
        elapsed = time.monotonic() - started
    assert elapsed < 10  # generous: the point is "not the 30 s wait"
    assert stream.err() is None and stream.closed and not stream.ended
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_async_aclose_from_another_task_during_a_resume_wait_returns_promptly() -> None:
    recordings = Recordings([BACKGROUND], cut_after=4, retry_ms=30_000)
    with ReplayServer(responder=recordings) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            stream = await client.responses_stream(model="m", input="x", background=True, resume=QUICK)
            for _ in range(4):
                assert await stream.next()
            results: list[bool] = []

            async def read() -> None:
                results.append(await stream.next())

            with anyio.fail_after(10):  # generous: the point is "not the 30 s wait"
                async with anyio.create_task_group() as tg:
                    tg.start_soon(read)
                    await anyio.sleep(0.3)
                    await stream.aclose()
    assert results == [False] and stream.err() is None


@pytest.mark.anyio
async def test_async_budget_exhaustion_keeps_the_original_error() -> None:
    with ReplayServer(responder=scripted(Faults(cut_after=4), always_cut)) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            stream = await client.responses_stream(model="m", input="x", background=True, resume=QUICK)
            while await stream.next():
                pass
    error = stream.err()
    assert isinstance(error, ConnectionLost) and error.resume_attempts == 3


@pytest.mark.anyio
async def test_async_an_idle_timeout_resumes() -> None:
    recordings = Recordings([BACKGROUND], stall_after=6, stall_for=3.0)
    with ReplayServer(responder=recordings) as server:
        async with AsyncClient(KEY, base_url=server.base_url, timeouts=Timeouts(idle=0.4)) as client:
            stream = await client.responses_stream(model="m", input="x", background=True, resume=QUICK)
            got = [event async for event in stream]
    assert stream.err() is None
    check_same(stream, got, BACKGROUND)


def test_each_resume_is_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    recordings = Recordings([BACKGROUND], cut_after=5)
    caplog.set_level(logging.DEBUG, logger="streamer")
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        list(stream)
    lines = [
        r.getMessage() for r in caplog.records if r.name == "streamer.client" and r.levelno == logging.INFO
    ]
    assert any("resuming after ConnectionLost" in line and "starting_after=4" in line for line in lines)
    assert any("resumed" in line for line in lines)
    assert KEY not in caplog.text and "SECRET" not in caplog.text


def test_the_total_deadline_spans_the_resumes() -> None:
    recordings = Recordings([BACKGROUND], cut_after=4, retry_ms=100)
    timeouts = Timeouts(total=0.05)
    with (
        ReplayServer(responder=recordings) as server,
        Client(KEY, base_url=server.base_url, timeouts=timeouts) as client,
    ):
        stream = client.responses_stream(model="m", input="x", background=True, resume=QUICK)
        while stream.next():
            pass
    error = stream.err()
    assert isinstance(error, ConnectionLost) and isinstance(error.resume_cause, StreamTimeout)
    assert error.resume_cause.kind == "total"


# --- no resume where exactly-once cannot be promised --------------------------------------------


def test_resume_without_background_is_a_usage_error_that_says_why() -> None:
    with Client(KEY, base_url="http://127.0.0.1:9") as client, pytest.raises(UsageError, match="background"):
        client.responses_stream(model="m", input="x", resume=3)


def test_a_cut_in_a_response_that_is_not_background_stays_an_error() -> None:
    recordings = Recordings([BACKGROUND], cut_after=5)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x")
        while stream.next():
            pass
    assert isinstance(stream.err(), ConnectionLost)
    assert stream.resumes == 0 and len(server.requests) == 1
    assert "background" not in server.requests[0].body


def test_a_cut_chat_completion_stays_an_error() -> None:
    chat = Recording.load(REAL / "chat_openai-python_5.sse")
    with (
        ReplayServer(responder=Recordings([chat], cut_after=3)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.chat_completions_stream(model="m", messages=[])
        while stream.next():
            pass
    assert isinstance(stream.err(), ConnectionLost) and len(server.requests) == 1


def test_a_cut_assistants_run_stays_an_error() -> None:
    run = Recording.load(REAL / "assistants_openai-dotnet_13.sse")
    with (
        ReplayServer(responder=Recordings([run], cut_after=3)) as server,
        Client(KEY, base_url=server.base_url) as client,
    ):
        stream = client.create_thread_and_run_stream("asst_1")
        while stream.next():
            pass
    assert isinstance(stream.err(), ConnectionLost) and len(server.requests) == 1


def test_resume_zero_turns_resuming_off() -> None:
    recordings = Recordings([BACKGROUND], cut_after=5)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_stream(model="m", input="x", background=True, resume=0)
        while stream.next():
            pass
    assert isinstance(stream.err(), ConnectionLost) and stream.err().resume_attempts == 0  # type: ignore[union-attr]
    assert len(server.requests) == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_a_bad_resume_budget_is_a_usage_error(bad: Any) -> None:
    with Client(KEY, base_url="http://127.0.0.1:9") as client, pytest.raises(UsageError):
        client.responses_stream(model="m", input="x", background=True, resume=bad)


# --- by hand: responses_retrieve_stream and from_chunks ------------------------------------------


def test_resume_by_hand_with_retrieve_stream_and_the_cut_stream_as_snapshot() -> None:
    recordings = Recordings([BACKGROUND], cut_after=7, cut_within=True)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        first = client.responses_stream(model="m", input="x", background=True, resume=0)
        head = []
        while first.next():
            head.append(first.event())
        assert isinstance(first.err(), ConnectionLost)
        assert first.response_id == BACKGROUND.response_id and first.sequence_number == 6
        rest = client.responses_retrieve_stream(
            first.response_id or "", starting_after=first.sequence_number, snapshot=first
        )
        tail = list(rest)
    assert rest.err() is None
    want = uncut(BACKGROUND)
    assert head + tail == list(ResponseStream.from_chunks([BACKGROUND.body]))
    assert [e.index for e in tail] == list(range(len(head), len(head) + len(tail)))
    assert rest.text() == want.text() and rest.final_response() == want.final_response()
    assert server.requests[-1].path.endswith("stream=true&starting_after=6")


def test_retrieve_stream_resumes_after_a_cut_too() -> None:
    recordings = Recordings([BACKGROUND], cut_after=3, cut_resumes=True)
    with ReplayServer(responder=recordings) as server, Client(KEY, base_url=server.base_url) as client:
        stream = client.responses_retrieve_stream(BACKGROUND.response_id or "", resume=QUICK)
        got = list(stream)
    assert stream.err() is None
    assert got == list(ResponseStream.from_chunks([BACKGROUND.body]))
    assert stream.resumes == 5


@pytest.mark.anyio
async def test_async_retrieve_stream_by_hand() -> None:
    with ReplayServer(responder=Recordings([BACKGROUND])) as server:
        async with AsyncClient(KEY, base_url=server.base_url) as client:
            stream = await client.responses_retrieve_stream(BACKGROUND.response_id or "", starting_after=9)
            got = [event async for event in stream]
    assert [e.sequence_number for e in got] == list(range(10, 17))
    assert stream.err() is None


def test_from_chunks_continues_from_a_response_snapshot() -> None:
    events = list(ResponseStream.from_chunks([BACKGROUND.body]))
    cut = 8
    text_so_far = "".join(
        getattr(e, "delta", "") or "" for e in events[:cut] if e.name.endswith("text.delta")
    )
    snapshot = {
        "id": BACKGROUND.response_id,
        "status": "in_progress",
        "output": [{"type": "message", "id": "m", "content": [{"type": "output_text", "text": text_so_far}]}],
    }
    tail = b"".join(sse.encode(e) for e in BACKGROUND.events[cut:])
    stream = ResponseStream.from_chunks([tail], starting_after=cut - 1, snapshot=snapshot)
    rest = list(stream)
    assert stream.err() is None and rest == events[cut:]
    assert stream.text() == uncut(BACKGROUND).text()
    assert stream.response_id == BACKGROUND.response_id


def test_from_chunks_refuses_a_snapshot_of_the_wrong_kind() -> None:
    with pytest.raises(UsageError, match="snapshot"):
        ResponseStream.from_chunks([b""], snapshot=42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="starting_after"):
        ResponseStream.from_chunks([b""], starting_after="3")  # type: ignore[arg-type]


# --- the join itself, for any cut byte and any chunking (no sockets) ------------------------------


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, at, turn = [], 0, 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        pieces.append(data[at : at + size])
        at, turn = at + size, turn + 1
    return pieces


@given(
    recording=st.sampled_from([BACKGROUND, FUNCTION_CALL]),
    cut=st.floats(0.0, 1.0),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=6),
)
def test_a_stream_continued_from_the_cut_stream_equals_the_uncut_one(
    recording: Recording, cut: float, sizes: list[int]
) -> None:
    body = recording.body
    first = ResponseStream.from_chunks(chunked(body[: int(len(body) * cut)], sizes))
    head = []
    while first.next():
        head.append(first.event())
    if first.err() is None:  # the cut came after the final event: nothing is left to continue
        assert head == list(ResponseStream.from_chunks([body]))
        return
    start = recording.start_after(starting_after=first.sequence_number) if head else 0
    tail = b"".join(sse.encode(event) for event in recording.events[start or 0 :])
    second = ResponseStream.from_chunks(
        chunked(tail, sizes), starting_after=first.sequence_number, snapshot=first
    )
    rest = list(second)
    want = uncut(recording)
    assert second.err() is None
    assert head + rest == list(ResponseStream.from_chunks([body]))
    assert [e.index for e in head + rest] == list(range(len(recording.events)))
    assert second.text() == want.text() and second.function_calls() == want.function_calls()
    assert second.final_response() == want.final_response()
