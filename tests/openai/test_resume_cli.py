"""`streamer replay --cut-after N --cut-within --retry MS`: a client resumes a background response."""

from __future__ import annotations

import time
from pathlib import Path

from streamer.openai import ResponseStream
from streamer.openai.client import Client, Resume

from ..test_cli_replay import start

RECORDING = Path(__file__).parent / "real_streams" / "responses_pydantic-ai_7.sse"


def test_the_replay_command_cuts_mid_event_sends_retry_and_the_client_resumes() -> None:
    replay = start(str(RECORDING), "--cut-after", "6", "--cut-within", "--cut-resumes", "--retry", "20")
    try:
        with Client(base_url=replay.base_url) as client:
            started = time.monotonic()
            stream = client.responses_stream(model="m", input="x", background=True, resume=Resume(3))
            got = list(stream)
            elapsed = time.monotonic() - started
    finally:
        _, err = replay.stop()
    assert stream.err() is None
    assert got == list(ResponseStream.from_chunks([RECORDING.read_bytes()]))
    # 17 events, cut in the 7th of every connection: 6 per connection, so two resumes
    assert stream.resumes == 2
    assert elapsed >= 0.04  # a lower bound: the two 20 ms retry: waits were made
    assert "starting_after=5" in err and "starting_after=11" in err
