"""Revocable secret links for the board screens, the stream overlay and the chair's view.

A link is ``/screen/<secret>``, ``/overlay/<secret>`` or ``/chair/<secret>``. Only the secret's
sha256 is stored (with the link's kind, a label and when it was made), so a copy of the database
shows no usable link; the secret itself is printed once, when the link is made. Revoking a link
deletes its record: pages and sockets using it are refused from then on, and the web app
disconnects the screens and chair views already connected with it (see ``web/screen.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import redis

from aggregator.base.keys import Keys
from web.hashed_secrets import Hashed, HashedSecrets

KINDS = ("screen", "overlay", "chair")
# What a secret may look like before we bother hashing it (token_urlsafe's alphabet).
SECRET = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
MAX_LABEL = 80


@dataclass(frozen=True)
class ScreenLink(Hashed):
    kind: str
    label: str
    created: str


class ScreenLinks(HashedSecrets[ScreenLink]):
    """The event's screen links. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.keys = Keys(event)
        super().__init__(conn, self.keys.screen_links, ScreenLink)

    def create(self, label: str, kind: str = "screen") -> tuple[str, ScreenLink]:
        """Make a link; returns its secret (shown once, never stored) and its record."""
        if kind not in KINDS:
            raise ValueError(f"a link is for one of {', '.join(KINDS)}, not {kind!r}")
        return self.add(kind=kind, label=" ".join(label.split())[:MAX_LABEL] or kind)

    def find(self, secret: str) -> ScreenLink | None:
        """The live link with this secret, or None (unknown, revoked or malformed)."""
        return super().find(secret) if SECRET.match(secret) else None
