"""The loop every source runs in: fetch, normalise, store with the checkpoint, report health.

The checkpoint moves only in the same atomic step that stores the batch, and questions are keyed
by platform id, so a poller killed at any point replays at most one batch, harmlessly.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import redis

from aggregator.base.redaction import redact
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import mend, normalise
from aggregator.core.question import utc_now
from aggregator.core.store import DeadLetter, Store
from aggregator.ingest.health import Health
from aggregator.ingest.sources import Ban, Batch, RateLimited, Source, SourceStopped

log = logging.getLogger("floor.poller")

# The reject reason of an open question whose author the platform banned (when retracting).
BANNED = "its author was banned from the chat"

# Errors back off exponentially from the source's interval up to this cap, with jitter so that
# several pollers failing together (the venue's network drops) do not retry in step.
BACKOFF_CAP = 300.0
# A source that needs a person (expired token) is retried this rarely, in case it was fixed.
STOPPED_RETRY = 300.0
# Questions a ban still touches: those the moderators have not yet put on screen or decided.
OPEN = ("new", "approved")
# Long waits are cut into slices this long, to keep the heartbeat fresh and notice a stop.
WAIT_SLICE = 5.0


@dataclass
class PollResult:
    stored: int = 0
    dead: int = 0
    skipped: int = 0
    delay: float = 0.0
    error: str = ""


def _said(exc: BaseException) -> str:
    """An exception's message, or its type's name; never raises (``str`` of a broken exception
    can)."""
    try:
        return mend(str(exc)) or type(exc).__name__
    except Exception:  # noqa: BLE001 - whatever __str__ does, a dead letter needs a reason
        return type(exc).__name__


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
        """Write the health record; text from a platform (an error, a detail) is mended first,
        so a lone surrogate in it cannot fail the write."""
        merged: dict[str, Any] = {k: mend(v) if isinstance(v, str) else v
                                  for k, v in {**self.source.labels, **fields}.items()}
        # Running totals for /metrics (web/metrics.py): a record with last_poll ends a poll.
        counts: dict[str, int] = {}
        if "last_poll" in fields:
            counts["polls_total"] = 1
            state = fields.get("state")
            if state == "paused":
                counts["pauses_total"] = 1
            elif state in ("failing", "stopped"):
                counts["errors_total"] = 1
        if fields.get("items"):
            merged["last_item_at"] = utc_now()
        self.health.record(self.name, counts=counts, **merged)

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
            said = redact(exc)
            log.warning("poller %s: rate limited until %s: %s", self.name, utc_now(exc.until), said)
            self.record(state="paused", last_poll=utc_now(), paused_until=utc_now(exc.until),
                        last_error=said)
            return PollResult(delay=delay, error=said)
        except SourceStopped as exc:
            said = redact(exc)
            log.error("poller %s: stopped until someone fixes it: %s", self.name, said)
            self.record(state="stopped", last_poll=utc_now(), last_error=said, paused_until=None)
            return PollResult(delay=STOPPED_RETRY, error=said)
        except Exception as exc:  # noqa: BLE001 - any failure of a platform is a failed poll
            self.failures += 1
            said = redact(exc)
            log.warning("poller %s: poll failed (%d in a row): %s", self.name, self.failures,
                        said)
            # The traceback with --verbose, masked too: a client library's exception can quote
            # the request's URL, token and all.
            log.debug("poller %s: the failure in full:\n%s", self.name,
                      redact("".join(traceback.format_exception(exc))))
            self.record(state="failing", last_poll=utc_now(), last_error=said, paused_until=None)
            return PollResult(delay=self.backoff(), error=said)
        result = self.store_batch(batch)
        self.failures = 0
        if batch.ended:
            said = redact(batch.ended)
            log.error("poller %s: ended: %s", self.name, said)
            stopped = {"state": "stopped", "last_poll": utc_now(), "last_items": result.stored,
                       "last_error": said, "paused_until": None}
            self.record(items=result.stored, **{**batch.health, **stopped})
            result.delay, result.error = STOPPED_RETRY, said
            return result
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
                dead.append(self.dead_letter(item, exc))
        result.dead = len(dead)
        if batch.retracted or batch.bans:
            # Retracting needs the batch's questions stored first; the checkpoint waits for
            # both, so a crash in between replays the batch and retracts again (harmlessly).
            result.stored = len(self.store.ingest(self.name, questions, dead))
            for qid in batch.retracted:
                self.retract(qid)
            for ban in batch.bans:
                self.ban(ban)
            self.store.ingest(self.name, [], [], batch.checkpoint)
        else:
            result.stored = len(self.store.ingest(self.name, questions, dead, batch.checkpoint))
        return result

    def dead_letter(self, item: Any, exc: Exception) -> DeadLetter:
        """The dead letter of ``item``, which failed with ``exc``; building it cannot fail."""
        reason = _said(exc)
        try:
            where = self.source.describe(item)
        except Exception as failure:  # noqa: BLE001 - a broken item may break describe too
            where = f"an item that cannot be described ({type(failure).__name__}: {_said(failure)})"
        reason = mend(f"{where}: {reason}" if where else reason)
        log.warning("poller %s: dead letter: %s", self.name, reason)
        return DeadLetter(self.name, reason, item)

    def ban(self, ban: Ban) -> None:
        """The platform banned an author: retract or flag their questions not yet shown."""
        actor = f"source:{self.name}"
        for question in self.store.questions_by(ban.platform, ban.handle):
            if question.state not in OPEN:
                continue
            if ban.retract:
                self.retract(question.id, reason=BANNED, flag="author_banned")
            else:
                self.store.flag(question.id, "author_banned", actor)

    def retract(self, qid: str, **why: str) -> None:
        """Retract one question a source says is gone; one that fails is logged and skipped."""
        try:
            self.moderation.retract(qid, actor=f"source:{self.name}", **why)
        except redis.RedisError:
            raise  # our store is away: the whole batch is replayed later
        except Exception as exc:  # noqa: BLE001 - one bad id never stops the batch
            log.warning("poller %s: cannot retract %r: %s", self.name, qid, _said(exc))

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll until ``stop`` is set. Cleanup (a final health record) runs whatever happens."""
        log.info("poller %s: started (every %.1fs)", self.name, self.source.interval)
        outages = 0
        with contextlib.suppress(redis.RedisError):  # the first poll says it again
            self.record(state="starting", interval=self.source.interval)
        try:
            while not stop.is_set():
                try:
                    result = self.poll_once()
                    outages = 0
                except redis.RedisError as exc:
                    # Our own store is away (a restart, a blip): the checkpoint moves only with
                    # its batch, so waiting and polling again loses and doubles nothing.
                    outages += 1
                    delay = min(BACKOFF_CAP, 2.0 ** outages)
                    log.error("poller %s: Redis unavailable (%s); again in %.0fs", self.name,
                              exc, delay)
                    stop.wait(delay)
                    continue
                if result.stored or result.dead:
                    log.info("poller %s: stored %d, dead letters %d, skipped %d", self.name,
                             result.stored, result.dead, result.skipped)
                if once:
                    break
                self.wait(stop, result.delay)
        finally:
            if not once:
                with contextlib.suppress(redis.RedisError):  # nobody to tell: the store is away
                    self.record(state="offline")
            log.info("poller %s: stopped", self.name)

    def wait(self, stop: threading.Event, delay: float) -> None:
        deadline = self.clock() + delay
        while not stop.is_set():
            left = deadline - self.clock()
            try:
                self.health.beat(self.name,
                                 ttl=3 * max(self.source.interval, min(left, WAIT_SLICE)))
            except redis.RedisError as exc:
                log.warning("poller %s: cannot write the heartbeat: %s", self.name, exc)
            if left <= 0:
                return
            stop.wait(min(left, WAIT_SLICE))
