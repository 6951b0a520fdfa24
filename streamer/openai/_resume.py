"""Resume a stream after a cut, exactly once: the client's one reconnect loop.

Two kinds of stream resume, each through a *cursor* that knows where the stream stands:

* an OpenAI background response (:class:`ResponseCursor`): ``GET /responses/{id}?stream=true&
  starting_after=N``, N the last ``sequence_number`` handed out;
* any SSE endpoint, by the WHATWG EventSource rules (:class:`EventSourceCursor`): the same request
  again with ``Last-Event-ID`` set to the last event id; a 204 answer ends the stream cleanly.

:class:`ResumingBody` / :class:`AsyncResumingBody` stand in for the body of the first response:
they hand out its chunks and, when it is cut (``ConnectionLost``, an idle ``StreamTimeout``, or an
end of the body before the stream's own end), the event loop reading them calls
``resume(decoder, error)``. That waits (the server's last ``retry:``, else :class:`Resume`'s
backoff; ``close()`` cuts the wait short), opens the next segment and returns True; the loop then
starts a fresh SSE decoder on it, so the partial event at the cut is dropped with the old one.
:class:`Reconnects` is the pure part both twins share: the budget, the waits, the log lines, the
counter, and the error handed back once the budget is spent (the original one, with
``resume_attempts`` and ``resume_cause``).
"""

from __future__ import annotations

import random
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import anyio
from attrs import define, field

from .. import sse
from ..errors import ConnectionLost, StreamError, StreamTimeout, UnexpectedEOF, UsageError
from ._body import AsyncBody, SyncBody, log
from ._policy import full_jitter

__all__ = [
    "AsyncResumingBody",
    "EventSourceCursor",
    "Reconnects",
    "Refused",
    "Reopen",
    "ResponseCursor",
    "Resume",
    "ResumingBody",
    "aresuming_events",
    "budget",
    "resuming_events",
]


@define(frozen=True, slots=True)
class Resume:
    """A resume budget: at most ``attempts`` reconnects in a row without a new event, and the waits.

    Before each reconnect the stream waits the server's last ``retry:`` (capped at ``max_retry``
    seconds), or else exponential backoff with full jitter: attempt ``n`` (from 0) waits a random
    time in ``[0, min(max_backoff, initial_backoff * 2**n)]``. A reconnect that brings new events
    starts the count again.
    """

    attempts: int = 5
    initial_backoff: float = 0.25
    max_backoff: float = 4.0
    max_retry: float = 60.0
    rng: random.Random = field(factory=random.Random, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.attempts < 0:
            raise UsageError(f"Resume.attempts must be 0 or more, got {self.attempts}")
        if min(self.initial_backoff, self.max_backoff, self.max_retry) < 0:
            raise UsageError("Resume's backoff and max_retry must be 0 or more seconds")

    def delay(self, attempt: int, retry_ms: int | None, asked: float | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (from 0): what the server asked, else backoff."""
        if asked is not None:
            return min(asked, self.max_retry)
        if retry_ms is not None:
            return min(retry_ms / 1000, self.max_retry)
        return full_jitter(attempt, self.initial_backoff, self.max_backoff, self.rng)


def budget(value: Resume | int | None, default: Resume | None, option: str) -> Resume | None:
    """The budget an option (``resume=`` or ``reconnect=``) asks for: a ``Resume``, an int of attempts
    (0: off), True / False, or None for ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        return Resume() if value else None
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"{option} must be 0 or more attempts, got {value}")
        return Resume(attempts=value) if value else None
    if isinstance(value, Resume):
        return value if value.attempts else None
    raise UsageError(f"{option} takes a Resume, a number of attempts, or a bool; not {type(value).__name__}")


@define(frozen=True, slots=True)
class Reopen:
    """The request that resumes a stream: method, path (under the base URL), JSON body, extra headers."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str | bytes] = field(factory=dict)


@define(frozen=True, slots=True)
class Refused:
    """A reconnect that got no stream: its error, whether another may follow, the wait the server asked."""

    error: StreamError
    retryable: bool
    wait: float | None = None


class Cursor(Protocol):
    """Where a stream stands, for resuming it (pure)."""

    #: True if a 204 answer to a reconnect means "stop": the stream then ends cleanly.
    stops_on_204: bool

    def position(self) -> object:
        """A value that changes whenever events are handed out (progress resets the budget)."""

    def unresumable(self) -> str | None:
        """Why the stream cannot resume exactly once from here, or None if it can."""

    def request(self) -> Reopen:
        """The request that resumes after the last event handed out."""

    def describe(self) -> str:
        """Where the resume starts, for the log (no secrets)."""

    def joined(self) -> None:
        """A resumed segment starts now."""


class _ResponseState(Protocol):
    index: int
    sequence: int | None
    response_id: str | None
    joined: bool
    resumes: int


class ResponseCursor:
    """A Responses stream's place: its response id and the last ``sequence_number`` handed out."""

    stops_on_204 = False

    def __init__(self) -> None:
        self._bound: _ResponseState | None = None

    def bind(self, protocol: _ResponseState, response_id: str | None = None) -> None:
        """Follow ``protocol`` (the stream's, made after its body); ``response_id``: when already known."""
        self._bound = protocol
        if protocol.response_id is None:
            protocol.response_id = response_id

    @property
    def _protocol(self) -> _ResponseState:
        assert self._bound is not None, "ResponseCursor.bind() comes before the stream is read"
        return self._bound

    def position(self) -> object:
        """Events handed out so far."""
        return self._protocol.index

    def unresumable(self) -> str | None:
        """No response id yet (cut before ``response.created``), or events without sequence numbers."""
        protocol = self._protocol
        if protocol.response_id is None:
            return "the cut came before response.created, so the response id is not known"
        if protocol.sequence is None and protocol.index > 0:
            return "its events carry no sequence_number to resume after"
        return None

    def request(self) -> Reopen:
        """``GET responses/{id}?stream=true&starting_after=N``."""
        protocol = self._protocol
        path = f"responses/{quote(protocol.response_id or '', safe='')}?stream=true"
        if protocol.sequence is not None:
            path += f"&starting_after={protocol.sequence}"
        return Reopen("GET", path)

    def describe(self) -> str:
        """The response id (shortened, quoted: the server wrote it) and ``starting_after=N``."""
        protocol = self._protocol
        return f"response {(protocol.response_id or '')[:64]!r}, starting_after={protocol.sequence}"

    def joined(self) -> None:
        """From now on every sequence number must be above the last one (the protocol checks)."""
        self._protocol.joined = True
        self._protocol.resumes += 1


class EventSourceCursor:
    """A raw SSE stream's place, by the EventSource rules: the last event id, and the request to repeat."""

    stops_on_204 = True

    def __init__(self, method: str, path: str, json: Any) -> None:
        self._method = method
        self._path = path
        self._json = json
        self.last_id: str | None = None
        self.count = 0
        self.resumes = 0

    def seen(self, event: sse.Event) -> None:
        """An event was handed out."""
        self.count += 1
        if event.id is not None:
            self.last_id = event.id

    def position(self) -> object:
        """Events handed out so far."""
        return self.count

    def unresumable(self) -> str | None:
        """Events were handed out, but none carried an id to send as ``Last-Event-ID``."""
        if self.count and not self.last_id:
            return "its events carry no id, so a reconnect could not say where to resume (Last-Event-ID)"
        return None

    def request(self) -> Reopen:
        """The same request, with ``Last-Event-ID`` once an id is known."""
        headers = {"last-event-id": self.last_id.encode("utf-8")} if self.last_id else {}
        return Reopen(self._method, self._path, self._json, headers)

    def describe(self) -> str:
        """``Last-Event-ID`` (shortened, quoted: the server wrote it)."""
        return "from the start" if self.last_id is None else f"Last-Event-ID {self.last_id[:40]!r}"

    def joined(self) -> None:
        """Count the resume."""
        self.resumes += 1


_UNSET = object()


def _resumable(error: StreamError) -> bool:
    """A cut worth resuming: a lost connection, an idle timeout, or a body that ended too soon."""
    if isinstance(error, StreamTimeout):
        return error.kind == "idle"
    return isinstance(error, (ConnectionLost, UnexpectedEOF))


class Reconnects:
    """The pure part of resuming: budget, waits, logging, the counter, the error when giving up."""

    __slots__ = ("_last", "_original", "_position", "_retry_ms", "_row", "budget", "cursor", "url")

    def __init__(self, budget: Resume, cursor: Cursor, url: str) -> None:
        self.budget = budget
        self.cursor = cursor
        self.url = url
        self._row = 0
        self._original: StreamError | None = None
        self._last: StreamError | None = None
        self._position: object = _UNSET  # no cut yet
        self._retry_ms: int | None = None

    def cut(self, error: StreamError | None, decoder: sse.Decoder) -> bool:
        """A segment ended early with ``error`` (None: the body ended cleanly at an event boundary).

        True: reconnect. False: the clean end stays the end. Raises ``error`` when it cannot resume.
        """
        if decoder.retry is not None:
            self._retry_ms = decoder.retry
        position = self.cursor.position()
        if position != self._position:  # events since the last cut: a new run of attempts
            self._position = position
            self._row = 0
            self._original = error
        elif self._row == 0:
            self._original = error
        self._last = error
        reason = self.cursor.unresumable()
        if reason is not None:
            if error is None:
                return False
            log.info("%s: cut (%s), not resumed: %s", self.url, type(error).__name__, reason)
            raise error
        if error is not None and not _resumable(error):
            raise error
        return True

    def wait(self, asked: float | None = None) -> float:
        """Seconds to wait before the next reconnect; raises the original error once the budget is spent."""
        if self._row >= self.budget.attempts:
            raise self.give_up()
        delay = self.budget.delay(self._row, self._retry_ms, asked)
        self._row += 1
        why = "a clean end" if self._last is None else type(self._last).__name__
        log.info(
            "%s: resuming after %s (%s), attempt %d of %d, in %.3f s",
            self.url,
            why,
            self.cursor.describe(),
            self._row,
            self.budget.attempts,
            delay,
        )
        return delay

    def refused(self, refusal: Refused) -> float | None:
        """A reconnect got no stream: the wait the server asked for; raises when no other may follow."""
        log.debug("%s: reconnect %d failed: %s", self.url, self._row, refusal.error)
        self._last = refusal.error
        if not refusal.retryable:
            raise self.give_up()
        return refusal.wait

    def joined(self) -> None:
        """A reconnect got a stream: count it, and log."""
        self.cursor.joined()
        log.info("%s: resumed (%s) on attempt %d", self.url, self.cursor.describe(), self._row)

    def give_up(self) -> StreamError:
        """The error to end with: the cut's own, with the attempts made and the last one's failure."""
        error = self._original or self._last
        if error is None:  # the server ended cleanly each time and never said stop (204)
            error = UnexpectedEOF(
                f"{self.url} ended the event stream {self._row + 1} times without a new event and never "
                "answered 204 (the EventSource way to say stop)"
            )
        error.resume_attempts = self._row
        error.resume_cause = self._last if self._last is not error else None
        log.info("%s: not resumed after %d attempts: %s", self.url, self._row, error)
        return error


class ResumingBody:
    """The chunks of a stream over as many responses as the cuts need (sync; see the module)."""

    __slots__ = ("__weakref__", "_body", "_closed", "_failure", "_owner", "_reopen", "_wake", "reconnects")

    def __init__(
        self, body: SyncBody, reopen: Callable[[Reopen], SyncBody | Refused | None], reconnects: Reconnects
    ) -> None:
        self._body = body
        self._reopen = reopen
        self.reconnects = reconnects
        self._failure: StreamError | None = None
        self._closed = False
        self._wake = threading.Event()
        self._owner: weakref.ref[Any] | None = None

    def attach(self, stream: Any) -> None:
        """Tell each response's body which stream reads it (see ``SyncBody.attach``)."""
        self._owner = weakref.ref(stream)
        self._body.attach(stream)

    def __iter__(self) -> ResumingBody:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._body)
        except (ConnectionLost, StreamTimeout) as exc:
            if not _resumable(exc):
                raise
            self._failure = exc  # the reader's resume() decides
            raise StopIteration from None

    def resume(self, decoder: sse.Decoder, error: StreamError | None) -> bool:
        """After a cut: True once the next segment is open; False to end (closed, or a clean end)."""
        failure, self._failure = self._failure, None
        plan = self.reconnects
        if self._closed or not plan.cut(failure or error, decoder):
            return False
        delay = plan.wait()
        while True:
            if self._wake.wait(delay) or self._closed:
                return False
            outcome = self._reopen(plan.cursor.request())
            if isinstance(outcome, SyncBody):
                return self._switch(outcome)
            if outcome is None:
                log.info("%s: the server answered 204 to a reconnect: the stream ends", plan.url)
                return False
            delay = plan.wait(plan.refused(outcome))

    def _switch(self, body: SyncBody) -> bool:
        self._body.close()
        self._body = body
        owner = self._owner() if self._owner is not None else None
        if owner is not None:
            body.attach(owner)
        if self._closed:  # closed while the reconnect was being made
            body.close()
            return False
        self.reconnects.joined()
        return True

    def close(self) -> None:
        """Stop: end a resume wait at once, and close the current response (safe from any thread)."""
        self._closed = True
        self._wake.set()
        self._body.close()


class AsyncResumingBody:
    """The async twin of :class:`ResumingBody`."""

    __slots__ = ("__weakref__", "_body", "_closed", "_failure", "_owner", "_reopen", "_wake", "reconnects")

    def __init__(
        self,
        body: AsyncBody,
        reopen: Callable[[Reopen], Awaitable[AsyncBody | Refused | None]],
        reconnects: Reconnects,
    ) -> None:
        self._body = body
        self._reopen = reopen
        self.reconnects = reconnects
        self._failure: StreamError | None = None
        self._closed = False
        self._wake: anyio.Event | None = None
        self._owner: weakref.ref[Any] | None = None

    def attach(self, stream: Any) -> None:
        """Tell each response's body which stream reads it (see ``AsyncBody.attach``)."""
        self._owner = weakref.ref(stream)
        self._body.attach(stream)

    def __aiter__(self) -> AsyncResumingBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._body.__anext__()
        except (ConnectionLost, StreamTimeout) as exc:
            if not _resumable(exc):
                raise
            self._failure = exc
            raise StopAsyncIteration from None

    async def resume(self, decoder: sse.Decoder, error: StreamError | None) -> bool:
        """After a cut: True once the next segment is open; False to end (closed, or a clean end)."""
        failure, self._failure = self._failure, None
        plan = self.reconnects
        if self._closed or not plan.cut(failure or error, decoder):
            return False
        delay = plan.wait()
        while True:
            if await self._sleep(delay):
                return False
            outcome = await self._reopen(plan.cursor.request())
            if isinstance(outcome, AsyncBody):
                return await self._switch(outcome)
            if outcome is None:
                log.info("%s: the server answered 204 to a reconnect: the stream ends", plan.url)
                return False
            delay = plan.wait(plan.refused(outcome))

    async def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True if closed meanwhile."""
        if self._closed:
            return True
        self._wake = anyio.Event()
        with anyio.move_on_after(delay):
            await self._wake.wait()
        return self._closed

    async def _switch(self, body: AsyncBody) -> bool:
        await self._body.aclose()
        self._body = body
        owner = self._owner() if self._owner is not None else None
        if owner is not None:
            body.attach(owner)
        if self._closed:
            await body.aclose()
            return False
        self.reconnects.joined()
        return True

    async def aclose(self) -> None:
        """Stop: end a resume wait at once, and close the current response."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        await self._body.aclose()


def _truncated(url: str, decoder: sse.Decoder) -> UnexpectedEOF:
    return UnexpectedEOF(
        f"the event stream from {url} ended in the middle of an event after {decoder.bytes_fed} bytes; "
        "the incomplete event was discarded"
    )


def resuming_events(
    body: ResumingBody, cursor: EventSourceCursor, max_event_size: int
) -> Iterator[sse.Event]:
    """The events of a raw SSE stream that reconnects after cuts (a fresh decoder per segment)."""
    while True:
        decoder = sse.Decoder(max_event_size)
        for chunk in body:
            for event in decoder.feed(chunk):
                cursor.seen(event)
                yield event
        decoder.close()
        error = _truncated(body.reconnects.url, decoder) if decoder.truncated else None
        if not body.resume(decoder, error):
            return


async def aresuming_events(
    body: AsyncResumingBody, cursor: EventSourceCursor, max_event_size: int
) -> AsyncIterator[sse.Event]:
    """The async twin of :func:`resuming_events`."""
    while True:
        decoder = sse.Decoder(max_event_size)
        async for chunk in body:
            for event in decoder.feed(chunk):
                cursor.seen(event)
                yield event
        decoder.close()
        error = _truncated(body.reconnects.url, decoder) if decoder.truncated else None
        if not await body.resume(decoder, error):
            return
