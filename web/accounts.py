"""Moderator accounts: usernames with argon2 hashes, and their session generations, kept in the
event's Redis.

A login remembers the moderator's session generation; logging out, removing the moderator or
setting a new password bumps it, which ends every session made before: pages at their next
request, sockets within a second (``web/console.py`` sweeps them). A login also remembers the
browser (``web/devices.py``) under the moderator's trust generation, which only removing them or
setting a new password bumps: logging out ends sessions, not the browser's standing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aggregator.base.keys import Keys

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist keeps the timing the same either
    way. Made on first use, not at import: a hash costs what a login costs."""
    return _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A username or password that cannot be used; the message says why."""


def normalise_username(raw: str) -> str:
    """The one spelling of a username, at `floor moderator add` and at login alike:
    ``SAM`` and `` sam `` are the moderator ``sam``."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


class Accounts:
    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        keys = Keys(event)
        self.key = keys.moderators
        self.sessions_key = keys.sessions
        self.trust_key = keys.device_trust

    def add(self, username: str, password: str) -> str:
        """Create a moderator, or set a new password (which ends their sessions). Returns the
        username as stored."""
        name = normalise_username(username)
        if not USERNAME.match(name):
            raise AccountError("usernames are 1-32 letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit (kept in lower case)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
        pipe = self.conn.pipeline()
        pipe.hset(self.key, name, _hasher.hash(password))
        pipe.hincrby(self.sessions_key, name, 1)
        pipe.hincrby(self.trust_key, name, 1)
        pipe.execute()
        return name

    def remove(self, username: str) -> bool:
        """Remove a moderator, end their sessions and forget their browsers. False if there was
        no such moderator."""
        name = normalise_username(username)
        pipe = self.conn.pipeline()
        pipe.hdel(self.key, name)
        pipe.hincrby(self.sessions_key, name, 1)
        pipe.hincrby(self.trust_key, name, 1)
        removed, _, _ = pipe.execute()
        return bool(removed)

    def exists(self, username: str) -> bool:
        return bool(self.conn.hexists(self.key, normalise_username(username)))

    def names(self) -> list[str]:
        return sorted(self.conn.hkeys(self.key))

    def verify(self, username: str, password: str) -> bool:
        name = normalise_username(username)
        stored = self.conn.hget(self.key, name)
        try:
            _hasher.verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if _hasher.check_needs_rehash(stored):
            self.conn.hset(self.key, name, _hasher.hash(password))
        return True

    # -- sessions ----------------------------------------------------------------------------

    def generation(self, username: str) -> str:
        """What a new session of this moderator remembers."""
        value = self.conn.hget(self.sessions_key, normalise_username(username))
        return str(value or "0")

    def end_sessions(self, username: str) -> None:
        """End every session of this moderator, on every device."""
        self.conn.hincrby(self.sessions_key, normalise_username(username), 1)

    def live(self, sessions: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (username, generation) sessions are still valid: the moderator exists
        and nothing has ended their sessions since. One round trip."""
        wanted = sorted(set(sessions))
        if not wanted:
            return set()
        pipe = self.conn.pipeline(transaction=False)
        for name, _ in wanted:
            pipe.hexists(self.key, name)
            pipe.hget(self.sessions_key, name)
        answers = pipe.execute()
        return {(name, generation) for (name, generation), exists, current
                in zip(wanted, answers[::2], answers[1::2], strict=True)
                if exists and str(current or "0") == generation}

    def valid(self, username: str, generation: str) -> bool:
        return (username, generation) in self.live([(username, generation)])

    # -- remembered browsers -----------------------------------------------------------------

    def trust_generation(self, username: str) -> str:
        """What a browser remembered at this moderator's login holds; it stays the same until
        they are removed or given a new password (each bumps it)."""
        value = self.conn.hget(self.trust_key, normalise_username(username))
        return str(value or "0")
