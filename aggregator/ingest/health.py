"""Health for the console: per source (last poll, items, errors, pauses) and per follower of the
log (state, entries handled, lag), each with a heartbeat: a key with a TTL its loop renews, so a
process that dies without a word is seen as dead once the TTL runs out."""

from __future__ import annotations

import json
from typing import Any

import redis

from aggregator.base.keys import Keys
from aggregator.base.redaction import redact
from aggregator.core.question import utc_now


def _ttl_ms(ttl: float) -> int:
    return max(1000, int(ttl * 1000))


def _decoded(fields: dict[str, str], alive: Any) -> dict[str, Any]:
    """A health hash as the console reads it: JSON values parsed, ``alive`` from the heartbeat."""
    record: dict[str, Any] = {}
    for key, value in fields.items():
        try:
            record[key] = json.loads(value)
        except ValueError:
            record[key] = value
    record["alive"] = bool(alive)
    return record


def _encoded(fields: dict[str, Any]) -> dict[str, str]:
    return {k: redact(v if isinstance(v, str) else json.dumps(v))
            for k, v in fields.items() if v is not None}


class Health:
    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    # -- sources -------------------------------------------------------------------------------

    def record(self, source: str, *, items: int = 0, counts: dict[str, int] | None = None,
               **fields: Any) -> None:
        """Write the given fields (None clears one), count ``items`` stored and add ``counts``
        to the named running totals."""
        key = self.keys.health(source)
        pipe = self.conn.pipeline()
        pipe.sadd(self.keys.sources, source)
        values = _encoded(fields)
        cleared = [k for k, v in fields.items() if v is None]
        if values:
            pipe.hset(key, mapping=values)
        if cleared:
            pipe.hdel(key, *cleared)
        if items:
            pipe.hincrby(key, "items_total", items)
        for name, amount in (counts or {}).items():
            pipe.hincrby(key, name, amount)
        pipe.execute()

    def beat(self, source: str, ttl: float) -> None:
        """Say "this poller is alive" for ``ttl`` seconds."""
        self.conn.set(self.keys.heartbeat(source), utc_now(), px=_ttl_ms(ttl))

    def all(self) -> dict[str, dict[str, Any]]:
        """Every source's record, with ``alive`` from its heartbeat and its dead-letter count."""
        names = sorted(self.conn.smembers(self.keys.sources))
        pipe = self.conn.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.health(name))
            pipe.exists(self.keys.heartbeat(name))
        replies = pipe.execute()
        dead: dict[str, int] = {}
        for letter in self.conn.hkeys(self.keys.dead_letters):
            source = letter.rsplit(":", 1)[0]
            dead[source] = dead.get(source, 0) + 1
        report = {}
        for i, name in enumerate(names):
            record = _decoded(replies[2 * i], replies[2 * i + 1])
            record["dead_letters"] = dead.get(name, 0)
            report[name] = record
        return report

    # -- followers of the log ------------------------------------------------------------------

    def follower_beat(self, name: str, ttl: float, **fields: Any) -> None:
        """Say "this follower is alive" for ``ttl`` seconds and write the given fields (None
        clears one), in one round trip."""
        key = self.keys.follower(name)
        pipe = self.conn.pipeline()
        pipe.sadd(self.keys.followers, name)
        values = _encoded({**fields, "beat": utc_now(), "ttl": ttl})
        cleared = [k for k, v in fields.items() if v is None]
        pipe.hset(key, mapping=values)
        if cleared:
            pipe.hdel(key, *cleared)
        pipe.set(self.keys.follower_heartbeat(name), values["beat"], px=_ttl_ms(ttl))
        pipe.execute()

    def follower_gone(self, name: str, **fields: Any) -> None:
        """A follower that stopped: ``state`` offline, and its heartbeat gone at once."""
        pipe = self.conn.pipeline()
        pipe.sadd(self.keys.followers, name)
        pipe.hset(self.keys.follower(name),
                  mapping=_encoded({**fields, "state": "offline", "stopped_at": utc_now()}))
        pipe.delete(self.keys.follower_heartbeat(name))
        pipe.execute()

    def followers(self) -> dict[str, dict[str, Any]]:
        """Every follower's record, with ``alive`` from its heartbeat."""
        names = sorted(self.conn.smembers(self.keys.followers))
        pipe = self.conn.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.follower(name))
            pipe.exists(self.keys.follower_heartbeat(name))
        replies = pipe.execute()
        return {name: _decoded(replies[2 * i], replies[2 * i + 1])
                for i, name in enumerate(names)}
