"""Who is on the console, and who is editing which card: kept in Redis, so every web process of
the event sees every moderator.

Presence is a sorted set of ``moderator/connection`` members scored by the time they expire: a
web process refreshes its own connections every few seconds, so a process that dies takes its
moderators offline within ``ONLINE_TTL`` without anyone cleaning up. Edit locks are soft: they
say "sam is editing" to the other consoles and never block an action. A lock lives as long as
the connection that took it is online, and never longer than ``EDIT_MAX``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from aggregator.base.keys import Keys

# Long enough to ride out a few missed refreshes (the console refreshes every few seconds),
# short enough that a moderator whose laptop died drops off the list within half a minute.
ONLINE_TTL = 30.0
# An editor left open over lunch must not say "sam is editing" all afternoon.
EDIT_MAX = 600.0
_SEP = "\x1f"  # between moderator and connection id: neither can contain it


class Presence:
    """Verbs around the event's presence and edit-lock keys."""

    def __init__(self, conn: redis.Redis, event: str, *, clock: Any = time.time) -> None:
        self.conn = conn
        keys = Keys(event)
        self.online_key = keys.presence
        self.editing_key = keys.editing
        self.clock = clock

    # -- who is online -----------------------------------------------------------------------

    def join(self, moderator: str, sid: str) -> None:
        self.refresh([(moderator, sid)])

    def refresh(self, connections: list[tuple[str, str]]) -> None:
        """Say these connections are still here for another ``ONLINE_TTL``."""
        if not connections:
            return
        until = self.clock() + ONLINE_TTL
        pipe = self.conn.pipeline(transaction=False)
        pipe.zadd(self.online_key, {f"{m}{_SEP}{s}": until for m, s in connections})
        pipe.expire(self.online_key, int(ONLINE_TTL) + 1)
        pipe.execute()

    def leave(self, moderator: str, sid: str) -> list[str]:
        """Forget a connection and the edit locks it held; returns the card ids it released."""
        held = [field for field in self.conn.hkeys(self.editing_key)
                if field.endswith(_SEP + sid)]
        pipe = self.conn.pipeline(transaction=False)
        pipe.zrem(self.online_key, f"{moderator}{_SEP}{sid}")
        if held:
            pipe.hdel(self.editing_key, *held)
        pipe.execute()
        return sorted({field.split(_SEP, 1)[0] for field in held})

    def _alive(self) -> set[str]:
        """The connection members that have not expired (and drop those that have)."""
        now = self.clock()
        pipe = self.conn.pipeline(transaction=False)
        pipe.zremrangebyscore(self.online_key, "-inf", now)
        pipe.zrange(self.online_key, 0, -1)
        return set(pipe.execute()[1])

    def online(self) -> list[str]:
        """The moderators with at least one live connection, sorted."""
        return sorted({member.split(_SEP, 1)[0] for member in self._alive()})

    # -- soft edit locks ---------------------------------------------------------------------

    def start_editing(self, qid: str, moderator: str, sid: str) -> None:
        pipe = self.conn.pipeline(transaction=False)
        pipe.hset(self.editing_key, f"{qid}{_SEP}{sid}",
                  json.dumps({"moderator": moderator, "since": self.clock()}))
        pipe.expire(self.editing_key, int(EDIT_MAX))
        pipe.execute()

    def stop_editing(self, qid: str, sid: str) -> None:
        self.conn.hdel(self.editing_key, f"{qid}{_SEP}{sid}")

    def editing(self, alive: set[str] | None = None) -> dict[str, list[str]]:
        """Card id -> the moderators editing it now (live connections, recent locks only)."""
        members = self._alive() if alive is None else alive
        connections = {member.split(_SEP, 1)[1] for member in members}
        oldest = self.clock() - EDIT_MAX
        locks: dict[str, set[str]] = {}
        for field, value in self.conn.hgetall(self.editing_key).items():
            qid, _, sid = field.rpartition(_SEP)
            try:
                lock = json.loads(value)
            except ValueError:
                continue
            if sid in connections and lock.get("since", 0) >= oldest:
                locks.setdefault(qid, set()).add(str(lock.get("moderator")))
        return {qid: sorted(names) for qid, names in sorted(locks.items())}

    def state(self) -> dict[str, Any]:
        """What every console is sent as ``presence``."""
        alive = self._alive()
        return {"online": sorted({member.split(_SEP, 1)[0] for member in alive}),
                "editing": self.editing(alive)}
