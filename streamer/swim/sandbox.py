"""Validate, compile and contain untrusted (model-written) operator source.

``compile_operator(kind, source)`` checks the source against an allowlist (our AST rules, then
RestrictedPython's), and starts a worker process: a fresh interpreter with CPU, address-space and file
limits, restricted builtins and read-only stand-ins for ``math``/``statistics``. Every call crosses a pipe
and is bounded by a wall-clock budget; on overrun the worker is killed and replaced. Batches
(``run_batch``) amortise the round trip.
"""

from __future__ import annotations

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
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias, overload

from attrs import define, field

from ..errors import OperatorFailed, OperatorRejected
from . import _worker

__all__ = [
    "AccumulateOperator",
    "FilterOperator",
    "Limits",
    "MapOperator",
    "SandboxedOperator",
    "Verdict",
    "check_operator_source",
    "compile_operator",
    "verify_operator",
]

Kind = Literal["accumulate", "map", "filter"]
_HEADER = struct.Struct(">I")
_WORKER_PATH = os.path.abspath(_worker.__file__)


@define(frozen=True, slots=True)
class Limits:
    """Budgets for one worker: per-batch CPU and wall-clock time, memory, and output sizes."""

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    memory_mb: int = 256
    start_seconds: float = 10.0
    max_batch: int = 4096
    max_reply_bytes: int = 8 * 1024 * 1024
    max_acc_nodes: int = 10_000
    max_acc_depth: int = 32
    max_acc_chars: int = 65_536


def check_operator_source(kind: str, source: str) -> None:
    """Run the static checks only (our allowlist, then RestrictedPython); raise OperatorRejected."""
    try:
        tree, _ = _worker.check_source(kind, source)
        _worker.restricted_compile(tree)
    except _worker.PolicyViolation as exc:
        raise OperatorRejected(exc.rule, exc.message, exc.line, exc.col) from None


def _clean_env() -> dict[str, str]:
    # The worker gets no inherited environment: no API keys, no PYTHON* variables.
    return {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}


class _Worker:
    """One worker process and its pipe protocol."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
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
        self._buf = bytearray()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def _death(self) -> str:
        code = self.proc.wait()
        if code == -signal.SIGXCPU:
            return "the operator exceeded its CPU budget; the worker was stopped"
        if code < 0:
            return f"the worker was ended by signal {-code}"
        return f"the worker exited with status {code}"

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its reply; kill the worker if the deadline passes."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        body = json.dumps(message, allow_nan=False).encode()
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise OperatorFailed(self._death()) from None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        need = _HEADER.size
        size: int | None = None
        self._buf.clear()
        while True:
            if size is None and len(self._buf) >= _HEADER.size:
                (size,) = _HEADER.unpack(self._buf[: _HEADER.size])
                if size > self.limits.max_reply_bytes:
                    self.kill()
                    raise OperatorFailed(f"the worker's reply of {size} bytes exceeds max_reply_bytes")
                need = _HEADER.size + size
            if size is not None and len(self._buf) >= need:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise OperatorFailed(f"the operator exceeded its wall-clock budget of {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, max(65536, need - len(self._buf)))
            if not chunk:
                raise OperatorFailed(self._death())
            self._buf += chunk
        try:
            reply = json.loads(bytes(self._buf[_HEADER.size : need]))
        except (ValueError, RecursionError):
            self.kill()
            raise OperatorFailed("the worker sent a reply that is not valid JSON") from None
        if not isinstance(reply, dict):
            self.kill()
            raise OperatorFailed("the worker sent a reply that is not an object")
        return reply


def _stop(worker_box: list[_Worker | None]) -> None:
    worker = worker_box[0]
    worker_box[0] = None
    if worker is not None:
        worker.kill()


class _Base:
    """Shared machinery: one lazily (re)started worker per operator, a lock, and the load handshake."""

    kind: str

    def __init__(self, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.restarts = 0
        self._lock = threading.Lock()
        self._box: list[_Worker | None] = [None]
        self._finalizer = weakref.finalize(self, _stop, self._box)
        self._params_cache: tuple[int, str] | None = None

    def _ensure(self) -> _Worker:
        worker = self._box[0]
        if worker is not None and worker.alive():
            return worker
        if worker is not None:
            worker.kill()
            self.restarts += 1
        worker = _Worker(self.limits)
        self._box[0] = worker
        lim = self.limits
        reply = worker.request(
            {
                "op": "load",
                "kind": self.kind,
                "source": self.source,
                "memory_bytes": lim.memory_mb * 1024 * 1024,
                "cpu_seconds": lim.cpu_seconds,
                "limits": {
                    "max_acc_nodes": lim.max_acc_nodes,
                    "max_acc_depth": lim.max_acc_depth,
                    "max_acc_chars": lim.max_acc_chars,
                },
            },
            lim.start_seconds,
        )
        if not reply.get("ok"):
            _stop(self._box)
            raise OperatorRejected(
                str(reply.get("rule", "load")),
                str(reply.get("error", "the worker refused the operator")),
                int(reply.get("line") or 0),
                int(reply.get("col") or 0),
            )
        return worker

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
            "cpu_seconds": self.limits.cpu_seconds,
        }
        with self._lock:
            worker = self._ensure()
            return worker.request(message, self.limits.wall_seconds)

    @staticmethod
    def _raise(reply: dict[str, Any]) -> None:
        index = reply.get("index")
        raise OperatorFailed(
            str(reply.get("error", "unknown failure"))[:500],
            index=index if isinstance(index, int) and index >= 0 else None,
        )

    def start(self) -> None:
        """Start the worker and load the operator now (``compile_operator`` does this)."""
        with self._lock:
            self._ensure()

    def close(self) -> None:
        """Stop the worker process; the operator restarts one if called again."""
        with self._lock:
            _stop(self._box)

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
        return [float(r) for r in reply["results"]]


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
        return [r is True for r in reply["results"]]


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
        """Fold each value in turn; returns the final acc and one result per value."""
        if acc is None:
            acc = {}
        if not isinstance(acc, dict):
            raise OperatorFailed(f"acc must be a dict, not {type(acc).__name__}")
        reply = self._run(values, params, acc)
        if not reply.get("ok"):
            self._raise(reply)
        try:
            new_acc = json.loads(reply["acc_json"])
        except (KeyError, TypeError, ValueError, RecursionError):
            raise OperatorFailed("the worker returned no readable acc") from None
        if not isinstance(new_acc, dict):
            raise OperatorFailed("the worker returned an acc that is not a dict")
        return new_acc, list(reply["results"])


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


@define(frozen=True, slots=True)
class Verdict:
    """Outcome of running an operator on a fixed sample before live data."""

    ok: bool
    checked: int
    compared_with: str | None = None
    detail: str = ""
    outputs: tuple[Any, ...] = field(default=(), repr=False)

    def describe(self) -> str:
        """One line for people."""
        against = f" against {self.compared_with}" if self.compared_with else ""
        state = "verified" if self.ok else "REFUSED"
        return f"{state}: {self.checked} sample updates{against}" + (
            f"; {self.detail}" if self.detail else ""
        )


SAMPLE_PRICES: tuple[float, ...] = (
    20.0, 20.5, 21.25, 19.75, 18.0, 18.5, 22.0, 25.5, 24.0, 23.75,
    19.0, 17.25, 30.0, 31.5, 29.0, 28.25, 27.0, 26.5, 20.0, 45.0,
)  # fmt: skip
"""The fixed sample every generated operator runs on before it sees live data."""


def _same(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)
    if a is None or b is None:
        return a is b
    return bool(a == b)


def verify_operator(
    op: SandboxedOperator,
    params: Any = None,
    *,
    reference: Callable[..., Any] | None = None,
    reference_name: str | None = None,
    sample: Sequence[float] = SAMPLE_PRICES,
    tolerance: float = 1e-9,
) -> Verdict:
    """Run ``op`` on ``sample``; with a direct ``reference`` of the same contract, results must match.

    Raises OperatorRejected (rule ``verification``) naming the first differing input, or the failure.
    """
    name = reference_name or (getattr(reference, "__name__", "the direct operator") if reference else None)
    try:
        if isinstance(op, AccumulateOperator):
            _, outs = op.run_batch(list(sample), params, {})
        else:
            outs = list(op.run_batch(list(sample), params))
    except OperatorFailed as exc:
        raise OperatorRejected("verification", f"failed on the fixed sample: {exc}") from None
    if reference is not None:
        ref_acc: dict[str, Any] = {}
        for i, value in enumerate(sample):
            if isinstance(op, AccumulateOperator):
                ref_acc, expected = reference(ref_acc, value, params)
            else:
                expected = reference(value, params)
            if not _same(outs[i], expected, tolerance):
                raise OperatorRejected(
                    "verification",
                    f"differs from {name} at sample update #{i} (input {value!r}): "
                    f"got {outs[i]!r:.80}, expected {expected!r:.80}",
                )
    return Verdict(True, len(sample), name, "", tuple(outs))
