"""What the public and the chair see of a question, defined once.

Every surface that shows a question outside the moderators' cards takes its words from here:
the board and the overlay (``web/screen.py``), the console's "On the board now" (which is sent
the board itself), the chair's view (``web/chair.py``), ``/record`` (``web/public.py``) and the
published record (``aggregator/followers/record/build.py``). So they agree on:

- masking: personal data masked (``aggregator/base/personal.py``) while ``[triage]
  mask_personal`` is on, whatever triage did (a question approved before triage reached it, or
  edited since, never shows a phone number);
- hashtags: the event's own hashtags taken out (``[screen] strip_hashtags``);
- length: the text is never cut; it is whole on every surface (the console warns a moderator
  before putting one longer than ``[screen] board_max_chars`` on screen);
- direction: read from the first letter of its words, not from a leading hashtag or link;
- "asked by N people on K platforms", once others were grouped under it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aggregator.base import personal
from aggregator.base.settings import Settings
from aggregator.core.normalise import fold

# A hashtag: "#" after a non-word character, then word characters.
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
# What the direction of a question's text is not read from: hashtags, mentions and links (an
# Arabic question that starts "#APM2026" or "@trust" is still right-to-left).
_NOT_WORDS = re.compile(r"(?<!\w)[#@]\w+|https?://\S+")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,.;:!?\u061f\u060c])")


@dataclass(frozen=True)
class Rules:
    """The event's rules for public text: the hashtags left out (folded, without "#") and
    whether personal data is masked."""

    tags: frozenset[str] = frozenset()
    mask: bool = True

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        tags = frozenset(fold(tag.lstrip("#")) for tag in settings.event.hashtags) \
            if settings.screen.strip_hashtags else frozenset()
        return cls(tags=tags, mask=settings.triage.mask_personal)


# Masking only: the rules where no settings are at hand.
MASKED = Rules()


@dataclass(frozen=True)
class Shown:
    """One question as the public sees it."""

    text: str
    dir: str  # "rtl", "ltr" or "auto"
    asked: str  # "asked by 3 people on 2 platforms", or "" for one asker


def strip_tags(text: str, tags: frozenset[str]) -> str:
    """``text`` without the event's own hashtags (whatever their case or width), the spaces
    they leave tidied; the text unchanged if it has none, or if nothing else would be left."""
    if not tags:
        return text
    kept = _HASHTAG.sub(lambda m: "" if fold(m[1]) in tags else m[0], text)
    if kept == text:
        return text
    lines = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip()
             for line in kept.split("\n")]
    tidied = "\n".join(lines).strip()
    return tidied if any(ch.isalnum() for ch in tidied) else text


def public_text(text: str, rules: Rules) -> str:
    """The words the public sees: masked, then without the event's hashtags; never cut."""
    return strip_tags(personal.mask(text) if rules.mask else text, rules.tags)


def direction(text: str) -> str:
    """"rtl" or "ltr" from the first letter of the words (hashtags, mentions and links
    skipped), as a reader sees it; "auto" when there is none."""
    for ch in _NOT_WORDS.sub(" ", text):
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "auto"


def asked_words(asked_by: int, platforms: int) -> str:
    """How many asked it, in the words every surface shows; "" for one asker."""
    if asked_by <= 1:
        return ""
    return f"asked by {asked_by} people" + (f" on {platforms} platforms" if platforms > 1 else "")


def platform_count(q: Mapping[str, Any]) -> int:
    """On how many platforms a question was asked (``asked_on``, kept by grouping)."""
    asked_on = q.get("asked_on")
    return len(asked_on) if isinstance(asked_on, dict) and asked_on else 1


def shown(q: Mapping[str, Any], rules: Rules) -> Shown:
    """A question's projection (or any mapping with ``text``, ``asked_by``, ``asked_on``) as the
    public sees it."""
    text = public_text(str(q.get("text") or ""), rules)
    return Shown(text=text, dir=direction(text),
                 asked=asked_words(int(q.get("asked_by") or 1), platform_count(q)))
