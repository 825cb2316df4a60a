"""Secrets kept only as their sha256, in one Redis hash each: screen links and control tokens.

The secret is shown once, when it is made; the hash holds its digest and a small JSON record
(a label, when it was made, whatever else its kind needs), so a copy of the database shows
nothing usable. Revoking deletes the record, and every later use is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

import redis

from aggregator.core.question import utc_now

# The short id that lists show and revoke accepts: a prefix of the digest.
ID_LENGTH = 10
# 32 bytes of randomness: a secret cannot be guessed, and it still fits on one runbook line.
SECRET_BYTES = 32


@dataclass(frozen=True)
class Hashed:
    """One stored secret's record, known by its digest."""

    digest: str

    @property
    def id(self) -> str:
        return self.digest[:ID_LENGTH]


R = TypeVar("R", bound=Hashed)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class HashedSecrets(Generic[R]):
    """The verbs around one hash of secrets. Takes a connection made with
    ``decode_responses=True``; ``make`` builds a record from its digest and stored fields."""

    def __init__(self, conn: redis.Redis, key: str, make: Callable[..., R]) -> None:
        self.conn = conn
        self.key = key
        self.make = make

    def add(self, prefix: str = "", **fields: Any) -> tuple[str, R]:
        """A new secret (``prefix`` + random) and its record, stored with ``created`` now."""
        secret = prefix + secrets.token_urlsafe(SECRET_BYTES)
        record = self.make(digest_of(secret), created=utc_now(), **fields)
        stored = {k: v for k, v in asdict(record).items() if k != "digest"}
        self.conn.hset(self.key, record.digest, json.dumps(stored))
        return secret, record

    def find(self, secret: str) -> R | None:
        """The live record of this secret, or None (unknown or revoked)."""
        return self.by_digest(digest_of(secret))

    def by_digest(self, digest: str) -> R | None:
        record = self.conn.hget(self.key, digest)
        return None if record is None else self.make(digest, **json.loads(record))

    def all(self) -> list[R]:
        records = self.conn.hgetall(self.key)
        found = [self.make(digest, **json.loads(r)) for digest, r in records.items()]
        return sorted(found, key=lambda record: str(getattr(record, "created", "")))

    def live(self, digests: list[str]) -> set[str]:
        """Which of these digests still belong to a record (one round trip)."""
        if not digests:
            return set()
        found = self.conn.hmget(self.key, digests)
        return {d for d, record in zip(digests, found, strict=True) if record is not None}

    def matching(self, key: str) -> list[R]:
        """Records whose id (a digest prefix, at least 6 characters) or label is ``key``."""
        key = key.strip()
        return [r for r in self.all() if getattr(r, "label", None) == key
                or (len(key) >= 6 and r.digest.startswith(key.lower()))]

    def revoke(self, record: R) -> bool:
        return bool(self.conn.hdel(self.key, record.digest))
