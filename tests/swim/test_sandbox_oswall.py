"""The second wall on its own: with the Python-level checks switched off (a test-only path), the OS layer
(seccomp allowlist + Landlock) must still stop a payload that opens files, connects sockets, forks,
execs or signals other processes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from streamer.errors import OperatorFailed
from streamer.swim.sandbox import compile_operator, os_wall
from streamer.swim.sandbox.host import _compile_unchecked

WALL = os_wall()
needs_seccomp = pytest.mark.skipif(
    not WALL.seccomp, reason=f"this system offers no seccomp filter ({WALL.describe()})"
)

# Each update tries one thing, chosen by params["what"]; reaching `return` means it was allowed.
PAYLOAD = """import os, socket
def func(value, params):
    what = params["what"]
    if what == "open":
        with open("/etc/hostname", "rb") as fh:
            return float(len(fh.read()) + 1)
    if what == "connect":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", params["port"]))
        return 1.0
    if what == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return 1.0
    if what == "exec":
        os.execv("/bin/true", ["true"])
    if what == "kill":
        os.kill(1, 0)
        return 1.0
    if what == "write-file":
        fd = os.open("/tmp/streamer-oswall-canary", os.O_WRONLY | os.O_CREAT)
        return 1.0
    return value
"""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that records whether anyone connected."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.2)
    yield srv
    srv.close()


def _accepted(srv: socket.socket) -> bool:
    try:
        conn, _ = srv.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


@needs_seccomp
@pytest.mark.parametrize("what", ["open", "connect", "fork", "exec", "kill", "write-file"])
def test_the_os_wall_alone_stops_the_payload(what: str, listener: socket.socket) -> None:
    op = _compile_unchecked("map", PAYLOAD)
    try:
        assert op.os_wall is not None
        assert op.os_wall.seccomp
        port = listener.getsockname()[1]
        with pytest.raises(OperatorFailed) as info:
            op(1.0, {"what": what, "port": port})
        assert "Operation not permitted" in str(info.value) or "Permission denied" in str(info.value)
        assert not _accepted(listener)
        assert op(5.0, {"what": "nothing"}) == 5.0  # the worker survives the refusal
    finally:
        op.close()


@needs_seccomp
def test_without_the_os_wall_the_same_payload_gets_through(listener: socket.socket) -> None:
    """The control: proves the payload above really does what it says when nothing stops it."""
    op = _compile_unchecked("map", PAYLOAD, os_wall=False)
    try:
        assert op(1.0, {"what": "open"}) > 1.0
        assert op(1.0, {"what": "connect", "port": listener.getsockname()[1]}) == 1.0
        assert _accepted(listener)
    finally:
        op.close()


@needs_seccomp
def test_a_checked_operator_runs_behind_the_os_wall_too() -> None:
    with compile_operator("map", "def func(value, params):\n    return value + 1\n") as op:
        assert op(1.0) == 2.0
        assert op.os_wall is not None
        assert op.os_wall.seccomp
        assert op.os_wall.landlock == WALL.landlock


def test_the_wall_describes_itself_plainly() -> None:
    text = WALL.describe()
    if WALL.seccomp or WALL.landlock:
        assert text.startswith("OS-level wall: ")
    else:
        assert "no OS-level wall" in text
