"""The host side of the sandbox under attack: what it does with replies, how it waits, how long a call may
take. Every test goes through a real worker process."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.errors import OperatorFailed
from streamer.swim.sandbox import Limits, compile_operator, max_workers, set_max_workers
from streamer.swim.sandbox.host import _compile_unchecked, decode_reply

DOUBLE = "def func(value, params):\n    return value * 2\n"

# Spins for a long time on one value (about 10**8 steps), answers at once on any other.
SLOW_ON_1000 = """def func(value, params):
    if value == 1000:
        total = 0
        for i in range(10 ** 8):
            total += i
        return float(total)
    return value * 2
"""


def acc_op(result_expr: str) -> str:
    """An accumulator whose result is ``result_expr`` (it may use ``value``)."""
    return f"def func(acc, value, params):\n    return acc, {result_expr}\n"


# ------------------------------------------------------------------ item 1: worker text is escaped


def test_error_text_from_the_operator_reaches_the_host_escaped() -> None:
    source = "def func(value, params):\n    raise ValueError(chr(27) + ']52;c;aGk=' + chr(7) + chr(0x202E))\n"
    with compile_operator("map", source) as op, pytest.raises(OperatorFailed) as info:
        op(1.0)
    text = str(info.value)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "\\x1b]52;c;aGk=\\x07\\u202e" in text


# ------------------------------------------------------------------ item 2: results are valid Unicode


def test_a_lone_surrogate_in_a_result_fails_naming_the_update() -> None:
    source = acc_op("'x' + chr(0xD800) if value == 3 else 'ok'")
    with compile_operator("accumulate", source) as op, pytest.raises(OperatorFailed) as info:
        op.run_batch([1.0, 2.0, 3.0, 4.0], {}, {})
    assert info.value.index == 2
    assert "surrogate" in str(info.value)
    str(info.value).encode("utf-8")  # the message itself is printable


def test_a_lone_surrogate_in_the_acc_fails_too() -> None:
    source = "def func(acc, value, params):\n    acc[chr(0xDC00)] = 1\n    return acc, value\n"
    with compile_operator("accumulate", source) as op, pytest.raises(OperatorFailed) as info:
        op.run_batch([1.0], {}, {})
    assert info.value.index == 0
    assert "surrogate" in str(info.value)


def test_valid_non_ascii_text_and_surrogate_pairs_pass() -> None:
    with compile_operator("accumulate", acc_op("'caf' + chr(0xE9) + chr(0x1F600)")) as op:
        _, results = op.run_batch([1.0], {}, {})
    assert results == ["caf\u00e9\U0001f600"]


# ------------------------------------------------------------------ item 3: interrupted waits


class Interrupted(Exception):
    """Raised by the test's SIGALRM handler."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def alarm(seconds: float, handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Deliver SIGALRM after ``seconds`` to ``handler``; restore everything afterwards."""
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize(
    ("handler", "exc"),
    [(_raise_interrupted, Interrupted), (_raise_keyboard_interrupt, KeyboardInterrupt)],
    ids=["alarm-exception", "keyboard-interrupt"],
)
def test_an_interrupted_call_replaces_the_worker_and_later_calls_get_their_own_results(
    handler: Callable[[int, FrameType | None], None], exc: type[BaseException]
) -> None:
    generous = Limits(update_seconds=20.0, wall_seconds=30.0)
    with compile_operator("map", SLOW_ON_1000, limits=generous) as op:
        with alarm(0.3, handler), pytest.raises(exc):
            op(1000.0)
        # Before the fix the next call read the interrupted update's late reply (2000-ish), silently.
        assert op(1.0) == 2.0
        assert op(2.0) == 4.0
        assert op.run_batch([3.0, 4.0]) == [6.0, 8.0]
        assert op.restarts == 1


def test_a_forged_reply_with_a_foreign_sequence_number_kills_the_worker() -> None:
    # Without the Python wall, operator code can write to the reply pipe: the host must not believe it.
    forge = """import json, os, struct
def func(value, params):
    body = json.dumps({"seq": 12345, "ok": True, "results": [99.0]}).encode()
    os.write(1, struct.pack(">I", len(body)) + body)
    return value * 2
"""
    op = _compile_unchecked("map", forge)
    try:
        with pytest.raises(OperatorFailed, match="answered request"):
            op(1.0)
        assert op._box[0] is not None
        assert not op._box[0].alive()
    finally:
        op.close()


# ------------------------------------------------------------------ item 4: many open files, stuck pipes


def test_operators_work_when_the_host_holds_more_than_1024_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2048
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"the hard RLIMIT_NOFILE is {hard}; this test needs {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    held: list[int] = []
    try:
        while len(held) < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert max(held) >= 1024
        with compile_operator("map", DOUBLE) as op:
            assert op(21.0) == 42.0
            assert op.run_batch([1.0, 2.0]) == [2.0, 4.0]
            worker = op._box[0]
            assert worker is not None
            assert min(worker._in, worker._out) >= 1024  # the pipes really are above select()'s limit
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_worker_that_stops_reading_fails_the_write_at_the_deadline() -> None:
    limits = Limits(call_slack_seconds=1.0, update_seconds=0.0)
    op = compile_operator("map", DOUBLE, limits=limits)
    worker = op._box[0]
    assert worker is not None
    os.kill(worker.proc.pid, signal.SIGSTOP)  # the worker stops reading its pipe
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            op.run_batch([1.0], {"pad": "x" * 4_000_000})  # far more than a pipe buffer holds
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(30)  # generous: the budget is 1 s; before the fix this blocked forever
    try:
        assert not thread.is_alive(), "the host blocked in a write to a worker that never reads"
        assert isinstance(outcome[0], OperatorFailed)
        assert "wall-clock budget" in str(outcome[0])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.proc.pid, signal.SIGCONT)
        op.close()


def test_the_pool_keeps_at_most_its_cap_of_live_workers_and_every_operator_still_answers() -> None:
    previous = set_max_workers(2)
    ops = [compile_operator("map", f"def func(value, params):\n    return value + {k}\n") for k in range(3)]
    try:
        for _ in range(2):
            for k, op in enumerate(ops):
                assert op(1.0) == 1.0 + k
                live = sum(1 for o in ops if o._box[0] is not None and o._box[0].alive())
                assert live <= 2
    finally:
        for op in ops:
            op.close()
        set_max_workers(previous)
    assert max_workers() == previous


# ------------------------------------------------------------------ item 5: the budget is a real bound


def test_the_default_per_update_budget_is_small_and_stated() -> None:
    limits = Limits()
    assert limits.update_seconds == 0.05
    assert limits.call_seconds(1) == pytest.approx(0.55)
    assert limits.call_seconds(20) == pytest.approx(1.5)
    assert limits.call_seconds(4096) == limits.wall_seconds == 5.0


BOMBS = {
    "sum-range": "def func(value, params):\n    return float(sum(range(10 ** 12)))\n",
    "factorial": "import math\ndef func(value, params):\n    return float(math.factorial(10 ** 7) % 7)\n",
    "big-power": "def func(value, params):\n    n = 7\n    return float(n ** (10 ** 9) % 5)\n",
    "slow-but-right": (
        "def func(value, params):\n    t = 0\n    for i in range(3 * 10 ** 7):\n        t += 1\n"
        "    return value * 2\n"
    ),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_a_c_level_bomb_is_stopped_at_the_wall_clock_budget(case: str) -> None:
    with compile_operator("map", BOMBS[case]) as op:
        start = time.monotonic()
        with pytest.raises(OperatorFailed, match=r"wall-clock budget of 0\.55 s"):
            op(1.0)
        elapsed = time.monotonic() - start
        # Budget 0.55 s plus generous slack for a busy machine; before the fix this took 3.5-6 s.
        assert elapsed < 3.0, elapsed


def test_a_larger_per_update_budget_is_honoured() -> None:
    generous = Limits(update_seconds=30.0, wall_seconds=60.0)
    with compile_operator("map", BOMBS["slow-but-right"], limits=generous) as op:
        assert op(2.0) == 4.0


# ------------------------------------------------------------------ item 6: reply amplification


def test_a_reply_of_many_tiny_containers_is_refused_before_it_is_decoded() -> None:
    # 200 updates x 9000 empty lists: about 7 MB of "[], " (under the 8 MiB byte limit), 1.8 M values.
    source = "def func(acc, value, params):\n    return acc, [[]] * 9000\n"
    with compile_operator("accumulate", source) as op, pytest.raises(OperatorFailed) as info:
        op.run_batch([1.0] * 200, {}, {})
    assert "max_reply_items" in str(info.value)


def test_a_forged_reply_just_under_the_byte_limit_is_refused_cheaply() -> None:
    forge = """import json, os, struct
def func(value, params):
    body = b'{"seq": 2, "ok": true, "results": [' + b'[],' * 2_700_000 + b'[]]}'
    os.write(1, struct.pack(">I", len(body)) + body)
    return value
"""
    op = _compile_unchecked("map", forge, limits=Limits(wall_seconds=20.0, update_seconds=10.0))
    try:
        start = time.monotonic()
        with pytest.raises(OperatorFailed, match="max_reply_items"):
            op(1.0)
        assert time.monotonic() - start < 10.0  # generous; the point is that nothing was decoded
    finally:
        op.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/limits"), reason="reads the limits from Linux /proc")
def test_the_workers_cpu_rlimit_has_a_finite_hard_limit() -> None:
    with compile_operator("map", DOUBLE) as op:
        worker = op._box[0]
        assert worker is not None
        with open(f"/proc/{worker.proc.pid}/limits") as fh:
            line = next(row for row in fh if row.startswith("Max cpu time"))
    soft, hard = line.split()[3:5]
    assert hard != "unlimited"
    assert soft != "unlimited"
    assert int(soft) <= int(hard) <= 700  # the lifetime budget (600 s) plus what start-up used


# ------------------------------------------------------------------ the reply parser, property-tested

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_decode_reply_returns_an_object_or_raises_operator_failed(body: bytes) -> None:
    try:
        reply = decode_reply(body, 50)
    except OperatorFailed:
        return
    assert isinstance(reply, dict)


@given(json_values)
def test_decode_reply_never_builds_more_values_than_its_bound(value: object) -> None:
    body = json.dumps({"results": value}).encode()
    try:
        decode_reply(body, 10)
    except OperatorFailed:
        return

    def count(v: object) -> int:
        if isinstance(v, list):
            return 1 + sum(count(x) for x in v)
        if isinstance(v, dict):
            return 1 + sum(count(x) for x in v.values())
        return 1

    assert count(value) <= 11  # the wrapping object plus at most 10 more


def test_a_deeply_nested_reply_is_an_operator_failure_not_a_recursion_error() -> None:
    body = b'{"results": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(OperatorFailed):
        decode_reply(body, 10**6)


def test_a_forged_filter_reply_that_is_not_boolean_is_refused() -> None:
    forge = """import json, os, struct
def func(value, params):
    body = json.dumps({"seq": 2, "ok": True, "results": ["yes"]}).encode()
    os.write(1, struct.pack(">I", len(body)) + body)
    return True
"""
    op = _compile_unchecked("filter", forge)
    try:
        with pytest.raises(OperatorFailed, match="not true or false"):
            op(1.0)
        assert op._box[0] is None  # stopped: its real reply, still in the pipe, must never be read
    finally:
        op.close()
