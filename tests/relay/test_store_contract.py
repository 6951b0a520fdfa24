"""The store contract: the same suite runs against MemoryStore and RedisStore (a real redis-server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from streamer.errors import ResumeTooOld
from streamer.relay import Entry, MemoryStore, Store
from streamer.relay.redis_store import RedisStore

from .conftest import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.aclose()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        redis = RedisStore(server.url, prefix=f"test:{uuid.uuid4().hex}:")
        yield redis
        await redis.aclose()


def entries(first: int, last: int, *, final: bool = False) -> list[Entry]:
    return [Entry(n, "delta", f'"piece {n}"', last=final and n == last) for n in range(first, last + 1)]


async def test_a_store_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


async def test_claim_succeeds_once_until_its_ttl(store: Store) -> None:
    assert await store.claim("s", 60)
    assert not await store.claim("s", 60)
    assert await store.claim("other", 60)


async def test_a_claim_expires(store: Store) -> None:
    assert await store.claim("s", 0.05)
    await asyncio.sleep(0.3)
    assert await store.claim("s", 60)


async def test_exists_after_claim_or_append(store: Store) -> None:
    assert not await store.exists("s")
    await store.claim("s", 60)
    assert await store.exists("s")
    await store.append("t", entries(1, 1))
    assert await store.exists("t")


async def test_read_returns_entries_after_an_id_in_order_up_to_limit(store: Store) -> None:
    await store.append("s", entries(1, 5))
    await store.append("s", entries(6, 7, final=True))
    assert await store.read("s", 0, 0, 100) == entries(1, 7, final=True)
    assert await store.read("s", 2, 0, 3) == entries(3, 5)
    got = await store.read("s", 6, 0, 100)
    assert got == [Entry(7, "delta", '"piece 7"', last=True)] and got[0].last
    assert await store.read("s", 7, 0, 100) == []


async def test_entries_keep_any_text_as_a_browser_receives_it(store: Store) -> None:
    text = 'line one\nline "two"\r\n\u65e5\u672c \U0001f642 \x00 end\r'
    await store.append("s", [Entry(1, "custom.type", text)])
    (got,) = await store.read("s", 0, 0, 10)
    browser = text.replace("\r\n", "\n").replace("\r", "\n")  # SSE carries line ends as LF
    assert (got.id, got.event, got.data, got.last) == (1, "custom.type", browser, False)
    assert got.wire == Entry(1, "custom.type", text).wire


async def test_read_waits_for_an_entry_that_comes(store: Store) -> None:
    await store.append("s", entries(1, 1))

    async def later() -> None:
        await asyncio.sleep(0.2)
        await store.append("s", entries(2, 2))

    writer = asyncio.ensure_future(later())
    got = await store.read("s", 1, 10, 100)
    await writer
    assert got == entries(2, 2)


async def test_read_times_out_empty(store: Store) -> None:
    await store.append("s", entries(1, 1))
    assert await store.read("s", 1, 0.1, 100) == []


async def test_finish_keeps_the_stream_for_retain_then_forgets_it(store: Store) -> None:
    await store.claim("s", 60)
    await store.append("s", entries(1, 3, final=True))
    await store.finish("s", 0.3)
    assert await store.read("s", 0, 0, 100) == entries(1, 3, final=True)
    await asyncio.sleep(0.6)
    assert not await store.exists("s")
    assert await store.read("s", 0, 0, 100) == []
    assert await store.claim("s", 60)  # a new run may start under the same id


async def test_touch_makes_a_stream_watched_for_its_ttl(store: Store) -> None:
    await store.claim("s", 60)
    assert not await store.watched("s")
    await store.touch("s", 0.2)
    assert await store.watched("s")
    await asyncio.sleep(0.5)
    assert not await store.watched("s")


async def test_streams_are_independent(store: Store) -> None:
    await store.append("a", entries(1, 2))
    await store.append("b", [Entry(1, "x", "b1")])
    assert [e.data for e in await store.read("a", 0, 0, 10)] == ['"piece 1"', '"piece 2"']
    assert [e.data for e in await store.read("b", 0, 0, 10)] == ["b1"]


async def test_redis_resume_from_a_trimmed_window_fails_typed(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix=f"test:{uuid.uuid4().hex}:", maxlen=10)
    try:
        for n in range(1, 501):
            await store.append("s", entries(n, n))
        with pytest.raises(ResumeTooOld, match="trimmed"):
            await store.read("s", 0, 0, 10)
        tail = await store.read("s", 499, 0, 10)
        assert [e.id for e in tail] == [500]
    finally:
        await store.aclose()


async def test_any_redis_store_on_the_same_redis_sees_the_same_streams(redis_server: RedisServer) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    one, two = RedisStore(redis_server.url, prefix=prefix), RedisStore(redis_server.url, prefix=prefix)
    try:
        assert await one.claim("s", 60)
        assert not await two.claim("s", 60)
        await one.append("s", entries(1, 3))
        assert await two.read("s", 1, 0, 10) == entries(2, 3)
    finally:
        await one.aclose()
        await two.aclose()
