"""One loop for every follower of the log: the triage worker (``floor triage``) and the ledger
writer (``floor ledger``).

A follower says how it reads and what it does with what it read; ``follow`` does the rest, the
same way for each: it prepares the follower, then reads batch after batch until ``stop`` is set
(``floor``'s SIGTERM/SIGINT handler sets it; a second signal exits at once), retries with
backoff while Redis is away, renews a heartbeat with a TTL as it goes round (so a follower
killed without a word shows dead on the console's health panel once the TTL runs out), marks
itself offline when it stops, and ends with one line: ``follower triage: stopped after N
entries``.

Each follower keeps its own way of reading, because each keeps its own guarantee:

- the triage worker reads through the consumer group ``triage``: the group's pending list is
  what makes "killed before EXEC, nothing acknowledged; after, all" hold, and its findings are
  written with the XACK in one MULTI/EXEC (``aggregator/followers/triage/worker.py``);
- the ledger writer reads by its own cursor, the chain's head: the last link's id is the last
  log entry chained, and each batch of links is appended by a script that first checks that
  head. A consumer group would be a second cursor that can disagree with the chain, and would
  share entries out between two writers, where a chain must take every entry, in order, once
  (``aggregator/followers/ledger.py``).

So ``follow`` never reads the log itself: it calls the follower's ``step``, which reads its own
way, and blocks up to ``block_ms`` when there is nothing to do (how soon a stop is noticed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis

from aggregator.base.keys import Keys
from aggregator.base.redaction import redact
from aggregator.base.settings import Settings
from aggregator.core.question import utc_now
from aggregator.ingest.health import Health

log = logging.getLogger("floor.follower")

# A follower whose loop has not come round for this long is reported dead. Long enough for a
# slow batch (triage's 200 posts take well under a second; a setup calls ``beat`` as it goes),
# short enough that the moderators learn of a dead worker within seconds.
HEARTBEAT_TTL = 10.0
# The longest a read waits for new entries, and so how long a stop may take to be noticed.
BLOCK_MS = 1_000
# While Redis is away the loop tries again after 1, 2, 4 ... seconds up to this, with jitter so
# that the followers and pollers do not all come back in step.
BACKOFF_CAP = 30.0


class Follower(Protocol):
    """What ``follow`` needs of a follower of the log."""

    @property
    def name(self) -> str:
        """The follower's name in its heartbeat and log lines, and its ``floor`` command."""

    keys: Keys
    conn: redis.Redis

    def setup(self, beat: Callable[[], None]) -> None:
        """Get ready to follow (create a consumer group, rebuild an index); call ``beat`` now
        and then if that may take longer than the heartbeat's TTL. Run again after a Redis
        error inside it."""

    def step(self, block_ms: int) -> int:
        """Handle the next batch of entries; with none, wait up to ``block_ms`` for some.
        Returns how many were handled."""

    def lag(self) -> int:
        """Entries in the log not handled yet."""


# Each follower's name on the console's health panel.
LABELS = {"ledger": "Ledger writer", "triage": "Triage worker"}


def expected(settings: Settings) -> tuple[str, ...]:
    """The followers an event runs: the ledger writer always, the triage worker when
    ``[triage] enabled``. ``floor run`` starts these; the console raises no alarm for another."""
    return ("ledger", "triage") if settings.triage.enabled else ("ledger",)


def backoff(outages: int) -> float:
    """The wait after ``outages`` (>= 1) failed tries in a row."""
    return float(min(BACKOFF_CAP, 2.0 ** min(outages - 1, 16)) * random.uniform(0.5, 1.0))


class Heartbeat:
    """A follower's health record and heartbeat, renewed at most every ``every`` seconds (a
    quarter of the TTL: one pipelined round trip and the lag's) unless forced."""

    def __init__(self, follower: Follower, ttl: float = HEARTBEAT_TTL,
                 every: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.follower = follower
        self.health = Health(follower.conn, follower.keys.event)
        self.ttl = ttl
        self.every = ttl / 4 if every is None else every
        self.clock = clock
        self.due = 0.0
        self.entries = 0
        self.fields: dict[str, Any] = {"state": "starting", "started_at": utc_now(),
                                       "pid": os.getpid(), "last_error": None}

    def __call__(self, force: bool = False, **fields: Any) -> None:
        self.fields.update(fields)
        now = self.clock()
        if not force and now < self.due:
            return
        self.due = now + self.every
        lag: int | None = None
        if self.fields["state"] == "following":
            try:
                lag = max(0, self.follower.lag())
            except redis.ResponseError:  # no log or no group yet: nothing to say
                lag = None
        self.health.follower_beat(self.follower.name, self.ttl, entries=self.entries, lag=lag,
                                  **self.fields)

    def gone(self) -> None:
        self.health.follower_gone(self.follower.name, entries=self.entries)


def follow(follower: Follower, stop: threading.Event, *, block_ms: int = BLOCK_MS,
           ttl: float = HEARTBEAT_TTL) -> int:
    """Follow the log with ``follower`` until ``stop`` is set; returns the entries handled.

    A Redis error that says the server is away (ConnectionError, TimeoutError) is waited out
    with backoff, the follower's ``setup`` run again if it was inside it; any other error ends
    the loop (``floor run`` restarts the process). Either way the follower is marked offline,
    if Redis answers, and the last line says how many entries it handled."""
    name = follower.name
    beat = Heartbeat(follower, ttl)
    ready, outages = False, 0
    log.info("follower %s: following the log of %s", name, follower.keys.event)
    try:
        while not stop.is_set():
            try:
                if not ready:
                    beat(force=True, state="starting")
                    follower.setup(beat)
                    ready = True
                    beat(force=True, state="following", last_error=None)
                handled = follower.step(block_ms)
                beat.entries += handled
                beat(force=outages > 0, state="following", last_error=None)
                outages = 0
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                outages += 1
                delay = backoff(outages)
                said = redact(exc)
                log.warning("follower %s: Redis unavailable (%s); again in %.1fs", name, said,
                            delay)
                with contextlib.suppress(redis.RedisError):  # most likely away too
                    beat(force=True, state="retrying", last_error=f"Redis unavailable: {said}")
                stop.wait(delay)
    finally:
        with contextlib.suppress(redis.RedisError):  # nobody to tell: the store is away
            beat.gone()
        log.info("follower %s: stopped after %d entries", name, beat.entries)
    return beat.entries
