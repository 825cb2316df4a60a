"""Per-source health for the console: last poll, items, errors, pauses, and a heartbeat."""

from __future__ import annotations

import json
from typing import Any

import redis

from aggregator.keys import Keys
from aggregator.question import utc_now
from aggregator.redaction import redact


class Health:
    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def record(self, source: str, *, items: int = 0, **fields: Any) -> None:
        """Write the given fields (None clears one) and count ``items`` stored."""
        key = self.keys.health(source)
        pipe = self.conn.pipeline()
        pipe.sadd(self.keys.sources, source)
        values = {k: redact(v if isinstance(v, str) else json.dumps(v))
                  for k, v in fields.items() if v is not None}
        cleared = [k for k, v in fields.items() if v is None]
        if values:
            pipe.hset(key, mapping=values)
        if cleared:
            pipe.hdel(key, *cleared)
        if items:
            pipe.hincrby(key, "items_total", items)
        pipe.execute()

    def beat(self, source: str, ttl: float) -> None:
        """Say "this poller is alive" for ``ttl`` seconds."""
        self.conn.set(self.keys.heartbeat(source), utc_now(), px=max(1000, int(ttl * 1000)))

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
            record: dict[str, Any] = {}
            for key, value in replies[2 * i].items():
                try:
                    record[key] = json.loads(value)
                except ValueError:
                    record[key] = value
            record["alive"] = bool(replies[2 * i + 1])
            record["dead_letters"] = dead.get(name, 0)
            report[name] = record
        return report
