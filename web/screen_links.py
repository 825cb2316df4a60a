"""Revocable secret links for the board screens, the stream overlay and the chair's view.

A link is ``/screen/<secret>``, ``/overlay/<secret>`` or ``/chair/<secret>``. Only the secret's
sha256 is stored (with the link's kind, a label and when it was made), so a copy of the database
shows no usable link; the secret itself is printed once, when the link is made. Revoking a link
deletes its record: pages and sockets using it are refused from then on, and the web app
disconnects the screens and chair views already connected with it (see ``web/screen.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import redis

from aggregator.keys import Keys
from aggregator.question import utc_now

KINDS = ("screen", "overlay", "chair")
# 32 bytes of randomness: a link cannot be guessed, and it still fits on one line of a runbook.
SECRET_BYTES = 32
# What a secret may look like before we bother hashing it (token_urlsafe's alphabet).
SECRET = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# The short id shown by `floor screen-link list` and accepted by `revoke`: a prefix of the hash.
ID_LENGTH = 10
MAX_LABEL = 80


@dataclass(frozen=True)
class ScreenLink:
    digest: str
    kind: str
    label: str
    created: str

    @property
    def id(self) -> str:
        return self.digest[:ID_LENGTH]


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class ScreenLinks:
    """The event's screen links. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def create(self, label: str, kind: str = "screen") -> tuple[str, ScreenLink]:
        """Make a link; returns its secret (shown once, never stored) and its record."""
        if kind not in KINDS:
            raise ValueError(f"a link is for one of {', '.join(KINDS)}, not {kind!r}")
        label = " ".join(label.split())[:MAX_LABEL] or kind
        secret = secrets.token_urlsafe(SECRET_BYTES)
        link = ScreenLink(digest_of(secret), kind, label, utc_now())
        record = {"kind": link.kind, "label": link.label, "created": link.created}
        self.conn.hset(self.keys.screen_links, link.digest, json.dumps(record))
        return secret, link

    def find(self, secret: str) -> ScreenLink | None:
        """The live link with this secret, or None (unknown, revoked or malformed)."""
        if not SECRET.match(secret):
            return None
        digest = digest_of(secret)
        record = self.conn.hget(self.keys.screen_links, digest)
        return None if record is None else ScreenLink(digest, **json.loads(record))

    def by_digest(self, digest: str) -> ScreenLink | None:
        """The live link with this hash (a socket knows its link by it), or None."""
        record = self.conn.hget(self.keys.screen_links, digest)
        return None if record is None else ScreenLink(digest, **json.loads(record))

    def all(self) -> list[ScreenLink]:
        records = self.conn.hgetall(self.keys.screen_links)
        links = [ScreenLink(digest, **json.loads(r)) for digest, r in records.items()]
        return sorted(links, key=lambda link: link.created)

    def live(self, digests: list[str]) -> set[str]:
        """Which of these hashes still belong to a link (one round trip)."""
        if not digests:
            return set()
        found = self.conn.hmget(self.keys.screen_links, digests)
        return {d for d, record in zip(digests, found, strict=True) if record is not None}

    def matching(self, key: str) -> list[ScreenLink]:
        """Links whose id (a hash prefix, at least 6 characters) or label is ``key``."""
        key = key.strip()
        return [link for link in self.all()
                if link.label == key or (len(key) >= 6 and link.digest.startswith(key.lower()))]

    def revoke(self, link: ScreenLink) -> bool:
        return bool(self.conn.hdel(self.keys.screen_links, link.digest))
