"""The simulator speaks WARP to the npm @swim/client too, not only to what one Python client tolerates."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from streamer.swim.downlink import DownlinkScanner
from streamer.testing.simulator import StockSimulator

JS = Path(__file__).resolve().parent.parent / "js"
FIELDS = {"timestamp", "price", "volume", "bid", "ask", "movement"}


@pytest.fixture(scope="module")
def node_client() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the @swim/client interop test needs them")
    if not (JS / "node_modules" / "@swim" / "client").is_dir():
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(
                f"npm could not install @swim/client@4.0.0 (no registry?): {result.stderr.strip()[-300:]}"
            )
    return JS / "link.mjs"


def link(script: Path, host: str, count: int) -> list[dict[str, object]]:
    result = subprocess.run(
        ["node", str(script), host, "/stock/AAAA", "status", str(count)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "synced" in result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_swim_client_links_syncs_and_reads_java_doubles(node_client: Path) -> None:
    with StockSimulator(rate=100, java_doubles=True, seed=3) as simulator:
        values = link(node_client, simulator.url, 40)
    assert len(values) == 40
    assert all(set(v) == FIELDS and all(isinstance(x, (int, float)) for x in v.values()) for v in values)
    assert any(float(v["volume"]) >= 1e7 for v in values)  # type: ignore[arg-type]


def test_swim_client_and_our_transport_see_the_same_feed(node_client: Path) -> None:
    with StockSimulator(rate=100, seed=5) as simulator:
        theirs = [v["price"] for v in link(node_client, simulator.url, 6)]
    with (
        StockSimulator(rate=100, seed=5) as simulator,
        DownlinkScanner(simulator.url, "/stock/AAAA", "status", capacity=100) as scanner,
    ):
        ours = []
        while len(ours) < 6 and scanner.next():
            ours.append(scanner.event().value["price"])
    assert ours == theirs
