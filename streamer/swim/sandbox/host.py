"""The host side of the sandbox: start workers, talk to them under deadlines, check what comes back.

``compile_operator(kind, source)`` checks the source (``policy``), then starts a worker process
(``worker.py``, run by path in a fresh interpreter) and loads the operator into it. Every call crosses a
pipe as one length-prefixed JSON request tagged with a sequence number, and is bounded by a wall-clock
budget of ``Limits.call_seconds(n)``: the host kills the worker when it passes, whatever the worker is
doing. Anything unexpected (a late or foreign reply, an interrupted wait, a reply too big or too deep)
also kills the worker; the operator starts a fresh one on its next call. Every string that came from
the worker is escaped (``streamer._text.escape_untrusted``) before it goes into an error message.

Pool policy: at most ``max_workers()`` worker processes are alive per host process (32 by default; see
``set_max_workers``). Starting one more stops the least recently used idle worker; its operator restarts
one when it is called again. If every worker is busy in a call, starting another fails.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, overload

from attrs import define

from ..._text import escape_untrusted
from ...errors import OperatorFailed, OperatorRejected
from . import oswall, policy
from .worker import OutputInvalid, check_json_value

__all__ = [
    "AccumulateOperator",
    "FilterOperator",
    "Limits",
    "MapOperator",
    "OSWall",
    "SandboxedOperator",
    "check_operator_source",
    "compile_operator",
    "max_workers",
    "os_wall",
    "set_max_workers",
]

Kind = Literal["accumulate", "map", "filter"]
OSWall = oswall.OSWall
_HEADER = struct.Struct(">I")
_WORKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


@define(frozen=True, slots=True)
class Limits:
    """Budgets for one worker: time per update and per call, CPU, memory, and reply sizes.

    A call of ``n`` updates may take ``call_seconds(n) = min(wall_seconds, call_slack_seconds +
    n * update_seconds)`` of wall-clock time (by default 0.55 s for one update, 1.5 s for the 20-update
    verification sample, at most 5 s); the host kills the worker at that deadline. The worker's CPU
    rlimit follows the same budget as a second guard, under a finite hard limit of
    ``worker_cpu_seconds`` over its life (the host replaces a worker that has used 80% of it).
    """

    update_seconds: float = 0.05
    call_slack_seconds: float = 0.5
    wall_seconds: float = 5.0
    worker_cpu_seconds: float = 600.0
    memory_mb: int = 256
    start_seconds: float = 10.0
    max_batch: int = 4096
    max_reply_bytes: int = 8 * 1024 * 1024
    max_reply_items: int = 262_144
    max_acc_nodes: int = 10_000
    max_acc_depth: int = 32
    max_acc_chars: int = 65_536

    def call_seconds(self, updates: int) -> float:
        """The wall-clock budget of one call of ``updates`` updates."""
        return min(self.wall_seconds, self.call_slack_seconds + updates * self.update_seconds)


def os_wall() -> OSWall:
    """What OS-level wall this system offers the workers (seccomp, Landlock), without changing anything."""
    return oswall.probe()


def check_operator_source(kind: str, source: str) -> None:
    """Run the static checks only (our allowlist, then RestrictedPython); raise OperatorRejected."""
    try:
        tree, _ = policy.check_source(kind, source)
        policy.restricted_compile(tree)
    except policy.PolicyViolation as exc:
        raise OperatorRejected(exc.rule, escape_untrusted(exc.message), exc.line, exc.col) from None


def _clean_env() -> dict[str, str]:
    # The worker gets no inherited environment: no API keys, no PYTHON* variables.
    return {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}


def _text(value: Any, limit: int = 500) -> str:
    """A string the worker sent, made safe for messages, terminals and logs."""
    return escape_untrusted(str(value)[:limit], one_line=True)


def decode_reply(body: bytes, max_items: int) -> dict[str, Any]:
    """A reply's JSON object, or OperatorFailed; what decoding may build is bounded before it starts.

    Every JSON value but the first follows a comma or opens a container, so counting commas and opening
    brackets bounds the number of values (commas inside strings count too: the bound is conservative).
    """
    items = body.count(b",") + body.count(b"[") + body.count(b"{")
    if items > max_items:
        raise OperatorFailed(
            f"the worker's reply holds up to {items} JSON values; the limit is max_reply_items={max_items}"
        )
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        raise OperatorFailed("the worker sent a reply that is not valid JSON") from None
    if not isinstance(reply, dict):
        raise OperatorFailed("the worker sent a reply that is not an object")
    return reply


class _Worker:
    """One worker process and its pipe protocol (sequence-numbered requests, deadlines both ways)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.seq = 0
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-B", _WORKER_PATH],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_clean_env(),
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise OperatorFailed(f"cannot start a sandbox worker ({sys.executable}): {exc}") from None
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        # poll, not select: fd numbers above 1024 are common on a busy host.
        self._readable = select.poll()
        self._readable.register(self._out, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(self._in, select.POLLOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Stop the process group now and release the pipes (idempotent)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):
                    stream.close()

    def _death(self) -> str:
        code = self.proc.wait()
        if code == -signal.SIGXCPU:
            return "the operator exceeded its CPU budget; the worker was stopped"
        if code < 0:
            return f"the worker was ended by signal {-code}"
        return f"the worker exited with status {code}"

    def _over(self, budget: float) -> OperatorFailed:
        self.kill()
        return OperatorFailed(
            f"the operator exceeded its wall-clock budget of {budget:g} s; the worker was stopped"
        )

    def _write(self, data: bytes, deadline: float, budget: float) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = os.write(self._in, view)
            except BlockingIOError:
                sent = 0
            except OSError:
                raise OperatorFailed(self._death()) from None
            view = view[sent:]
            if view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._over(budget)
                self._writable.poll(max(1, math.ceil(left * 1000)))

    def _read(self, deadline: float, budget: float) -> bytes:
        buf = bytearray()
        need = _HEADER.size
        size: int | None = None
        while True:
            if size is None and len(buf) >= _HEADER.size:
                (size,) = _HEADER.unpack(buf[: _HEADER.size])
                if size > self.limits.max_reply_bytes:
                    self.kill()
                    raise OperatorFailed(f"the worker's reply of {size} bytes exceeds max_reply_bytes")
                need = _HEADER.size + size
            if size is not None and len(buf) >= need:
                return bytes(buf[_HEADER.size : need])
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._over(budget)
            if not self._readable.poll(max(1, math.ceil(left * 1000))):
                continue
            chunk = os.read(self._out, max(65536, need - len(buf)))
            if not chunk:
                raise OperatorFailed(self._death())
            buf += chunk

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            return decode_reply(body, self.limits.max_reply_items)
        except OperatorFailed:
            self.kill()
            raise

    def request(self, message: dict[str, Any], budget: float) -> dict[str, Any]:
        """Send one request and wait for its reply; kill the worker on a deadline, a mismatch or an interrupt.

        Any exception during the exchange (a deadline, ``KeyboardInterrupt``, an exception raised by a
        signal handler) leaves the pipe in an unknown state, so the worker is killed before it propagates;
        the next call starts a fresh one. A reply whose sequence number is not this request's also kills it.
        """
        self.seq += 1
        message["seq"] = self.seq
        message["call_seconds"] = budget
        body = json.dumps(message, allow_nan=False).encode()
        deadline = time.monotonic() + budget
        finished = False
        try:
            self._write(_HEADER.pack(len(body)) + body, deadline, budget)
            raw = self._read(deadline, budget)
            finished = True
        finally:
            if not finished:
                self.kill()
        reply = self._decode(raw)
        if reply.get("seq") != self.seq or isinstance(reply.get("seq"), bool):
            self.kill()
            raise OperatorFailed(
                f"the worker answered request #{self.seq} with a reply to {_text(reply.get('seq'), 40)}; "
                "it was replaced"
            )
        return reply


def _stop(worker_box: list[_Worker | None]) -> None:
    worker = worker_box[0]
    worker_box[0] = None
    if worker is not None:
        worker.kill()


class _Pool:
    """The live workers of this process: at most ``limit``; the least recently used idle one makes room."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._live: OrderedDict[int, weakref.ref[_Base]] = OrderedDict()

    def admit(self, op: _Base) -> None:
        """Make room for ``op``'s new worker (``op``'s own lock is held by the caller)."""
        with self._lock:
            self._live.pop(id(op), None)
            while len(self._live) >= self.limit:
                if not self._evict_one():
                    raise OperatorFailed(
                        f"all {self.limit} sandbox workers are busy in calls; raise the cap with "
                        "set_max_workers() or close operators you no longer need"
                    )
            self._live[id(op)] = weakref.ref(op)

    def _evict_one(self) -> bool:
        for key, ref in list(self._live.items()):
            other = ref()
            if other is None or other._box[0] is None:
                del self._live[key]
                return True
            if other._lock.acquire(blocking=False):
                try:
                    _stop(other._box)
                finally:
                    other._lock.release()
                del self._live[key]
                return True
        return False

    def touch(self, op: _Base) -> None:
        """``op`` was just used: it is the last to be evicted."""
        with self._lock:
            if id(op) in self._live:
                self._live.move_to_end(id(op))

    def leave(self, op: _Base) -> None:
        """``op``'s worker stopped."""
        with self._lock:
            self._live.pop(id(op), None)


_POOL = _Pool(32)


def max_workers() -> int:
    """How many worker processes may be alive at once in this process (the pool cap)."""
    return _POOL.limit


def set_max_workers(limit: int) -> int:
    """Set the pool cap (at least 1); return the previous one. Idle workers beyond it stop on demand."""
    if limit < 1:
        raise ValueError("the pool needs room for at least one worker")
    previous, _POOL.limit = _POOL.limit, limit
    return previous


class _Base:
    """Shared machinery: one lazily (re)started worker per operator, a lock, and the load handshake."""

    kind: str

    def __init__(
        self, source: str, limits: Limits, *, python_checks: bool = True, os_wall: bool = True
    ) -> None:
        self.source = source
        self.limits = limits
        self.restarts = 0
        self.os_wall: OSWall | None = None
        self._python_checks = python_checks
        self._os_wall = os_wall
        self._lock = threading.Lock()
        self._box: list[_Worker | None] = [None]
        self._finalizer = weakref.finalize(self, _stop, self._box)

    def _ensure(self) -> _Worker:
        worker = self._box[0]
        if worker is not None and worker.alive():
            return worker
        if worker is not None:
            worker.kill()
            self.restarts += 1
        self._box[0] = None
        _POOL.admit(self)
        worker = _Worker(self.limits)
        self._box[0] = worker
        lim = self.limits
        reply = worker.request(
            {
                "op": "load",
                "kind": self.kind,
                "source": self.source,
                "memory_bytes": lim.memory_mb * 1024 * 1024,
                "lifetime_cpu_seconds": lim.worker_cpu_seconds,
                "python_checks": self._python_checks,
                "os_wall": self._os_wall,
                "limits": {
                    "max_acc_nodes": lim.max_acc_nodes,
                    "max_acc_depth": lim.max_acc_depth,
                    "max_acc_chars": lim.max_acc_chars,
                },
            },
            lim.start_seconds,
        )
        if not reply.get("ok"):
            self._stop()
            line, col = reply.get("line"), reply.get("col")
            raise OperatorRejected(
                _text(reply.get("rule", "load"), 40),
                _text(reply.get("error", "the worker refused the operator")),
                line if type(line) is int else 0,
                col if type(col) is int else 0,
            )
        self.os_wall = OSWall(reply.get("seccomp") is True, int(reply.get("landlock") or 0))
        return worker

    def _stop(self) -> None:
        _stop(self._box)
        _POOL.leave(self)

    @staticmethod
    def _json(value: Any, what: str) -> str:
        try:
            return json.dumps({} if value is None else value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise OperatorFailed(f"{what} must be JSON data: {exc}") from None

    def _run(self, values: Sequence[float], params: Any, acc: dict[str, Any] | None) -> dict[str, Any]:
        if len(values) > self.limits.max_batch:
            raise OperatorFailed(f"a batch holds at most {self.limits.max_batch} values, not {len(values)}")
        clean: list[float] = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise OperatorFailed(f"operator inputs must be finite numbers, not {v!r:.80}")
            clean.append(float(v))
        message = {
            "op": "run",
            "values": clean,
            "params": self._json(params, "params"),
            "acc_json": self._json(acc, "acc"),
        }
        with self._lock:
            worker = self._ensure()
            reply = worker.request(message, self.limits.call_seconds(len(clean)))
            cpu = reply.get("cpu")
            if type(cpu) is float and cpu > 0.8 * self.limits.worker_cpu_seconds:
                self._stop()  # before the kernel's hard limit ends it in the middle of a call
            else:
                _POOL.touch(self)
        if reply.get("ok"):
            results = reply.get("results")
            if type(results) is not list or len(results) != len(clean):
                raise self._distrust(f"the worker returned no list of {len(clean)} results")
        return reply

    def _close_locked(self) -> None:
        with self._lock:
            self._stop()

    def _distrust(self, message: str, index: int | None = None) -> OperatorFailed:
        """The worker broke the protocol (its own checks would have refused this): stop it, say why."""
        self._close_locked()
        return OperatorFailed(message, index=index)

    @staticmethod
    def _raise(reply: dict[str, Any]) -> None:
        index = reply.get("index")
        raise OperatorFailed(
            _text(reply.get("error", "unknown failure")),
            index=index if type(index) is int and index >= 0 else None,
        )

    def start(self) -> None:
        """Start the worker and load the operator now (``compile_operator`` does this)."""
        with self._lock:
            self._ensure()

    def close(self) -> None:
        """Stop the worker process; the operator restarts one if called again."""
        with self._lock:
            self._stop()

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.source)} chars of source>"


class MapOperator(_Base):
    """A sandboxed map: ``op(value, params) -> float``; ``run_batch`` for many values per round trip."""

    kind = "map"

    def __call__(self, value: float, params: Any = None) -> float:
        """Map one value."""
        return self.run_batch([value], params)[0]

    def run_batch(self, values: Sequence[float], params: Any = None) -> list[float]:
        """Map each value (fresh params each call); raise OperatorFailed at the first failure."""
        reply = self._run(values, params, None)
        if not reply.get("ok"):
            self._raise(reply)
        out = []
        for i, r in enumerate(reply["results"]):
            if type(r) is not float or not math.isfinite(r):  # the worker always sends a float
                raise self._distrust("the worker returned a result that is not a finite number", i)
            out.append(float(r))
        return out


class FilterOperator(_Base):
    """A sandboxed filter: ``op(value, params) -> bool``; ``run_batch`` for many values per round trip."""

    kind = "filter"

    def __call__(self, value: float, params: Any = None) -> bool:
        """Test one value."""
        return self.run_batch([value], params)[0]

    def run_batch(self, values: Sequence[float], params: Any = None) -> list[bool]:
        """Test each value; raise OperatorFailed at the first failure."""
        reply = self._run(values, params, None)
        if not reply.get("ok"):
            self._raise(reply)
        results: list[bool] = reply["results"]
        for i, r in enumerate(results):
            if type(r) is not bool:
                raise self._distrust("the worker returned a result that is not true or false", i)
        return results


class AccumulateOperator(_Base):
    """A sandboxed accumulator: ``op(acc, value, params) -> (acc, result)``, acc a JSON-data dict."""

    kind = "accumulate"

    def __call__(
        self, acc: dict[str, Any] | None, value: float, params: Any = None
    ) -> tuple[dict[str, Any], Any]:
        """Fold one value into ``acc``; returns the new acc (a fresh dict) and the result."""
        new_acc, results = self.run_batch([value], params, acc)
        return new_acc, results[0]

    def run_batch(
        self, values: Sequence[float], params: Any = None, acc: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[Any]]:
        """Fold each value in turn; returns the final acc and one result per value (valid Unicode only)."""
        if acc is None:
            acc = {}
        if not isinstance(acc, dict):
            raise OperatorFailed(f"acc must be a dict, not {type(acc).__name__}")
        reply = self._run(values, params, acc)
        if not reply.get("ok"):
            self._raise(reply)
        lim = self.limits
        try:
            new_acc = json.loads(reply["acc_json"])
        except (KeyError, TypeError, ValueError, RecursionError):
            raise self._distrust("the worker returned no readable acc") from None
        if not isinstance(new_acc, dict):
            raise self._distrust("the worker returned an acc that is not a dict")
        results: list[Any] = reply["results"]
        try:
            check_json_value(new_acc, lim.max_acc_nodes, lim.max_acc_depth, lim.max_acc_chars, "the acc")
            check_json_value(results, lim.max_reply_items, lim.max_acc_depth + 1, lim.max_reply_bytes)
        except OutputInvalid:
            for i, result in enumerate(results):  # name the first update whose result is bad
                try:
                    check_json_value(
                        result, lim.max_acc_nodes, lim.max_acc_depth, lim.max_acc_chars, "the result"
                    )
                except OutputInvalid as exc:
                    raise self._distrust(_text(exc), i) from None
            raise self._distrust("the worker returned an acc or results outside the limits") from None
        return new_acc, results


SandboxedOperator: TypeAlias = "MapOperator | FilterOperator | AccumulateOperator"
_CLASSES: dict[str, type[_Base]] = {
    "map": MapOperator,
    "filter": FilterOperator,
    "accumulate": AccumulateOperator,
}


@overload
def compile_operator(kind: Literal["map"], source: str, *, limits: Limits | None = None) -> MapOperator: ...
@overload
def compile_operator(
    kind: Literal["filter"], source: str, *, limits: Limits | None = None
) -> FilterOperator: ...
@overload
def compile_operator(
    kind: Literal["accumulate"], source: str, *, limits: Limits | None = None
) -> AccumulateOperator: ...
@overload
def compile_operator(kind: str, source: str, *, limits: Limits | None = None) -> SandboxedOperator: ...
def compile_operator(kind: str, source: str, *, limits: Limits | None = None) -> SandboxedOperator:
    """Check ``source`` and load it into a fresh worker; raise OperatorRejected naming the rule broken."""
    check_operator_source(kind, source)
    op = _CLASSES[kind](source, limits or Limits())
    try:
        op.start()
    except OperatorFailed as exc:
        op.close()
        raise OperatorRejected("load", f"the operator could not be loaded: {exc.reason}") from None
    return op  # type: ignore[return-value]


def _compile_unchecked(
    kind: str, source: str, *, os_wall: bool = True, limits: Limits | None = None
) -> _Base:
    """TEST ONLY: load ``source`` with no Python-level wall at all (plain ``compile``, full builtins).

    It exists to show that the OS wall alone stops a payload; never give it text from a model.
    """
    op = _CLASSES[kind](source, limits or Limits(), python_checks=False, os_wall=os_wall)
    op.start()
    return op
