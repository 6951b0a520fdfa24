"""Operator generation end to end over HTTP against a local canned chat-completions server."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.errors import DecodeError, GenerationFailed, ModelNotConfigured, OperatorRejected
from streamer.swim.generate import (
    ModelConfig,
    ModelOperator,
    OperatorCache,
    ask_model,
    build_messages,
    coalesce_latest,
    extract_source,
    generate_operator,
    parse_answer,
)
from streamer.testing.chat_server import ChatServer, Reply

SMA = """def func(acc, new_value, params):
    window = params.get("window", 5)
    prices = (acc.get("prices", []) + [new_value])[-window:]
    acc["prices"] = prices
    return acc, sum(prices) / len(prices)
"""
WRONG_SMA = SMA.replace("/ len(prices)", "/ window")
MALICIOUS = "import os\ndef func(acc, new_value, params):\n    return acc, float(len(os.environ))\n"


def sma_reference(acc: dict[str, Any], value: float, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Independent SMA used as the direct operator in these tests."""
    prices = ([*acc.get("prices", []), value])[-params["window"] :]
    return {"prices": prices}, sum(prices) / len(prices)


REFERENCE = (sma_reference, "SMA(5)")


def as_json(source: str) -> str:
    return json.dumps({"result": source})


@pytest.fixture
def cache(tmp_path: Path) -> OperatorCache:
    return OperatorCache(tmp_path)


def config_for(server: ChatServer) -> ModelConfig:
    return ModelConfig("canned-model", server.url, None)


def test_well_formed_json_answer_is_generated_verified_and_cached(cache: OperatorCache) -> None:
    with ChatServer([Reply(as_json(SMA))]) as server:
        got = generate_operator(
            "accumulate", "SMA", {"window": 5}, config_for(server), cache=cache, reference=REFERENCE
        )
    with got.operator:
        assert got.verdict.ok and got.attempts == 1 and not got.from_cache
        assert got.source == SMA
        assert got.operator({}, 4.0, {"window": 5}) == ({"prices": [4.0]}, 4.0)
    assert server.requests[0]["stream"] is True and server.requests[0]["model"] == "canned-model"
    [entry] = cache.entries()
    assert entry.ok and entry.source == SMA and "verified" in entry.verdict


def test_a_cached_operator_is_reused_without_asking_the_model(cache: OperatorCache) -> None:
    with ChatServer([Reply(as_json(SMA))]) as server:
        first = generate_operator("accumulate", "SMA", {"window": 5}, config_for(server), cache=cache)
        first.operator.close()
        second = generate_operator("accumulate", "SMA", {"window": 5}, config_for(server), cache=cache)
        second.operator.close()
        assert len(server.requests) == 1
        assert second.from_cache and second.source == SMA
        third = generate_operator(
            "accumulate", "SMA", {"window": 5}, config_for(server), cache=cache, regenerate=True
        )
        third.operator.close()
        assert len(server.requests) == 2 and not third.from_cache


def test_fenced_answer_is_extracted(cache: OperatorCache) -> None:
    answer = "Here is the operator:\n```python\n" + SMA + "```\nIt keeps the last prices."
    with ChatServer([Reply(answer)]) as server:
        got = generate_operator("accumulate", "SMA", {"window": 5}, config_for(server), cache=cache)
    got.operator.close()
    assert got.source == SMA


def test_malformed_then_good_answer_retries_and_tells_the_model_why(cache: OperatorCache) -> None:
    with ChatServer([Reply("Sorry, I cannot help with that."), Reply(as_json(SMA))]) as server:
        got = generate_operator("accumulate", "SMA", {"window": 5}, config_for(server), cache=cache)
    got.operator.close()
    assert got.attempts == 2
    retry_prompt = server.requests[1]["messages"][-1]["content"]
    assert "refused" in retry_prompt and "cannot find code" in retry_prompt


def test_malicious_answer_is_rejected_and_the_rule_is_fed_back(cache: OperatorCache) -> None:
    with ChatServer([Reply(as_json(MALICIOUS)), Reply(as_json(SMA))]) as server:
        got = generate_operator("accumulate", "SMA", {"window": 5}, config_for(server), cache=cache)
    got.operator.close()
    assert got.attempts == 2
    assert "import" in server.requests[1]["messages"][-1]["content"]


def test_wrong_but_plausible_operator_is_refused_after_the_bounded_retries(cache: OperatorCache) -> None:
    with ChatServer([Reply(as_json(WRONG_SMA))]) as server, pytest.raises(GenerationFailed) as info:
        generate_operator(
            "accumulate",
            "SMA",
            {"window": 5},
            config_for(server),
            cache=cache,
            reference=REFERENCE,
            max_attempts=2,
        )
    assert len(server.requests) == 2
    assert "after 2 attempts" in str(info.value) and "sample update #0 (input 20.0)" in str(info.value)
    [entry] = cache.entries()
    assert not entry.ok and "differs from SMA(5)" in entry.verdict


def test_a_refused_cache_entry_is_not_reused(cache: OperatorCache) -> None:
    with ChatServer([Reply(as_json(WRONG_SMA)), Reply(as_json(SMA))]) as server:
        with pytest.raises(GenerationFailed):
            generate_operator(
                "accumulate",
                "SMA",
                {"window": 5},
                config_for(server),
                cache=cache,
                reference=REFERENCE,
                max_attempts=1,
            )
        got = generate_operator(
            "accumulate", "SMA", {"window": 5}, config_for(server), cache=cache, reference=REFERENCE
        )
    got.operator.close()
    assert not got.from_cache and got.verdict.ok


def test_a_stream_cut_before_done_is_an_error() -> None:
    with (
        ChatServer([Reply(as_json(SMA), done=False)]) as server,
        pytest.raises(GenerationFailed, match=r"\[DONE\]"),
    ):
        ask_model(config_for(server), build_messages("map", "x", {}))


def test_progress_callback_sees_every_piece_in_order() -> None:
    pieces: list[str] = []
    with ChatServer([Reply("12.5", chunk_size=1)]) as server:
        answer = ask_model(config_for(server), [{"role": "user", "content": "x"}], on_text=pieces.append)
    assert pieces == ["1", "2", ".", "5"] and answer.text == "12.5" and answer.finish_reason == "stop"


def test_tool_call_arguments_arrive_in_pieces_and_are_parsed() -> None:
    args = json.dumps({"symbol": "AAAA", "description": "below 20", "parameters": {"threshold": 20}})
    with ChatServer([Reply(tool_name="filter_generate", tool_arguments=args, chunk_size=5)]) as server:
        answer = ask_model(
            config_for(server), [{"role": "user", "content": "x"}], tools=[{"type": "function"}]
        )
    [call] = answer.tool_calls
    assert call.name == "filter_generate" and call.arguments["parameters"] == {"threshold": 20}
    assert server.requests[0]["tools"] == [{"type": "function"}]


def test_an_error_status_surfaces_as_a_typed_error() -> None:
    from streamer.errors import BadRequestError

    with ChatServer([Reply("model not found", status=400)]) as server, pytest.raises(BadRequestError):
        ask_model(config_for(server), [{"role": "user", "content": "x"}])


def test_no_key_and_no_base_url_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./.env either
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelNotConfigured) as info:
        ModelConfig.from_env()
    assert (
        "OPENAI_API_KEY" in str(info.value)
        and "--base-url" in str(info.value)
        and "\n" not in str(info.value)
    )


def test_the_key_never_appears_in_the_config_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-1234")
    assert "sk-test" not in repr(ModelConfig.from_env())


@respx.mock
def test_junk_chunk_in_the_stream_is_a_clear_error() -> None:
    body = b'data: {"choices":[{"delta":{"content":"1"}}]}\n\ndata: not json\n\ndata: [DONE]\n\n'
    respx.post("http://model.test/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})
    )
    with pytest.raises(DecodeError, match="invalid JSON") as info:
        ask_model(ModelConfig("m", "http://model.test/v1"), [{"role": "user", "content": "x"}])
    assert info.value.index == 1  # the second chunk (counted from 0), named by the typed chat stream


@respx.mock
def test_tool_arguments_that_are_not_json_are_a_clear_error() -> None:
    call = {"index": 0, "function": {"name": "read", "arguments": "{oops"}}
    chunk = json.dumps({"choices": [{"delta": {"tool_calls": [call]}}]})
    body = f"data: {chunk}\n\ndata: [DONE]\n\n".encode()
    respx.post("http://model.test/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})
    )
    with pytest.raises(GenerationFailed, match="not JSON"):
        ask_model(ModelConfig("m", "http://model.test/v1"), [{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"result": "def func(v, p):\\n    return v\\n"}', "def func(v, p):\n    return v\n"),
        (
            'Sure! {"result": "def func(v, p):\\n    return v"} Hope it helps.',
            "def func(v, p):\n    return v\n",
        ),
        ('{"result": "```python\\ndef func(v, p):\\n    return v\\n```"}', "def func(v, p):\n    return v\n"),
        ("```python\ndef func(v, p):\n    return v\n```", "def func(v, p):\n    return v\n"),
        ("```\ndef func(v, p):\n    return v\n```", "def func(v, p):\n    return v\n"),
        ("def func(v, p):\n    return v", "def func(v, p):\n    return v\n"),
        (
            "import math\ndef func(v, p):\n    return math.sqrt(v)",
            "import math\ndef func(v, p):\n    return math.sqrt(v)\n",
        ),
    ],
    ids=["json", "json-in-prose", "json-with-fence", "fenced", "fenced-no-lang", "bare", "bare-import"],
)
def test_extract_source_accepts_what_models_return(answer: str, expected: str) -> None:
    assert extract_source(answer) == expected


@pytest.mark.parametrize(
    "answer", ["I'm sorry, I can't do that.", '{"code": "def f(): pass"}', '{"result": 42}', ""]
)
def test_extract_source_refuses_anything_else(answer: str) -> None:
    with pytest.raises(GenerationFailed):
        extract_source(answer)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_extract_source_returns_text_or_raises_generation_failed(answer: str) -> None:
    with contextlib.suppress(GenerationFailed):
        assert isinstance(extract_source(answer), str)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("map", "24.6", 24.6),
        ("map", " 7 ", 7.0),
        ("filter", "true", True),
        ("filter", "false", False),
        ("accumulate", '{"acc": {"n": 1}, "result": 2.5}', ({"n": 1}, 2.5)),
        ("map", "```json\n3.5\n```", 3.5),
    ],
)
def test_parse_answer_accepts_strict_shapes(kind: str, text: str, expected: Any) -> None:
    assert parse_answer(kind, text) == expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("map", "about 24"),
        ("map", "NaN"),
        ("map", "true"),
        ("filter", "'true'"),
        ("filter", "1"),
        ("filter", '"true"'),
        ("accumulate", '{"summary": 1, "acc": {}}'),
        ("accumulate", '{"acc": [], "result": 1}'),
    ],
)
def test_parse_answer_refuses_anything_loose(kind: str, text: str) -> None:
    with pytest.raises(GenerationFailed):
        parse_answer(kind, text)


def test_model_in_the_loop_map_over_http() -> None:
    with ChatServer([Reply("24.0")]) as server:
        op = ModelOperator("map", "convert with rate", {"rate": 1.2}, config_for(server))
        assert op.apply(20.0) == 24.0
    assert "Value: 20.0" in server.requests[0]["messages"][-1]["content"]


def test_model_in_the_loop_accumulator_carries_its_state() -> None:
    replies = [Reply('{"acc": {"n": 1}, "result": 1}'), Reply('{"acc": {"n": 2}, "result": 2}')]
    with ChatServer(replies) as server:
        op = ModelOperator("accumulate", "count", {}, config_for(server))
        assert [op.apply(1.0), op.apply(2.0)] == [1, 2]
    assert '{"n": 1}' in server.requests[1]["messages"][-1]["content"]


def test_coalescing_keeps_only_the_latest_update_while_a_call_is_in_flight() -> None:
    gate = threading.Event()
    produced = threading.Event()

    def values() -> Any:
        yield 1.0
        gate.wait(5)  # the first call is now in flight
        yield from (2.0, 3.0, 4.0, 5.0)
        produced.set()

    def slow(v: float) -> float:
        if v == 1.0:
            gate.set()
            produced.wait(5)
        return v * 10

    outcomes = list(coalesce_latest(values(), slow))
    assert [(o.value, o.result, o.skipped) for o in outcomes] == [(1.0, 10.0, 0), (5.0, 50.0, 3)]


def test_a_failed_answer_is_reported_for_that_update_and_the_stream_goes_on() -> None:
    def flaky(v: float) -> float:
        if v == 2.0:
            raise GenerationFailed("not a number")
        time.sleep(0)
        return v

    def values() -> Any:
        for v in (1.0, 2.0, 3.0):
            yield v
            time.sleep(0.05)

    outcomes = list(coalesce_latest(values(), flaky))
    assert [o.value for o in outcomes] == [1.0, 2.0, 3.0]
    assert outcomes[1].error is not None and outcomes[2].result == 3.0


def test_model_in_the_loop_failure_over_http_is_per_update() -> None:
    with ChatServer([Reply("24.0"), Reply("about 25"), Reply("26.0")]) as server:
        op = ModelOperator("map", "convert", {}, config_for(server))

        def values() -> Any:
            for v in (20.0, 21.0, 22.0):
                yield v
                time.sleep(0.2)

        outcomes = list(coalesce_latest(values(), op.apply))
    assert [o.result for o in outcomes] == [24.0, None, 26.0]
    assert isinstance(outcomes[1].error, GenerationFailed)


def test_generate_refuses_an_unknown_kind_without_asking(cache: OperatorCache) -> None:
    with pytest.raises((KeyError, OperatorRejected)):
        generate_operator(
            "reduce", "x", {}, ModelConfig("m", "http://127.0.0.1:9/v1"), cache=cache, max_attempts=1
        )


def test_closing_the_coalescer_stops_pulling_from_the_source() -> None:
    pulled: list[int] = []

    def endless() -> Any:
        n = 0
        while True:
            n += 1
            pulled.append(n)
            time.sleep(0.01)
            yield float(n)

    outcomes = coalesce_latest(endless(), lambda v: v)
    first = next(outcomes)
    outcomes.close()
    time.sleep(0.1)
    count = len(pulled)
    time.sleep(0.1)
    assert first.error is None
    assert len(pulled) - count <= 1


def test_cache_key_depends_on_kind_description_parameters_and_model() -> None:
    base = OperatorCache.key("map", "convert", {"rate": 1.2}, "m1")
    assert base == OperatorCache.key("map", "convert", {"rate": 1.2}, "m1")
    others = {
        OperatorCache.key("filter", "convert", {"rate": 1.2}, "m1"),
        OperatorCache.key("map", "convert!", {"rate": 1.2}, "m1"),
        OperatorCache.key("map", "convert", {"rate": 1.3}, "m1"),
        OperatorCache.key("map", "convert", {"rate": 1.2}, "m2"),
    }
    assert base not in others and len(others) == 4


def test_cache_location_follows_streamer_cache_dir_then_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STREAMER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert OperatorCache().root == tmp_path / "xdg" / "streamer" / "operators"
    monkeypatch.setenv("STREAMER_CACHE_DIR", str(tmp_path / "mine"))
    assert OperatorCache().root == tmp_path / "mine" / "operators"


@pytest.mark.parametrize(
    "answer", ['{"a":' * 20_000, "[" * 50_000, "{" * 60_000, '{"result": ' + "[" * 50_000]
)
def test_extract_source_refuses_pathological_answers_quickly(answer: str) -> None:
    with pytest.raises(GenerationFailed):
        extract_source(answer)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["map", "filter", "accumulate"]), st.text(max_size=100) | st.just("[" * 5000))
def test_parse_answer_returns_or_raises_generation_failed(kind: str, text: str) -> None:
    with contextlib.suppress(GenerationFailed):
        parse_answer(kind, text)


def test_the_direct_operator_registry_supplies_the_reference_for_verification(cache: OperatorCache) -> None:
    from streamer.swim.generate import direct_reference

    found = direct_reference("accumulate", "moving average", {"window": 5})
    assert found is not None, "streamer.swim.operators.lookup should know a moving average with a window"
    with ChatServer([Reply(as_json(WRONG_SMA))]) as server, pytest.raises(GenerationFailed) as info:
        generate_operator(
            "accumulate", "moving average", {"window": 5}, config_for(server), cache=cache, max_attempts=1
        )
    assert f"differs from {found[1]}" in str(info.value)
