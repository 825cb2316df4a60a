"""Moderator accounts: usernames with argon2 hashes, kept in the event's Redis."""

from __future__ import annotations

import functools
import re

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aggregator.keys import Keys

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


class Accounts:
    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.key = Keys(event).moderators

    def add(self, username: str, password: str) -> None:
        """Create or reset a moderator."""
        if not USERNAME.match(username):
            raise AccountError("usernames are 1-32 lower-case letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
        self.conn.hset(self.key, username, _hasher.hash(password))

    def remove(self, username: str) -> bool:
        return bool(self.conn.hdel(self.key, username))

    def exists(self, username: str) -> bool:
        return bool(self.conn.hexists(self.key, username))

    def names(self) -> list[str]:
        return sorted(self.conn.hkeys(self.key))

    def verify(self, username: str, password: str) -> bool:
        stored = self.conn.hget(self.key, username)
        try:
            _hasher.verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if _hasher.check_needs_rehash(stored):
            self.conn.hset(self.key, username, _hasher.hash(password))
        return True
