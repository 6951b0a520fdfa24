"""streamer.scanner: the Go-style scanner contract, sync and async."""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from streamer.errors import CallbackError, NoCurrentEvent, OperatorConfigError, StreamError, UsageError
from streamer.scanner import AsyncScanner, Scanner


class Boom(StreamError):
    pass


def failing_after(items: list[int]) -> Iterator[int]:
    yield from items
    raise Boom("source failed")


class TrackedSource:
    """An iterator that records whether it was closed."""

    def __init__(self, items: list[int]) -> None:
        self._items = iter(items)
        self.closed = 0

    def __iter__(self) -> TrackedSource:
        return self

    def __next__(self) -> int:
        return next(self._items)

    def close(self) -> None:
        self.closed += 1


def test_next_walks_every_event_then_returns_false() -> None:
    scanner = Scanner([1, 2, 3])
    seen = []
    while scanner.next():
        seen.append(scanner.event())
    assert seen == [1, 2, 3]
    assert scanner.err() is None
    assert scanner.count == 3


def test_next_stores_the_source_error_instead_of_raising() -> None:
    scanner = Scanner(failing_after([1]))
    assert scanner.next()
    assert not scanner.next()
    assert isinstance(scanner.err(), Boom)


def test_next_stays_false_after_an_error() -> None:
    scanner = Scanner(failing_after([]))
    assert not scanner.next()
    assert not scanner.next()
    assert isinstance(scanner.err(), Boom)


def test_event_before_next_raises_a_clear_error() -> None:
    with pytest.raises(NoCurrentEvent, match="next\\(\\) has not returned True"):
        Scanner([1]).event()


def test_event_after_the_end_raises() -> None:
    scanner = Scanner([1])
    assert scanner.next()
    assert not scanner.next()
    with pytest.raises(NoCurrentEvent, match="closed"):
        scanner.event()


def test_event_after_a_failure_says_so() -> None:
    scanner = Scanner(failing_after([]))
    scanner.next()
    with pytest.raises(NoCurrentEvent, match="failed"):
        scanner.event()


def test_close_is_idempotent_and_closes_the_source_once() -> None:
    source = TrackedSource([1, 2])
    closed = []
    scanner = Scanner(source, on_close=lambda: closed.append(True))
    assert scanner.next()
    scanner.close()
    scanner.close()
    assert source.closed == 1
    assert closed == [True]
    assert not scanner.next()
    assert scanner.err() is None


def test_reaching_the_end_releases_the_source() -> None:
    source = TrackedSource([1])
    scanner = Scanner(source)
    while scanner.next():
        pass
    assert source.closed == 1
    assert scanner.closed


def test_context_manager_closes() -> None:
    source = TrackedSource([1, 2])
    with Scanner(source) as scanner:
        scanner.next()
    assert source.closed == 1


def test_iteration_yields_events_then_raises_the_stored_error() -> None:
    seen = []
    with pytest.raises(Boom):
        for item in Scanner(failing_after([1, 2])):
            seen.append(item)
    assert seen == [1, 2]


def test_keyboard_interrupt_propagates_and_closes() -> None:
    def interrupted() -> Iterator[int]:
        yield 1
        raise KeyboardInterrupt

    scanner = Scanner(interrupted())
    assert scanner.next()
    with pytest.raises(KeyboardInterrupt):
        scanner.next()
    assert scanner.closed
    assert scanner.err() is None


def test_map_transforms_and_closes_the_upstream() -> None:
    source = TrackedSource([1, 2, 3])
    mapped = Scanner(source).map(lambda x: x * 10)
    assert list(mapped) == [10, 20, 30]
    assert source.closed == 1


def test_map_function_error_ends_the_scanner_with_a_callback_error() -> None:
    def explode(x: int) -> int:
        raise ValueError(f"bad {x}")

    mapped = Scanner([1]).map(explode)
    assert not mapped.next()
    error = mapped.err()
    assert isinstance(error, CallbackError)
    assert isinstance(error.__cause__, ValueError)
    assert str(error.__cause__) == "bad 1"


def test_filter_keeps_matching_events() -> None:
    assert list(Scanner([1, 2, 3, 4]).filter(lambda x: x % 2 == 0)) == [2, 4]


def test_closing_a_derived_scanner_closes_the_source() -> None:
    source = TrackedSource([1, 2, 3])
    derived = Scanner(source).filter(lambda x: True).map(str)
    assert derived.next()
    derived.close()
    assert source.closed == 1


async def agen(items: list[int], fail: bool = False) -> AsyncIterator[int]:
    for item in items:
        yield item
    if fail:
        raise Boom("async source failed")


@pytest.mark.anyio
async def test_async_next_walks_every_event() -> None:
    scanner = AsyncScanner(agen([1, 2]))
    seen = []
    while await scanner.next():
        seen.append(scanner.event())
    assert seen == [1, 2]
    assert scanner.err() is None


@pytest.mark.anyio
async def test_async_next_stores_the_error() -> None:
    scanner = AsyncScanner(agen([1], fail=True))
    assert await scanner.next()
    assert not await scanner.next()
    assert isinstance(scanner.err(), Boom)


@pytest.mark.anyio
async def test_async_iteration_raises_the_stored_error_at_the_end() -> None:
    seen = []
    with pytest.raises(Boom):
        async for item in AsyncScanner(agen([1, 2], fail=True)):
            seen.append(item)
    assert seen == [1, 2]


@pytest.mark.anyio
async def test_async_close_runs_async_on_close_once() -> None:
    calls = []

    async def on_close() -> None:
        calls.append(1)

    async with AsyncScanner(agen([1, 2]), on_close=on_close) as scanner:
        assert await scanner.next()
    await scanner.aclose()
    assert calls == [1]
    assert not await scanner.next()


@pytest.mark.anyio
async def test_async_map_and_filter_compose() -> None:
    scanner = AsyncScanner(agen([1, 2, 3, 4])).filter(lambda x: x > 1).map(lambda x: x * 2)
    assert [x async for x in scanner] == [4, 6, 8]


def explode_on(bad: int) -> Callable[[int], int]:
    def fn(x: int) -> int:
        if x == bad:
            raise KeyError(f"no key {x}")
        return x

    return fn


def derived(kind: str, scanner: Any, bad: int) -> Any:
    fn = explode_on(bad)
    if kind == "map":
        return scanner.map(fn)
    if kind == "filter":
        return scanner.filter(lambda x: fn(x) > 0)
    return scanner.accumulate(lambda acc, x: (acc, fn(x)))


@pytest.mark.parametrize("kind", ["map", "filter", "accumulate"])
def test_a_raising_callback_ends_the_scanner_with_callback_error_naming_the_event(kind: str) -> None:
    source = TrackedSource([1, 2, 3])
    scanner = derived(kind, Scanner(source), bad=2)
    assert scanner.next()
    assert scanner.event() == 1
    assert not scanner.next()
    error = scanner.err()
    assert isinstance(error, CallbackError)
    assert isinstance(error.__cause__, KeyError)
    assert error.callback == kind
    assert error.index == 1
    assert "event #1" in str(error)
    assert scanner.closed
    assert source.closed == 1


@pytest.mark.parametrize("kind", ["map", "filter", "accumulate"])
def test_iterating_a_derived_scanner_raises_the_callback_error(kind: str) -> None:
    with pytest.raises(CallbackError) as info:
        list(derived(kind, Scanner([1, 2]), bad=1))
    assert isinstance(info.value.__cause__, KeyError)


def test_an_accumulator_returning_the_wrong_shape_is_a_callback_error() -> None:
    scanner = Scanner([1]).accumulate(lambda acc, x: x)
    assert not scanner.next()
    error = scanner.err()
    assert isinstance(error, CallbackError)
    assert isinstance(error.__cause__, TypeError)


def test_a_stream_error_from_a_callback_passes_through_unwrapped() -> None:
    def refuse(x: int) -> int:
        raise OperatorConfigError("vwap needs a price and a volume")

    scanner = Scanner([1]).map(refuse)
    assert not scanner.next()
    assert type(scanner.err()) is OperatorConfigError


def test_an_upstream_error_is_not_mistaken_for_a_callback_error() -> None:
    scanner = Scanner(failing_after([1])).map(lambda x: x + 1)
    assert scanner.next()
    assert not scanner.next()
    assert type(scanner.err()) is Boom


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["map", "filter", "accumulate"])
async def test_async_raising_callback_ends_the_scanner_with_callback_error(kind: str) -> None:
    scanner = derived(kind, AsyncScanner(agen([1, 2, 3])), bad=2)
    assert await scanner.next()
    assert not await scanner.next()
    error = scanner.err()
    assert isinstance(error, CallbackError)
    assert isinstance(error.__cause__, KeyError)
    assert error.index == 1
    assert scanner.closed


@pytest.mark.anyio
async def test_async_upstream_error_is_not_mistaken_for_a_callback_error() -> None:
    scanner = AsyncScanner(agen([1], fail=True)).map(lambda x: x + 1)
    assert await scanner.next()
    assert not await scanner.next()
    assert type(scanner.err()) is Boom


@pytest.mark.anyio
async def test_next_used_as_a_bool_without_await_raises_type_error() -> None:
    scanner = AsyncScanner(agen([1, 2]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # bool() is what `while stream.next():` calls; asserted directly so that a regression fails
        # here instead of looping forever.
        with pytest.raises(TypeError, match=r"await it: `while await stream.next\(\):`"):
            bool(scanner.next())
        with pytest.raises(TypeError, match="await it"):
            assert not scanner.next()
        gc.collect()
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []
    # The misuse consumed nothing: the scanner still yields every event.
    assert await scanner.next()
    assert scanner.event() == 1


@pytest.mark.anyio
async def test_an_awaited_next_is_the_bool() -> None:
    scanner = AsyncScanner(agen([1]))
    step = scanner.next()
    assert await step is True
    assert await scanner.next() is False


def test_no_current_event_is_a_usage_error_not_a_stream_error() -> None:
    with pytest.raises(UsageError):
        Scanner([]).event()
    assert not issubclass(NoCurrentEvent, StreamError)


def broken_on_close() -> None:
    raise RuntimeError("on_close bug")


def test_an_on_close_that_raises_at_the_end_is_a_callback_error_in_err_not_raised_by_next() -> None:
    scanner = Scanner([1], on_close=broken_on_close)
    assert scanner.next()
    assert not scanner.next()  # must not raise
    error = scanner.err()
    assert isinstance(error, CallbackError)
    assert error.callback == "on_close"
    assert isinstance(error.__cause__, RuntimeError)
    assert scanner.closed


def test_an_on_close_that_raises_does_not_hide_the_streams_own_error() -> None:
    scanner = Scanner(failing_after([]), on_close=broken_on_close)
    assert not scanner.next()
    assert type(scanner.err()) is Boom


def test_close_raises_an_on_close_failure_as_a_callback_error() -> None:
    scanner = Scanner([1, 2], on_close=broken_on_close)
    assert scanner.next()
    with pytest.raises(CallbackError) as info:
        scanner.close()
    assert isinstance(info.value.__cause__, RuntimeError)
    scanner.close()  # once closed, closing again does nothing
    assert scanner.closed


@pytest.mark.anyio
@pytest.mark.parametrize("is_coroutine", [False, True])
async def test_async_on_close_that_raises_at_the_end_is_a_callback_error(is_coroutine: bool) -> None:
    async def abroken() -> None:
        raise RuntimeError("async on_close bug")

    scanner = AsyncScanner(agen([1]), on_close=abroken if is_coroutine else broken_on_close)
    assert await scanner.next()
    assert not await scanner.next()
    error = scanner.err()
    assert isinstance(error, CallbackError)
    assert isinstance(error.__cause__, RuntimeError)
