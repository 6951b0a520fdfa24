"""The pure part of resuming: the budget option, the waits, and the cursors (no sockets)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import ConnectionLost, ProtocolError, UnexpectedEOF, UsageError
from streamer.openai._resume import EventSourceCursor, Reconnects, ResponseCursor, Resume, budget
from streamer.openai.responses import ResponseProtocol, ResponseStream


def test_the_budget_option_takes_a_resume_a_count_or_a_bool() -> None:
    default = Resume(attempts=7)
    assert budget(None, default, "resume") is default
    assert budget(None, None, "reconnect") is None
    assert budget(True, None, "resume") == Resume()
    assert budget(False, default, "resume") is None
    assert budget(0, default, "resume") is None
    assert budget(2, None, "resume") == Resume(attempts=2)
    assert budget(Resume(attempts=0), default, "resume") is None
    with pytest.raises(UsageError, match="resume must be 0 or more"):
        budget(-1, None, "resume")
    with pytest.raises(UsageError, match="not str"):
        budget("3", None, "resume")  # type: ignore[arg-type]


def test_a_negative_resume_setting_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Resume(attempts=-1)
    with pytest.raises(UsageError):
        Resume(max_backoff=-0.5)


@given(attempt=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_the_backoff_is_full_jitter_under_the_cap(attempt: int, seed: int) -> None:
    plan = Resume(initial_backoff=0.25, max_backoff=4.0, rng=random.Random(seed))
    assert 0.0 <= plan.delay(attempt, None) <= min(4.0, 0.25 * 2**attempt)


def test_the_server_retry_value_wins_and_is_capped() -> None:
    plan = Resume(initial_backoff=100.0, max_retry=60.0)
    assert plan.delay(0, 250) == 0.25
    assert plan.delay(5, sse.MAX_RETRY) == 60.0
    assert plan.delay(0, 250, asked=2.0) == 2.0  # Retry-After on a refused reconnect comes first


def test_a_response_cursor_resumes_after_the_last_sequence_number_with_a_quoted_id() -> None:
    protocol = ResponseProtocol()
    cursor = ResponseCursor()
    cursor.bind(protocol, "resp/../x y")
    assert cursor.unresumable() is None
    assert cursor.request().path == "responses/resp%2F..%2Fx%20y?stream=true"
    protocol.sequence, protocol.index = 12, 13
    assert cursor.request().path.endswith("?stream=true&starting_after=12")
    cursor.joined()
    assert protocol.joined and protocol.resumes == 1


def test_a_response_cursor_without_an_id_or_sequence_numbers_cannot_resume() -> None:
    protocol = ResponseProtocol()
    cursor = ResponseCursor()
    cursor.bind(protocol)
    assert "response.created" in (cursor.unresumable() or "")
    protocol.response_id, protocol.index = "resp_1", 3
    assert "sequence_number" in (cursor.unresumable() or "")


def test_an_event_source_cursor_sends_the_last_id_and_refuses_without_one() -> None:
    cursor = EventSourceCursor("GET", "events", None)
    assert cursor.unresumable() is None and cursor.request().headers == {}
    cursor.seen(sse.Event("tick", "a"))
    assert "no id" in (cursor.unresumable() or "")
    cursor.seen(sse.Event("tick", "b", "7"))
    cursor.seen(sse.Event("tick", "c"))  # a fresh decoder after a resume: no id of its own
    assert cursor.unresumable() is None
    assert cursor.request().headers == {"last-event-id": b"7"}


def test_progress_restarts_the_budget_and_giving_up_returns_the_original_cut() -> None:
    protocol = ResponseProtocol(response_id="resp_1", sequence=4, index=5)
    cursor = ResponseCursor()
    cursor.bind(protocol)
    plan = Reconnects(Resume(attempts=2, initial_backoff=0.0), cursor, "http://x/v1/responses")
    first = ConnectionLost("cut", "u")
    assert plan.cut(first, sse.Decoder())
    plan.wait()
    again = ConnectionLost("cut again", "u")
    assert plan.cut(again, sse.Decoder())  # no event since: the same run
    plan.wait()
    with pytest.raises(ConnectionLost) as raised:
        plan.wait()
    assert raised.value is first and first.resume_attempts == 2 and first.resume_cause is again
    protocol.index = 9  # events came: a later cut starts a new run with its own original
    later = ConnectionLost("later", "u")
    assert plan.cut(later, sse.Decoder())
    assert plan.wait() == 0.0


def unknown(number: int) -> bytes:
    data = json.dumps({"type": "response.future_kind", "sequence_number": number})
    return sse.encode(sse.Event("response.future_kind", data))


def test_an_unknown_event_moves_the_resume_point_and_may_not_repeat_after_a_join() -> None:
    stream = ResponseStream.from_chunks([unknown(5)], starting_after=4)
    assert stream.next() and stream.sequence_number == 5
    assert not stream.next() and isinstance(stream.err(), UnexpectedEOF)
    repeated = ResponseStream.from_chunks([unknown(5)], starting_after=5)
    assert not repeated.next()
    assert isinstance(repeated.err(), ProtocolError) and "not above 5" in str(repeated.err())


def test_without_a_join_sequence_numbers_are_not_checked() -> None:
    # a stream read from the start keeps today's behaviour: no order is imposed
    stream = ResponseStream.from_chunks([unknown(5) + unknown(3)])
    assert stream.next() and stream.next() and stream.sequence_number == 3
