"""The text a search looks in, for every question of the event, kept in a web process's memory:
the index a search of a whole list answers from (``Columns.search``), instead of reading every
projection of the list from Redis.

A search is a substring of ``filters.haystack`` (the console's own predicate), for any text of
one character or more. Measured at 100,000 questions on the shared 2-core machine (issue 26):
an SQLite FTS5 trigram index took 8.7 s to build and 150 MB, answered a rare word in 1 ms but a
common one in 195 ms, and cannot match fewer than three characters; this map of lowered
haystacks takes about a second to build, about 30 MB, and checks every question's text for any
substring in about 40 ms, with the predicate's exact meaning. What cost the scan its time was
reading and parsing a kilobyte of projection per question; here a search reads from Redis only
the list's ids in order and the projections of the questions whose text matches.

The map is built once per process from the stored projections (in the background, on the first
search; until it is ready a search scans as before) and kept true from the log's tail
(``web/live.py``): every entry carries the projections of the questions it changed, so edits,
undo and merges reach it as they reach the consoles. A question the map does not know yet (one
that arrived a moment ago) is always read and judged. The text only picks which projections are
read: the predicate (``filters.passes``) still decides on the projection itself, so a text the
map holds from before a change can only cost a read, never show a question that does not match.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from aggregator.base.keys import Keys
from aggregator.core.filters import haystack

log = logging.getLogger("floor.search")

# Projections read per round trip while the map is built.
BUILD_CHUNK = 2_000


class TextIndex:
    """Question id -> the lowered text a search looks in, for one process."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._state = "empty"  # "empty" -> "building" -> "ready"
        self._last = (0, 0)  # the last log entry taken, as (ms, seq)

    @property
    def ready(self) -> bool:
        return self._state == "ready"

    def take(self, entry_id: str, questions: Iterable[Mapping[str, Any]]) -> None:
        """The projections a log entry carries; an entry older than one taken already (the
        tail behind a search's ``catch_up``) is skipped."""
        at = _position(entry_id)
        with self._lock:
            if at <= self._last:
                return
            self._last = at
            for q in questions:
                qid = q.get("id")
                if isinstance(qid, str):
                    self._texts[qid] = haystack(q)

    def may_match(self, qid: str, text: str) -> bool:
        """Whether question ``qid`` may contain ``text`` (lower case): False only when its known
        text does not."""
        known = self._texts.get(qid)
        return known is None or text in known

    def catch_up(self, conn: redis.Redis, keys: Keys) -> None:
        """Take the log entries the tail has not given yet (usually none: one round trip), so
        a question that arrived a moment ago is known."""
        while True:
            ms, seq = self._last
            entries = conn.xrange(keys.log, min=f"({ms}-{seq}", count=500)
            for entry_id, fields in entries:
                self.take(entry_id, json.loads(fields.get("qs") or "[]"))
            if len(entries) < 500:
                return

    def containing(self, text: str, most: int) -> list[str] | None:
        """Every question whose known text contains ``text``, or None if more than ``most``
        do (a common text: a walk of the list finds its first matches sooner)."""
        with self._lock:
            texts = list(self._texts.items())
        found: list[str] = []
        for qid, known in texts:
            if text in known:
                found.append(qid)
                if len(found) > most:
                    return None
        return found

    def claim_build(self) -> bool:
        """Whether the caller is to build the map (the first to ask, once)."""
        with self._lock:
            if self._state != "empty":
                return False
            self._state = "building"
            return True

    def build(self, conn: redis.Redis, keys: Keys) -> None:
        """Read every stored projection; what the tail gave meanwhile is newer and stays."""
        try:
            last = conn.xrevrange(keys.log, count=1)
            with self._lock:  # what the log held before the projections are read
                self._last = max(self._last, _position(last[0][0]) if last else (0, 0))
            qids = [str(q) for q in conn.zrange(keys.questions, 0, -1)]
            built: dict[str, str] = {}
            for start in range(0, len(qids), BUILD_CHUNK):
                part = qids[start:start + BUILD_CHUNK]
                reads = conn.pipeline(transaction=False)
                for qid in part:
                    reads.hget(keys.question(qid), "data")
                for qid, data in zip(part, reads.execute(), strict=True):
                    if data:
                        built[qid] = haystack(json.loads(data))
        except (redis.RedisError, OSError, ValueError) as exc:
            log.warning("search: cannot build the text index (%s); searches scan", exc)
            with self._lock:
                self._state = "empty"
            return
        with self._lock:
            for qid, text in built.items():
                self._texts.setdefault(qid, text)
            self._state = "ready"
        log.info("search: text index ready (%d questions)", len(built))


def _position(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
