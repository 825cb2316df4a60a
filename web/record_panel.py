"""The console's record panel: the ledger's head and the fairness summary, pushed live.

One per web process. It keeps an ``aggregator.followers.fairness.Fairness`` fed from the log tail
(the same ``web/live.py`` feed that relays entries to the consoles), loaded once from a snapshot
when the first console connects, and pushes ``{"head", "lag", "fairness"}`` to the process's
``moderators`` room at most once per PUSH_EVERY, and only when the questions or the head moved.
The ledger is written by another process (``floor ledger``), so its head is read from Redis
(one XREVRANGE) at each push; ``lag`` says how many log entries are not chained yet, so a
moderator does not note a head while the ledger writer is behind or stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

from aggregator.core.store import LogEntry, Store
from aggregator.followers.fairness import Fairness
from aggregator.followers.ledger import Ledger

log = logging.getLogger("floor.record_panel")

# How often at most the panel is pushed: the head and the counts a moderator reads are at most
# this (plus the ledger writer's own delay) behind.
PUSH_EVERY = 1.0


class RecordPanel:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.ledger = Ledger(store.conn, store.keys.event)
        self.fairness = Fairness()
        self.lock = threading.Lock()
        self.loaded = False
        self.sent: tuple[int, str, int] | None = None  # (changes, head, lag) last pushed
        self.pushed_at = 0.0

    def on_entry(self, server: Any, entry: LogEntry) -> None:
        with self.lock:
            for question in entry.qs:
                self.fairness.take(question)  # type: ignore[arg-type]

    def load(self) -> None:
        """Take every question, once, a chunk at a time (``Store.questions_in_chunks``: the
        moderators' actions in this process go on meanwhile). The caller started the feed
        first, so an entry it delivered is at least as new (the version check keeps the
        newest)."""
        if self.loaded:
            return
        for questions in self.store.questions_in_chunks():
            with self.lock:
                self.fairness.take_all(questions)  # type: ignore[arg-type]
        self.loaded = True

    def state(self) -> dict[str, Any]:
        self.load()
        head = self.ledger.head()
        with self.lock:
            summary = self.fairness.summary()
        return {"head": {"count": head.count, "hash": head.hash}, "lag": max(0, self.ledger.lag()),
                "fairness": summary}

    def push(self, server: Any, event: str, namespace: str, room: str) -> bool:
        """Send the panel to the room if PUSH_EVERY has passed and something moved."""
        now = time.monotonic()
        if now - self.pushed_at < PUSH_EVERY:
            return False
        self.pushed_at = now
        try:
            self.load()
            head, lag = str(self.ledger.head()), max(0, self.ledger.lag())
        except redis.RedisError as exc:
            log.warning("record panel: cannot read the ledger's head (%s)", exc)
            return False
        if self.sent == (self.fairness.changes, head, lag):
            return False
        state = self.state()
        self.sent = (self.fairness.changes, head, lag)
        server.emit(event, state, namespace=namespace, to=room)
        return True
