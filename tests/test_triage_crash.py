"""The triage worker killed with SIGKILL at random points, then restarted, loses and doubles no
finding: every post is triaged exactly once, and its projection holds what its entry says."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.triage.worker import TriageWorker

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): killed at
# random points, which must fall part-way through the work.
pytestmark = pytest.mark.xdist_group("kills")

POSTS = Path(__file__).resolve().parent / "triage" / "posts.jsonl"


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli", "triage"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def triaged(store: Store) -> int:
    """How many findings are in the log: every entry is a question received or triaged."""
    return int(store.conn.xlen(store.keys.log)) - int(store.conn.zcard(store.keys.questions))


@pytest.mark.slow
def test_kill_9_at_random_points_then_restart(floor_env: dict[str, str], store: Store) -> None:
    lines = [json.loads(x) for x in POSTS.read_text(encoding="utf-8").splitlines()]
    posts = [Post(x["platform"], x["id"], x["text"], x["author"], x["handle"]) for x in lines]
    rng = random.Random(2026)
    fed = kills = partway = 0

    def feed(count: int) -> None:
        nonlocal fed
        chunk = posts[fed:fed + count]
        store.ingest("rehearsal", [(normalise(p), {}) for p in chunk])
        fed += len(chunk)

    while kills < 6 and fed < len(posts):
        worker = start(floor_env)
        feed(3)
        deadline = time.monotonic() + 60  # the interpreter's start-up varies with the load
        while triaged(store) < fed and time.monotonic() < deadline:
            time.sleep(0.01)  # up and caught up: now posts arrive while it works
        until = time.monotonic() + rng.uniform(0.0, 0.3)
        while time.monotonic() < until and fed < len(posts):
            feed(3)
            time.sleep(0.01)
        worker.kill()  # anywhere: between batches, inside an assessment, inside a write
        worker.wait()
        kills += 1
        partway += 0 < triaged(store) < len(posts)
    while fed < len(posts):
        feed(50)
    finisher = TriageWorker(store.conn, store.keys.event)
    finisher.setup()
    finisher.drain()
    assert partway >= 2, "the worker was never killed part-way through"
    entries = [e for e in store.log_after() if e.type == "triaged"]
    counts = Counter(e.qid for e in entries)
    assert len(counts) == len(posts) and set(counts.values()) == {1}
    for entry in entries:
        question = store.question(entry.qid)
        assert question is not None and question.triage == entry.qs[0]["triage"]
    assert finisher.lag() == 0
