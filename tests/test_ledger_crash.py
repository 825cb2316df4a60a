"""`floor ledger` killed with SIGKILL at random points, then restarted: the ledger ends with
exactly one link per log entry, in order, chained."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.ledger import GENESIS, Ledger, link_hash
from tests.waiting import wait_until

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): killed at
# random points, which must fall part-way through the work.
pytestmark = pytest.mark.xdist_group("kills")


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli", "ledger"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def add(store: Store, start: int, count: int) -> None:
    for first in range(start, start + count, 500):
        batch = []
        for i in range(first, min(first + 500, start + count)):
            post = Post(platform="yt", native_id=f"c{i}", text=f"Question number {i}?",
                        author_name=f"Viewer {i}", author_handle=f"viewer{i}")
            batch.append((normalise(post), {"id": i}))
        store.ingest("youtube", batch)



@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_doubles_no_link(floor_env: dict[str, str],
                                                           store: Store) -> None:
    ledger = Ledger(store.conn, store.keys.event)
    log_key = store.keys.log
    add(store, 0, 15_000)
    rng = random.Random(2027)
    partway = 0
    for kill in range(6):
        add(store, 15_000 + kill * 500, 500)  # the log keeps growing between runs
        before = ledger.head().count
        writer = start(floor_env)
        wait_until(lambda b=before: ledger.head().count > b, 60, what="the ledger to move")
        time.sleep(rng.uniform(0.0, 0.3))
        writer.kill()
        writer.wait()
        partway += ledger.head().count < store.conn.xlen(log_key)
    finisher = start(floor_env)
    try:
        wait_until(lambda: ledger.head().count == store.conn.xlen(log_key), 60,
                   what="the ledger to catch up with the log")
    finally:
        finisher.terminate()
        stopped = finisher.wait(timeout=10)
    assert stopped == 0
    assert partway >= 3, "the writer was never killed part-way through"
    links = list(ledger.links())
    assert [link.id for link in links] == [i for i, _ in store.conn.xrange(log_key)]
    previous = GENESIS
    for n, link in enumerate(links, start=1):
        assert link.n == n
        assert link_hash(previous, link.entry.encode()) == link.hash
        previous = link.hash


@pytest.mark.slow
def test_floor_run_keeps_the_ledger_up_with_the_log(floor_env: dict[str, str],
                                                    store: Store) -> None:
    import signal
    import socket
    from pathlib import Path

    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text(encoding="utf-8")
                      + "\n[sources.rehearsal]\nenabled = true\nspeed = 0\n", encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ledger = Ledger(store.conn, store.keys.event)
    process = subprocess.Popen([sys.executable, "-m", "cli", "run", "--port", str(port)],
                               env=floor_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(store.question_ids()) > 300
                   and ledger.head().count == store.conn.xlen(store.keys.log), 60,
                   what="300 questions, all in the ledger")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
