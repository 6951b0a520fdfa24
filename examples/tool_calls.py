"""A full tool-call round trip: requires_action -> submit_tool_outputs -> the answer (offline).

A local OpenAI-compatible endpoint on 127.0.0.1 replays two recorded streams (the run asking for
`get_weather`, then the run's follow-up once the output is submitted), so this runs with no key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streamer.openai import Client, ThreadRunCompleted, ThreadRunRequiresAction
from streamer.testing.replay import ReplayServer, sse_reply

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def get_weather(city: str) -> str:
    """The tool the assistant calls (a stand-in for a real lookup)."""
    return json.dumps({"city": city, "temperature_c": 18, "sky": "clear"})


TOOLS = {"get_weather": get_weather}


def main() -> int:
    replies = [
        sse_reply(RECORDINGS / "synthetic_function_call_01.sse"),
        sse_reply(RECORDINGS / "synthetic_function_call_02_continue.sse"),
    ]
    with ReplayServer(replies) as server, Client(base_url=server.base_url) as client:
        print("(replaying recorded streams from a local endpoint; no API call is made)", file=sys.stderr)
        stream = client.create_thread_and_run_stream(
            "asst_abc123", thread={"messages": [{"role": "user", "content": "Weather in Paris?"}]}
        )
        while stream.next():
            match stream.event():
                case ThreadRunRequiresAction():
                    calls, _ = stream.required_action()
                    outputs = []
                    for call in calls:
                        assert call.function is not None
                        arguments = json.loads(call.function.arguments or "{}")
                        print(f"[tool call {call.function.name}({arguments})]", file=sys.stderr)
                        outputs.append(
                            {"tool_call_id": call.id, "output": TOOLS[call.function.name or ""](**arguments)}
                        )
                    stream.submit_tool_outputs(outputs)
                case ThreadRunCompleted(data=run):
                    print(f"\n[run {run.status}]", file=sys.stderr)
                case _:
                    text, ok = stream.message_delta_text()
                    if ok:
                        print(text, end="", flush=True)
        print()
        if stream.err() is not None:
            print(f"stream failed: {stream.err()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
