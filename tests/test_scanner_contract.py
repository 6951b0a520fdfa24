"""One scanner contract, written once and run against every scanner class, sync and async.

The promises (README, DESIGN.md): a stream ends with ``err() is None`` only at its real end; a
truncated or hostile input ends it with a ``StreamError`` (never another exception); ``err()`` is
sticky; ``close()`` closes (idempotent, ``closed``, ``next()`` False, ``on_close`` once);
``event()`` misuse is ``NoCurrentEvent`` (a ``UsageError``); chunking never changes the events;
the context-manager and iteration protocols hold.

A new scanner joins with one line: a :class:`Case` in ``CASES`` (lifecycle) and, if it reads bytes,
a :class:`Wire` in ``WIRES`` (truncation, chunking, hostile payloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer import sse
from streamer.errors import DecodeError, NoCurrentEvent, StreamError, UnexpectedEOF, UsageError
from streamer.openai import (
    AsyncChatStream,
    AsyncResponseStream,
    AsyncRunStream,
    ChatStream,
    ResponseStream,
    RunStream,
)
from streamer.openai.client import AsyncEventStream, EventStream
from streamer.scanner import AsyncScanner, Scanner

from .conftest import RECORDINGS
from .openai.payloads import every_event

OnClose = Callable[[], object]

# ---------------------------------------------------------------------------------------------
# Valid streams of each wire, as (SSE event name, data) pairs: data is JSON-able, or a str sent as is.
# ---------------------------------------------------------------------------------------------

Stream = list[tuple[str, Any]]


class Raw(str):
    """Event data sent as it is (``[DONE]``, or text that is not JSON on purpose)."""


def recorded(name: str) -> Stream:
    """A recording from examples/recordings as (event, payload) pairs ("[DONE]" kept as text)."""
    body = (RECORDINGS / name).read_bytes()
    return [
        (e.event, Raw(e.data) if e.data == "[DONE]" else json.loads(e.data)) for e in sse.iter_events([body])
    ]


def encode(stream: Stream) -> bytes:
    """The SSE bytes of a stream: a :class:`Raw` payload as it is, anything else as JSON."""
    return b"".join(
        sse.encode(sse.Event(name, data if isinstance(data, Raw) else json.dumps(data)))
        for name, data in stream
    )


def chat_chunk(delta: dict[str, Any] | None, *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": choices,
        **extra,
    }


CHAT: Stream = [
    ("message", c)
    for c in [
        chat_chunk({"role": "assistant", "content": ""}),
        {
            **chat_chunk({"content": "Hel"}),
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "Hel"},
                    "finish_reason": None,
                    "logprobs": {
                        "content": [{"token": "Hel", "logprob": -0.1, "bytes": [72], "top_logprobs": []}]
                    },
                }
            ],
        },
        chat_chunk({"content": "lo \u00e9"}),
        chat_chunk({"refusal": "no"}),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}),
        chat_chunk({}, finish="tool_calls"),
        chat_chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}),
    ]
] + [("message", Raw("[DONE]"))]


def response(status: str) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "gpt-4.1",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
    }


def _responses() -> Stream:
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    call = {
        "id": "fc_1",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "c",
        "name": "f",
        "arguments": "",
    }
    where = {"output_index": 0, "item_id": "msg_1", "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response("in_progress")},
        {"type": "response.in_progress", "response": response("in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {"type": "response.output_text.delta", **where, "delta": "Hel", "logprobs": []},
        {"type": "response.output_text.delta", **where, "delta": "lo", "logprobs": []},
        {"type": "response.output_text.done", **where, "text": "Hello", "logprobs": []},
        {"type": "response.output_item.added", "output_index": 1, "item": call},
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 1,
            "item_id": "fc_1",
            "delta": '{"q":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 1,
            "item_id": "fc_1",
            "delta": "1}",
        },
        {"type": "response.completed", "response": response("completed")},
    ]
    return [(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


RESPONSES = _responses()
RUN_TEXT = recorded("synthetic_text_01.sse")
RUN_TOOLS = recorded("synthetic_function_call_01.sse")
RUN_EVERY = [*every_event()[:-1], ("done", Raw("[DONE]"))]  # every Assistants event but the error one


# ---------------------------------------------------------------------------------------------
# The factory tables.
# ---------------------------------------------------------------------------------------------


async def agen(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@dataclass(frozen=True, repr=False)
class Wire:
    """A scanner that reads bytes: how to open it (sync and async), and the streams it reads."""

    name: str
    open: Callable[[Iterable[bytes], OnClose | None], Scanner[Any]]
    aopen: Callable[[Iterable[bytes], OnClose | None], AsyncScanner[Any]]
    streams: list[Stream]  # valid complete streams; the first is the reference one
    has_end_marker: bool = True  # False: any cut at an event boundary is a clean end (raw SSE)

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


WIRES = [
    Wire("RunStream", lambda c, oc: RunStream.from_chunks(c, on_close=oc), lambda c, oc: AsyncRunStream.from_chunks(agen(c), on_close=oc), [RUN_TEXT, RUN_TOOLS, RUN_EVERY]),
    Wire("ChatStream", lambda c, oc: ChatStream.from_chunks(c, on_close=oc), lambda c, oc: AsyncChatStream.from_chunks(agen(c), on_close=oc), [CHAT]),
    Wire("ResponseStream", lambda c, oc: ResponseStream.from_chunks(c, on_close=oc), lambda c, oc: AsyncResponseStream.from_chunks(agen(c), on_close=oc), [RESPONSES]),
    Wire("EventStream", lambda c, oc: EventStream(sse.iter_events(c), on_close=oc), lambda c, oc: AsyncEventStream(sse.aiter_events(agen(c)), on_close=oc), [RUN_TEXT, CHAT], has_end_marker=False),
]  # fmt: skip


class Fails(StreamError):
    """The error the generic scanners' failing sources raise."""


def failing_source(items: list[int]) -> Iterator[int]:
    yield from items
    raise Fails("the source failed")


async def afailing_source(items: list[int]) -> AsyncIterator[int]:
    for item in items:
        yield item
    raise Fails("the source failed")


async def aitems(items: list[int]) -> AsyncIterator[int]:
    for item in items:
        yield item


@dataclass
class Case:
    """One scanner class for the lifecycle checks: open it ending cleanly ("ok") or failing ("fail")."""

    name: str
    is_async: bool
    open: Callable[[str, OnClose, contextlib.ExitStack], Any]
    ends_by_itself: bool = True  # False: a live feed, whose only clean end is close()

    def __str__(self) -> str:
        return self.name


def wire_case(wire: Wire, is_async: bool) -> Case:
    def open_(how: str, on_close: OnClose, _: contextlib.ExitStack) -> Any:
        body = encode(wire.streams[0])
        if how == "fail":
            body = body[: len(body) * 2 // 3 + 1] if wire.has_end_marker else body + b"data: cut"
        return (wire.aopen if is_async else wire.open)([body], on_close)

    return Case(("Async" if is_async else "") + wire.name.removeprefix("Async"), is_async, open_)


def generic(how: str, on_close: OnClose, _: contextlib.ExitStack) -> Scanner[int]:
    return Scanner([1, 2, 3] if how == "ok" else failing_source([1, 2]), on_close=on_close)


def generic_async(how: str, on_close: OnClose, _: contextlib.ExitStack) -> AsyncScanner[int]:
    return AsyncScanner(aitems([1, 2, 3]) if how == "ok" else afailing_source([1, 2]), on_close=on_close)


def downlink(is_async: bool) -> Callable[[str, OnClose, contextlib.ExitStack], Any]:
    """A DownlinkScanner on a StockSimulator (127.0.0.1); "fail" drops the connection at once."""

    def open_(how: str, on_close: OnClose, resources: contextlib.ExitStack) -> Any:
        from streamer.swim.downlink import AsyncDownlinkScanner, DownlinkScanner
        from streamer.testing.simulator import StockSimulator

        feed = resources.enter_context(StockSimulator(rate=200))
        if is_async:
            scanner: Any = asyncio.run(AsyncDownlinkScanner.open(feed.url, "/stock/AAAA", "status"))
        else:
            scanner = DownlinkScanner(feed.url, "/stock/AAAA", "status")
        transport_close = scanner._on_close  # the transport's close: on_close runs after it, as for others
        is_method = getattr(scanner, "_on_close_is_method", False)  # a method is held unbound (no cycle)

        def closing() -> Any:
            result = transport_close(scanner) if is_method else transport_close()
            on_close()
            return result

        scanner._on_close = closing
        scanner._on_close_is_method = False
        if how == "fail":
            feed.drop_connections()
        return scanner

    return open_


CASES = [
    *(wire_case(wire, is_async) for wire in WIRES for is_async in (False, True)),
    Case("Scanner", False, generic),
    Case("AsyncScanner", True, generic_async),
    Case("DownlinkScanner", False, downlink(False), ends_by_itself=False),
    Case("AsyncDownlinkScanner", True, downlink(True), ends_by_itself=False),
]


# ---------------------------------------------------------------------------------------------
# One driver for sync and async scanners: each check is written once, as a plain function of `d`.
# ---------------------------------------------------------------------------------------------


@dataclass
class Driver:
    """Calls a scanner's methods the same way whether it is sync or async."""

    scanner: Any
    is_async: bool
    loop: asyncio.AbstractEventLoop | None = None
    closes: list[int] = field(default_factory=list)

    def run(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.loop is not None and self.is_async else value

    def next(self) -> bool:
        return bool(self.run(self.scanner.next()))

    def close(self) -> None:
        self.run(self.scanner.aclose() if self.is_async else self.scanner.close())

    def drain(self, limit: int = 100_000) -> list[Any]:
        events = []
        while len(events) < limit and self.next():
            events.append(self.scanner.event())
        return events

    def enter_exit(self) -> Any:
        if self.is_async:
            inside = self.run(self.scanner.__aenter__())
            self.next()
            self.run(self.scanner.__aexit__(None, None, None))
        else:
            with self.scanner as inside:
                self.next()
        return inside

    def iterate(self) -> list[Any]:
        if not self.is_async:
            return list(self.scanner)

        async def collect() -> list[Any]:
            return [event async for event in self.scanner]

        return list(self.run(collect()))


@pytest.fixture
def opened() -> Iterator[Callable[[Case, str], Driver]]:
    """Open a case's scanner, counting on_close calls; everything is closed at the end of the test."""
    loop = asyncio.new_event_loop()
    resources = contextlib.ExitStack()
    drivers: list[Driver] = []

    def open_(case: Case, how: str) -> Driver:
        closes: list[int] = []
        scanner = case.open(how, lambda: closes.append(1), resources)
        driver = Driver(scanner, case.is_async, loop, closes)
        drivers.append(driver)
        return driver

    yield open_
    for driver in drivers:
        with contextlib.suppress(Exception):
            driver.close()
    resources.close()
    loop.close()


# ---------------------------------------------------------------------------------------------
# Lifecycle: every scanner class.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.ends_by_itself], ids=str)
def test_a_complete_stream_ends_with_err_none_closed_and_on_close_once(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    assert d.drain(), "the reference stream has events"
    assert d.scanner.err() is None
    assert d.scanner.closed
    assert not d.next()
    d.close()
    assert d.closes == [1]
    with pytest.raises(NoCurrentEvent):
        d.scanner.event()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_failed_stream_keeps_its_first_stream_error(case: Case, opened: Any) -> None:
    d = opened(case, "fail")
    d.drain()
    error = d.scanner.err()
    assert isinstance(error, StreamError), repr(error)
    assert d.scanner.closed
    for _ in range(3):
        assert not d.next()
    d.close()
    assert d.scanner.err() is error
    assert d.closes == [1]
    with pytest.raises(NoCurrentEvent):
        d.scanner.event()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_close_mid_stream_closes_once_and_for_all(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    assert d.next()
    d.close()
    d.close()
    assert d.scanner.closed
    assert not d.next()
    assert not d.next()
    assert d.scanner.err() is None
    assert d.closes == [1]
    with pytest.raises(NoCurrentEvent):
        d.scanner.event()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_close_before_reading_anything(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    d.close()
    assert d.scanner.closed
    assert not d.next()
    assert d.closes == [1]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_event_before_next_is_a_usage_error(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    with pytest.raises(NoCurrentEvent) as info:
        d.scanner.event()
    assert isinstance(info.value, UsageError)
    assert not isinstance(info.value, StreamError)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_context_manager_returns_the_scanner_and_closes_it(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    assert d.enter_exit() is d.scanner
    assert d.scanner.closed
    assert d.closes == [1]
    assert not d.next()


@pytest.mark.parametrize("case", [c for c in CASES if c.ends_by_itself], ids=str)
def test_iteration_yields_what_next_yields(case: Case, opened: Any) -> None:
    assert opened(case, "ok").iterate() == opened(case, "ok").drain()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_iteration_raises_the_stream_error_at_the_end(case: Case, opened: Any) -> None:
    d = opened(case, "fail")
    with pytest.raises(StreamError) as info:
        d.iterate()
    assert info.value is d.scanner.err()


@pytest.mark.parametrize("case", [c for c in CASES if c.is_async], ids=str)
def test_async_next_refuses_to_be_used_as_a_bool(case: Case, opened: Any) -> None:
    d = opened(case, "ok")
    with pytest.raises(TypeError, match="await"):
        bool(d.scanner.next())


# ---------------------------------------------------------------------------------------------
# Byte-reading scanners: truncation, chunking, hostile input. Sync and async share each check.
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    events: list[Any]
    error: BaseException | None
    text: Any = None


def read(wire: Wire, chunks: list[bytes], is_async: bool, limit: int = 100_000) -> Outcome:
    """Drain a wire's scanner over ``chunks``; also ask it for its text, where it has one."""
    loop = asyncio.new_event_loop()
    try:
        scanner = (wire.aopen if is_async else wire.open)(chunks, None)
        d = Driver(scanner, is_async, loop)
        events = d.drain(limit)
        text = scanner.text() if hasattr(scanner, "text") else None
        d.close()
        return Outcome(events, scanner.err(), text)
    finally:
        loop.close()


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


def ends_cleanly(wire: Wire, prefix: bytes) -> bool:
    """Whether a raw SSE prefix ends at an event boundary (the only clean end without an end marker)."""
    return not wire.has_end_marker and (prefix == b"" or prefix.endswith(b"\n\n"))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_a_cut_at_every_byte_ends_with_a_stream_error(wire: Wire, is_async: bool) -> None:
    body = encode(wire.streams[0])
    step = 1 if not is_async else 7  # the async twin shares the loop; every 7th byte keeps it quick
    for cut in range(0, len(body), step):
        outcome = read(wire, [body[:cut]], is_async)
        if ends_cleanly(wire, body[:cut]):
            assert outcome.error is None, cut
        else:
            assert isinstance(outcome.error, StreamError), (cut, outcome.error)
    full = read(wire, [body], is_async)
    assert full.error is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_a_truncated_stream_is_unexpected_eof(wire: Wire, is_async: bool) -> None:
    body = encode(wire.streams[0])
    outcome = read(wire, [body[: len(body) // 2] + (b"" if wire.has_end_marker else b"data: x")], is_async)
    assert isinstance(outcome.error, UnexpectedEOF)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(st.integers(0, 10**6), max_size=12), st.booleans())
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_chunking_never_changes_the_events_or_the_ending(
    wire: Wire, data: st.DataObject, cuts: list[int], is_async: bool
) -> None:
    stream = wire.streams[data.draw(st.integers(0, len(wire.streams) - 1), label="stream")]
    body = encode(stream)
    whole = read(wire, [body], False)
    pieces = read(wire, split(body, cuts), is_async)
    assert pieces.events == whole.events
    assert type(pieces.error) is type(whole.error)
    assert pieces.text == whole.text


# Hostile values: wrong types for every field, huge and negative numbers, lone surrogates, nesting.
HOSTILE = st.one_of(
    st.sampled_from(
        [None, True, False, 0, 5, -5, -1, 2**31, 2**70, -(2**70), 1.5, -0.0, float("inf"), "", "x", "5", "\ud800",
         "\udfff\ud800", [], [1], [None], {}, {"a": 1}, {"index": -5}, [[[[[]]]]], {"type": 5}]
    ),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["type", "index", "text", "value", "id"]), st.integers(-3, 3), max_size=2),
)  # fmt: skip


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (the document itself included)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def only_stream_errors(outcome: Outcome) -> None:
    assert outcome.error is None or isinstance(outcome.error, StreamError), repr(outcome.error)
    assert outcome.text is None or isinstance(outcome.text, str), repr(outcome.text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), HOSTILE, st.lists(st.integers(0, 10**6), max_size=4), st.booleans())
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_hostile_json_reaches_err_only_as_a_stream_error(
    wire: Wire, data: st.DataObject, hostile: Any, cuts: list[int], is_async: bool
) -> None:
    stream = wire.streams[data.draw(st.integers(0, len(wire.streams) - 1), label="stream")]
    index = data.draw(st.sampled_from([i for i, (_, d) in enumerate(stream) if not isinstance(d, Raw)]))
    name, payload = stream[index]
    path = data.draw(st.sampled_from(list(paths(payload))))
    mutated = [*stream[:index], (name, replaced(payload, path, hostile)), *stream[index + 1 :]]
    body = encode(mutated)
    if data.draw(st.booleans()):
        body = body[: data.draw(st.integers(0, len(body)))]  # and a cut at any byte
    only_stream_errors(read(wire, split(body, cuts), is_async))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 10**6), max_size=4), st.booleans())
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_arbitrary_bytes_reach_err_only_as_a_stream_error(
    wire: Wire, body: bytes, cuts: list[int], is_async: bool
) -> None:
    only_stream_errors(read(wire, split(body, cuts), is_async))


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def with_raw(stream: Stream, index: int, name: str, text: str) -> bytes:
    """A stream whose event ``index`` carries ``text`` (not JSON-encoded) as its data."""
    return encode([*stream[:index], (name, Raw(text)), *stream[index + 1 :]])


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("wire", WIRES, ids=str)
def test_json_nested_100000_levels_deep_is_a_stream_error(wire: Wire, is_async: bool) -> None:
    stream = wire.streams[0]
    index = next(i for i, (_, d) in enumerate(stream) if isinstance(d, dict))
    name, payload = stream[index]
    nested = json.dumps(payload)[:-1] + ', "nested": ' + deep(100_000) + "}"
    only_stream_errors(read(wire, [with_raw(stream, index, name, nested)], is_async))


# The bugs issue 11 names, each as one field of a real recorded (or payload) event set to a wrong
# value, checked for every sync and async twin. They fail until the typed core validates the field.
def mutate(stream: Stream, name: str, nth: int, path: tuple[Any, ...], value: Any) -> Stream:
    """``stream`` with the ``nth`` event called ``name`` changed at ``path`` to ``value``."""
    where = [i for i, (n, _) in enumerate(stream) if n == name][nth]
    return [*stream[:where], (name, replaced(stream[where][1], path, value)), *stream[where + 1 :]]


TEXT_VALUE = ("delta", "content", 0, "text", "value")
BLOCK_INDEX = ("delta", "content", 0, "index")
STEP_CALL_INDEX = ("delta", "step_details", "tool_calls", 0, "index")
CHAT_CALL_INDEX = ("choices", 0, "delta", "tool_calls", 0, "index")
MSG, STEP, CHUNK, TEXT_DELTA = (
    "thread.message.delta",
    "thread.run.step.delta",
    "message",
    "response.output_text.delta",
)

KNOWN_BAD: list[tuple[str, str, Stream]] = [
    ("RunStream", "text.value is 5", mutate(RUN_TEXT, MSG, 0, TEXT_VALUE, 5)),
    ("RunStream", "a block index is a string", mutate(RUN_TEXT, MSG, 1, BLOCK_INDEX, "0")),
    ("RunStream", "a block index is -5", mutate(RUN_TEXT, MSG, 1, BLOCK_INDEX, -5)),
    ("RunStream", "a block index is 1,000,000", mutate(RUN_TEXT, MSG, 1, BLOCK_INDEX, 1_000_000)),
    ("RunStream", "a tool-call index is unhashable", mutate(RUN_TOOLS, STEP, 1, STEP_CALL_INDEX, [1])),
    ("RunStream", "a tool-call index is -5", mutate(RUN_TOOLS, STEP, 1, STEP_CALL_INDEX, -5)),
    ("RunStream", "a tool-call index is 1,000,000", mutate(RUN_TOOLS, STEP, 1, STEP_CALL_INDEX, 1_000_000)),
    ("ChatStream", "logprobs is 5", mutate(CHAT, CHUNK, 1, ("choices", 0, "logprobs"), 5)),
    ("ChatStream", "content is 5", mutate(CHAT, CHUNK, 2, ("choices", 0, "delta", "content"), 5)),
    ("ChatStream", "a tool-call index is unhashable", mutate(CHAT, CHUNK, 5, CHAT_CALL_INDEX, [1])),
    ("ChatStream", "a tool-call index is -5", mutate(CHAT, CHUNK, 5, CHAT_CALL_INDEX, -5)),
    ("ChatStream", "a tool-call index is 1,000,000", mutate(CHAT, CHUNK, 5, CHAT_CALL_INDEX, 1_000_000)),
    ("ResponseStream", "delta is 5", mutate(RESPONSES, TEXT_DELTA, 0, ("delta",), 5)),
    ("ResponseStream", "content_index is -5", mutate(RESPONSES, TEXT_DELTA, 0, ("content_index",), -5)),
    ("ResponseStream", "output_index is 1,000,000", mutate(RESPONSES, TEXT_DELTA, 0, ("output_index",), 1_000_000)),
    ("ResponseStream", "output_index is a list", mutate(RESPONSES, TEXT_DELTA, 0, ("output_index",), [1])),
]  # fmt: skip


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("kind", "what", "stream"), KNOWN_BAD, ids=[f"{k}: {w}" for k, w, _ in KNOWN_BAD])
def test_a_wrongly_shaped_known_field_is_a_decode_error(
    kind: str, what: str, stream: Stream, is_async: bool
) -> None:
    wire = next(w for w in WIRES if w.name == kind)
    outcome = read(wire, [encode(stream)], is_async)
    assert isinstance(outcome.error, DecodeError), f"{what}: err() is {outcome.error!r}"
    assert isinstance(outcome.text, str)


@pytest.mark.parametrize(
    "opener",
    [RunStream.from_chunks, ChatStream.from_chunks, ResponseStream.from_chunks],
    ids=["RunStream", "ChatStream", "ResponseStream"],
)
def test_chunks_that_are_not_bytes_fail_at_the_call_or_as_a_stream_error(opener: Callable[..., Any]) -> None:
    # Either answer keeps the contract: misuse refused at the call, or a typed error in err().
    try:
        scanner = opener(5)
    except (TypeError, UsageError):
        return
    while scanner.next():
        pass
    assert isinstance(scanner.err(), StreamError), repr(scanner.err())


# ---------------------------------------------------------------------------------------------
# The raw SSE decoder under the event scanner: nothing but StreamError on any input.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [4300, 4301, 5000, 100_000])
def test_a_retry_field_of_any_length_is_read_not_raised(digits: int) -> None:
    # int() refuses more than 4300 digits; the decoder clamps instead (to 2**63 - 1 ms).
    stream = EventStream(sse.iter_events([b"retry: " + b"9" * digits + b"\ndata: x\n\n"]))
    assert stream.next()
    assert stream.event().retry == 2**63 - 1
    assert not stream.next()
    assert stream.err() is None


def test_a_long_retry_with_leading_zeros_keeps_its_exact_value() -> None:
    decoder = sse.Decoder()
    decoder.feed(b"retry: " + b"0" * 10_000 + b"1500\n\n")
    assert decoder.retry == 1500
