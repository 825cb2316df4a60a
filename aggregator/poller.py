"""The loop every source runs in: fetch, normalise, store with the checkpoint, report health.

The checkpoint moves only in the same atomic step that stores the batch, and questions are keyed
by platform id, so a poller killed at any point replays at most one batch, harmlessly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator.health import Health
from aggregator.moderation import Moderation
from aggregator.normalise import normalise
from aggregator.question import utc_now
from aggregator.sources import Batch, RateLimited, Source, SourceStopped
from aggregator.store import DeadLetter, Store

log = logging.getLogger("floor.poller")

# Errors back off exponentially from the source's interval up to this cap, with jitter so that
# several pollers failing together (the venue's network drops) do not retry in step.
BACKOFF_CAP = 300.0
# A source that needs a person (expired token) is retried this rarely, in case it was fixed.
STOPPED_RETRY = 300.0
# Long waits are cut into slices this long, to keep the heartbeat fresh and notice a stop.
WAIT_SLICE = 5.0


@dataclass
class PollResult:
    stored: int = 0
    dead: int = 0
    skipped: int = 0
    delay: float = 0.0
    error: str = ""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Poller:
    def __init__(self, source: Source, store: Store, *, clock: Any = time.time) -> None:
        self.source = source
        self.store = store
        self.health = Health(store.conn, store.keys.event)
        self.moderation = Moderation(store.conn, store.keys.event)
        self.clock = clock
        self.failures = 0

    @property
    def name(self) -> str:
        return self.source.name

    def record(self, **fields: Any) -> None:
        self.health.record(self.name, **{**self.source.labels, **fields})

    def backoff(self) -> float:
        base = self.source.interval * 2 ** min(self.failures - 1, 16)
        return min(BACKOFF_CAP, base) * random.uniform(0.5, 1.0)

    def poll_once(self) -> PollResult:
        """One cycle. Never raises for the platform's sake; returns how long to wait next."""
        checkpoint = self.store.checkpoint(self.name)
        try:
            batch = self.source.fetch(checkpoint)
        except RateLimited as exc:
            delay = max(1.0, exc.until - self.clock())
            log.warning("poller %s: rate limited until %s: %s", self.name, _iso(exc.until), exc)
            self.record(state="paused", last_poll=utc_now(),
                               paused_until=_iso(exc.until), last_error=str(exc))
            return PollResult(delay=delay, error=str(exc))
        except SourceStopped as exc:
            log.error("poller %s: stopped until someone fixes it: %s", self.name, exc)
            self.record(state="stopped", last_poll=utc_now(),
                               last_error=str(exc), paused_until=None)
            return PollResult(delay=STOPPED_RETRY, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure of a platform is a failed poll
            self.failures += 1
            log.warning("poller %s: poll failed (%d in a row): %s", self.name, self.failures,
                        exc, exc_info=self.failures == 1)
            self.record(state="failing", last_poll=utc_now(),
                               last_error=str(exc) or type(exc).__name__, paused_until=None)
            return PollResult(delay=self.backoff(), error=str(exc) or type(exc).__name__)
        result = self.store_batch(batch)
        self.failures = 0
        result.delay = self.source.interval if batch.next_poll_in is None else batch.next_poll_in
        now = utc_now()
        ours = {"state": "ok", "last_poll": now, "last_ok": now, "last_items": result.stored,
                "last_error": None, "paused_until": None, "interval": self.source.interval}
        self.record(items=result.stored, **{**batch.health, **ours})
        return result

    def store_batch(self, batch: Batch) -> PollResult:
        result = PollResult()
        questions, dead = [], []
        for item in batch.items:
            try:
                post = self.source.parse(item)
                if post is None:
                    result.skipped += 1
                    continue
                questions.append((normalise(post), item if post.raw is None else post.raw))
            except Exception as exc:  # noqa: BLE001 - one bad item never stops the batch
                reason = str(exc) or type(exc).__name__
                where = self.source.describe(item)
                reason = f"{where}: {reason}" if where else reason
                log.warning("poller %s: dead letter: %s", self.name, reason)
                dead.append(DeadLetter(self.name, reason, item))
        result.dead = len(dead)
        if batch.retracted:
            # Retracting needs the batch's questions stored first; the checkpoint waits for
            # both, so a crash in between replays the batch and retracts again (harmlessly).
            result.stored = len(self.store.ingest(self.name, questions, dead))
            for qid in batch.retracted:
                self.moderation.retract(qid, actor=f"source:{self.name}")
            self.store.ingest(self.name, [], [], batch.checkpoint)
        else:
            result.stored = len(self.store.ingest(self.name, questions, dead, batch.checkpoint))
        return result

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll until ``stop`` is set. Cleanup (a final health record) runs whatever happens."""
        log.info("poller %s: started (every %.1fs)", self.name, self.source.interval)
        self.record(state="starting", interval=self.source.interval)
        try:
            while not stop.is_set():
                result = self.poll_once()
                if result.stored or result.dead:
                    log.info("poller %s: stored %d, dead letters %d, skipped %d", self.name,
                             result.stored, result.dead, result.skipped)
                if once:
                    break
                self.wait(stop, result.delay)
        finally:
            if not once:
                self.record(state="offline")
            log.info("poller %s: stopped", self.name)

    def wait(self, stop: threading.Event, delay: float) -> None:
        deadline = self.clock() + delay
        while not stop.is_set():
            left = deadline - self.clock()
            self.health.beat(self.name, ttl=3 * max(self.source.interval, min(left, WAIT_SLICE)))
            if left <= 0:
                return
            stop.wait(min(left, WAIT_SLICE))
