"""The model-driven ``swim`` subcommands end to end against the local canned chat server."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from streamer.cli.generate import register_generate
from streamer.errors import StreamError
from streamer.testing.chat_server import ChatServer, Reply

MAP = "def func(new_value, params):\n    return new_value * params['exchange_rate']\n"
FILTER = "def func(new_value, params):\n    return new_value < params['threshold']\n"
SMA = (
    "def func(acc, new_value, params):\n"
    "    prices = (acc.get('prices', []) + [new_value])[-params['window']:]\n"
    "    acc['prices'] = prices\n"
    "    return acc, sum(prices) / len(prices)\n"
)


def run(argv: list[str], feed: list[float] | None = None) -> int:
    """Parse and run like ``streamer swim ...`` does, with an optional fake live feed."""
    parser = argparse.ArgumentParser(prog="streamer")
    swim = parser.add_subparsers(dest="command").add_parser("swim").add_subparsers(dest="swim_command")
    register_generate(swim, value_source=(lambda symbol, args: iter(feed)) if feed is not None else None)
    args = parser.parse_args(["swim", *argv])
    try:
        return int(args.handler(args))
    except StreamError as exc:
        print(f"streamer: error: {exc}")
        return 1


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no ./.env with a key
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_map_generate_prints_source_and_verdict_before_streaming(capsys: pytest.CaptureFixture[str]) -> None:
    with ChatServer([Reply(json.dumps({"result": MAP}))]) as server:
        code = run(
            [
                "map-generate",
                "AAAA",
                '{"description": "convert", "parameters": {"exchange_rate": 1.2}}',
                "--base-url",
                server.url,
            ],
            feed=[10.0, 20.0],
        )
    out = capsys.readouterr().out
    assert code == 0
    assert (
        out.index("# operator source (model, attempt 1):")
        < out.index("# verdict: verified")
        < out.index("The price 10.0 has been converted to 12.0.")
    )
    assert "The price 20.0 has been converted to 24.0." in out


def test_filter_generate_over_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    with ChatServer([Reply(f"```python\n{FILTER}```")]) as server:
        code = run(
            [
                "filter-generate",
                "AAAA",
                '{"description": "below", "parameters": {"threshold": 19}}',
                "--sample",
                "--base-url",
                server.url,
            ]
        )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("has met the filter criteria") == 3  # 18.0, 18.5 and 17.25 in the fixed sample


def test_accumulate_generate_then_operators_list_show_clear(capsys: pytest.CaptureFixture[str]) -> None:
    with ChatServer([Reply(json.dumps({"result": SMA}))]) as server:
        code = run(
            [
                "accumulate-generate",
                "AAAA",
                "average",
                "--operation-config",
                '{"window": 2}',
                "--base-url",
                server.url,
            ],
            feed=[10.0, 20.0, 40.0],
        )
    out = capsys.readouterr().out
    assert code == 0
    assert "AAAA -- summary: 15.0; price: 20.0" in out and "AAAA -- summary: 30.0; price: 40.0" in out
    run(["operators", "list"])
    listing = capsys.readouterr().out
    key = listing.split()[0]
    assert "accumulate" in listing and "ok" in listing
    run(["operators", "show", key[:6]])
    assert "sum(prices) / len(prices)" in capsys.readouterr().out
    run(["operators", "clear"])
    assert "removed 1" in capsys.readouterr().out


def test_no_key_and_no_base_url_says_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["map-generate", "AAAA", '{"description": "x", "parameters": {}}', "--sample"])
    out = capsys.readouterr().out
    assert code == 1 and "set OPENAI_API_KEY" in out and "--base-url" in out


def test_without_a_live_feed_the_command_says_what_to_use() -> None:
    with (
        ChatServer([Reply(json.dumps({"result": MAP}))]) as server,
        pytest.raises(SystemExit, match="--sample"),
    ):
        run(
            [
                "map-generate",
                "AAAA",
                '{"description": "x", "parameters": {"exchange_rate": 1}}',
                "--base-url",
                server.url,
            ]
        )


def test_execute_lets_the_model_pick_a_command_then_runs_it(capsys: pytest.CaptureFixture[str]) -> None:
    pick = json.dumps({"symbol": "aaaa", "description": "alert below 20", "parameters": {"threshold": 20}})
    replies = [Reply(tool_name="filter_generate", tool_arguments=pick), Reply(json.dumps({"result": FILTER}))]
    with ChatServer(replies) as server:
        code = run(
            ["execute", "Alert me if stock price for AAAA goes below 20", "--base-url", server.url],
            feed=[19.0, 21.0],
        )
    out = capsys.readouterr().out
    assert code == 0
    assert "chose: streamer swim filter-generate AAAA" in out
    assert "The price 19.0 has met the filter criteria." in out and "21.0 has met" not in out
    assert server.requests[0]["tools"][0]["function"]["name"] == "map_generate"


def test_execute_refuses_when_the_model_picks_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with ChatServer([Reply("I am not sure what you mean.")]) as server:
        code = run(["execute", "hello", "--base-url", server.url])
    assert code == 1 and "did not pick one command" in capsys.readouterr().out


def test_model_direct_reports_a_bad_answer_and_keeps_going(capsys: pytest.CaptureFixture[str]) -> None:
    with ChatServer([Reply("12.0"), Reply("twelve"), Reply("14.0")]) as server:
        code = run(
            [
                "model-direct",
                "map",
                "AAAA",
                '{"description": "x", "parameters": {}}',
                "--base-url",
                server.url,
            ],
            feed=[10.0],
        )
    out = capsys.readouterr().out
    assert code == 0 and "price 10.0: 12.0" in out


def test_a_failing_update_is_reported_and_the_others_still_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.txt"
    prices.write_text("10\n0\n20\n")
    inverse = "def func(new_value, params):\n    return 1 / new_value\n"
    with ChatServer([Reply(json.dumps({"result": inverse}))]) as server:
        code = run(
            [
                "map-generate",
                "AAAA",
                '{"description": "inverse", "parameters": {}}',
                "--base-url",
                server.url,
                "--input",
                str(prices),
            ]
        )
    captured = capsys.readouterr()
    assert code == 1
    assert "The price 10.0 has been converted to 0.1." in captured.out
    assert "The price 20.0 has been converted to 0.05." in captured.out
    assert "update #1 (0.0)" in captured.err and "ZeroDivisionError" in captured.err


def test_operators_show_with_an_unknown_key_says_so() -> None:
    with pytest.raises(SystemExit, match="no single cached operator"):
        run(["operators", "show", "deadbeef"])


def test_the_real_streamer_command_runs_a_generated_operator_on_the_embedded_live_feed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("websockets", reason="the embedded SwimOS feed needs websockets")
    from streamer.cli import main

    pick = json.dumps({"symbol": "AAAA", "description": "moving average", "parameters": {"window": 5}})
    replies = [
        Reply(tool_name="accumulate_generate", tool_arguments=pick),
        Reply(json.dumps({"result": SMA})),
    ]
    with ChatServer(replies) as server:
        code = main(
            [
                "swim",
                "execute",
                "Accumulate stock prices for AAAA using average with a window size of 5",
                "--base-url",
                server.url,
                "--count",
                "3",
                "--feed-rate",
                "50",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0
    assert "chose: streamer swim accumulate-generate AAAA" in out and "--count 3" in out
    assert "# verdict: verified: 20 sample updates" in out
    assert out.count("AAAA -- summary:") == 3


# ------------------------------------------------------------- hostile text never reaches the terminal raw

TAGGER = (
    "def func(acc, new_value, params):\n"
    "    return acc, chr(27) + ']52;c;aGk=' + chr(7) + 'tag' + chr(0x202E)\n"
)
ESC_IN_COMMENT = "def func(acc, new_value, params):\n    # \x1b[2J\n    return acc, 'tag'\n"


def test_results_and_refusals_are_escaped_and_each_refusal_is_shown_without_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    replies = [Reply(json.dumps({"result": ESC_IN_COMMENT})), Reply(json.dumps({"result": TAGGER}))]
    with ChatServer(replies) as server:
        code = run(
            [
                "accumulate-generate",
                "AAAA",
                "tag each price",
                "--sample",
                "--count",
                "3",
                "--base-url",
                server.url,
            ]
        )
    captured = capsys.readouterr()
    assert code == 0
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream
        assert "\x07" not in stream
        assert "\u202e" not in stream
    assert "attempt 1 refused: operator rejected (hidden-character) at line 2" in captured.err
    assert "summary: \\x1b]52;c;aGk=\\x07tag\\u202e; price: 20.0" in captured.out


def test_a_lone_surrogate_result_is_reported_for_its_update_and_the_cli_does_not_crash(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    source = (
        "def func(acc, new_value, params):\n    return acc, 'x' + chr(0xD800) if new_value == 99 else 'ok'\n"
    )
    prices = tmp_path / "prices.txt"
    prices.write_text("20\n99\n21\n")
    with ChatServer([Reply(json.dumps({"result": source}))]) as server:
        argv = ["accumulate-generate", "AAAA", "tag", "--input", str(prices), "--base-url", server.url]
        env = {"PATH": "/usr/bin:/bin", "STREAMER_CACHE_DIR": str(tmp_path / "cache"), "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(
            [sys.executable, "-m", "streamer", "swim", *argv],
            capture_output=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert "UnicodeEncodeError" not in err
    assert proc.returncode == 1
    assert "update #1 (99.0)" in err
    assert "surrogate" in err
    assert b"summary: ok; price: 21.0" in proc.stdout


def test_operators_show_escapes_a_tampered_cache_entry(capsys: pytest.CaptureFixture[str]) -> None:
    from streamer.swim.generate import CacheEntry, OperatorCache

    cache = OperatorCache()
    evil = "\x1b]52;c;aGk=\x07"
    cache.put(
        CacheEntry("abc123", "map", f"desc{evil}", {}, f"m{evil}", f"# {evil}\n", f"ok{evil}", True, 0.0)
    )
    assert run(["operators", "show", "abc123"]) == 0
    listed = run(["operators", "list"])
    out = capsys.readouterr().out
    assert listed == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert out.count("\\x1b]52;c;aGk=\\x07") >= 4


def test_operators_list_says_once_when_there_is_no_os_wall(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamer.cli.generate as cli_generate
    from streamer.swim.sandbox import OSWall

    monkeypatch.setattr(cli_generate, "os_wall", lambda: OSWall(False, 0))
    assert run(["operators", "list"]) == 0
    assert capsys.readouterr().out.count("no OS-level wall") == 1
    monkeypatch.setattr(cli_generate, "os_wall", lambda: OSWall(True, 7))
    assert run(["operators", "list"]) == 0
    assert "OS-level wall" not in capsys.readouterr().out
