"""The moderators tests log in as: every app fixture makes MODERATOR's account; tests add KIM's
when they need a second moderator."""

from __future__ import annotations

MODERATOR = ("sam", "correct horse battery")
KIM = ("kim", "another horse battery")
