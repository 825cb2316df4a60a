"""A poller killed with SIGKILL at random points, then restarted, loses and doubles nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aggregator.core.store import Store
from aggregator.ingest.sources.rehearsal import BUNDLED

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): killed at
# random points, which must fall part-way through the work.
pytestmark = pytest.mark.xdist_group("kills")


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli", "poll", "rehearsal"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_kill_9_at_random_points_then_restart(floor_env: dict[str, str], store: Store) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    # 90 minutes of meeting in about 3 s, polled every 50 ms: many batches to die in.
    config.write_text(config.read_text() + "[sources.rehearsal]\nenabled = true\nspeed = 1800\n"
                      "interval = 0.05\n")
    total = len(BUNDLED.read_text(encoding="utf-8").splitlines())
    rng = random.Random(2026)
    kills = partway = 0
    while kills < 6:
        before = int(store.checkpoint("rehearsal") or 0)
        poller = start(floor_env)
        started = time.monotonic() + 60  # the interpreter's start-up varies with the load
        while int(store.checkpoint("rehearsal") or 0) == before and time.monotonic() < started:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))  # then die anywhere in the next batches
        poller.kill()
        poller.wait()
        kills += 1
        done = int(store.checkpoint("rehearsal") or 0)
        partway += 0 < done < total
        if done >= total:
            break
    config.write_text(config.read_text().replace("speed = 1800", "speed = 0"))
    finisher = start(floor_env)
    deadline = time.monotonic() + 60
    while int(store.checkpoint("rehearsal") or 0) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    finisher.terminate()
    assert finisher.wait(timeout=10) == 0
    assert partway >= 2, "the poller was never killed part-way through the meeting"
    received = Counter(e.qid for e in store.log_after() if e.type == "received")
    assert len(store.question_ids()) == total
    assert len(received) == total and set(received.values()) == {1}
