"""The platform catalogue: every place questions come from, each defined once.

A row gives a platform's two spellings and its words. ``name`` is the source's: the config's
``[sources.NAME]``, ``floor poll NAME``, its module ``aggregator/ingest/sources/NAME.py`` and its
keys in Redis (checkpoint, health, dead letters). ``code`` is the question's: the ``platform`` of a
Post and a Question, the prefix of every question id (``fb:{comment id}``) and public id
(``fb-{hex}``), the console's platform filter. Both are stored data (ids in Redis and in signed
ledgers, source names in checkpoints and config files), so both stay as they were; this table
is the one place that says ``fb`` is Facebook and is read by the source ``facebook``.

Everything else derives from ``CATALOGUE``: ``PLATFORMS`` (what the console, the screens, the
filters, the ledger and the record know), ``OPTIONS`` (what a config may name) and
``SOURCE_LABELS`` (the health panel). This module imports pydantic models only, never a source,
so ``aggregator.base.settings`` can read it without loading a platform's client library.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.base.source_settings import (
    BlueskySettings,
    FacebookSettings,
    InstagramSettings,
    MastodonSettings,
    RehearsalSettings,
    SourceSettings,
    XSettings,
    YouTubeSettings,
)


@dataclass(frozen=True, kw_only=True)
class Platform:
    """One place questions come from. ``code`` is "" for a source that is no platform (the
    rehearsal feed, whose posts carry the codes of the platforms they imitate); ``settings`` is
    None for one that is not polled (the web form, which the web app serves)."""

    name: str
    code: str
    label: str
    settings: type[SourceSettings] | None

    def question_id(self, native_id: str) -> str:
        """The id of the question a post of this platform becomes."""
        return question_id(self.code, native_id)


def question_id(code: str, native_id: str) -> str:
    """A question's id: its platform's code, then the post's id on that platform."""
    return f"{code}:{native_id}"


X = Platform(name="x", code="x", label="X", settings=XSettings)
FACEBOOK = Platform(name="facebook", code="fb", label="Facebook", settings=FacebookSettings)
INSTAGRAM = Platform(name="instagram", code="ig", label="Instagram", settings=InstagramSettings)
YOUTUBE = Platform(name="youtube", code="yt", label="YouTube", settings=YouTubeSettings)
BLUESKY = Platform(name="bluesky", code="bsky", label="Bluesky", settings=BlueskySettings)
MASTODON = Platform(name="mastodon", code="masto", label="Mastodon", settings=MastodonSettings)
WEB_FORM = Platform(name="web", code="web", label="Web form", settings=None)
REHEARSAL = Platform(name="rehearsal", code="", label="Rehearsal feed", settings=RehearsalSettings)

CATALOGUE: tuple[Platform, ...] = (X, FACEBOOK, INSTAGRAM, YOUTUBE, BLUESKY, MASTODON, WEB_FORM,
                                   REHEARSAL)

# A question's platform code -> its label, for every surface that shows or checks one.
PLATFORMS: dict[str, str] = {p.code: p.label for p in CATALOGUE if p.code}
# Every source a config may name (``[sources.NAME]``) -> its settings model.
OPTIONS: dict[str, type[SourceSettings]] = {
    p.name: p.settings for p in CATALOGUE if p.settings is not None}
# A source's name -> its label, for the health panel.
SOURCE_LABELS: dict[str, str] = {p.name: p.label for p in CATALOGUE}

