"""Each source's settings (``[sources.NAME]``), kept apart from the sources themselves.

Validating a config imports this module only: pydantic, no platform SDK (tweepy, facebook-sdk,
google-api-python-client and instaloader load only with the source that needs them). Which
model belongs to which source is said once, in the catalogue (``aggregator/base/platforms.py``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SourceSettings(BaseModel):
    """Settings shared by every source; each source may accept more keys of its own."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = False
    interval: float = Field(default=15.0, gt=0)

    def hashtag_problem(self, event_tags: list[str]) -> str | None:
        """Why these settings cannot work with the event's hashtags ``event_tags``, or None."""
        if getattr(self, "require_hashtag", False) and not event_tags:
            return ("require_hashtag needs the event's hashtags, and [event] hashtags is "
                    "empty: no post could ever count")
        return None


# -- X -------------------------------------------------------------------------------------

# Recent search allows 450 requests per 15 minutes per app (one every 2 s), but every post read
# is billed, and a shorter interval mostly buys more requests for the same posts: 15 s keeps
# questions on the console within seconds for a handful of requests a minute.
X_INTERVAL = 15.0
X_MIN_INTERVAL = 2.0


class XSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=X_INTERVAL, ge=X_MIN_INTERVAL)
    # Empty: the event's hashtags.
    hashtags: list[str] = Field(default_factory=list)
    cost_per_post_usd: float = Field(default=0.005, ge=0)
    # Whether X bills the expanded authors as "User: Read" ($0.010) shows in its console.
    cost_per_user_usd: float = Field(default=0.0, ge=0)
    budget_usd: float = Field(default=25.0, ge=0)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return ["#" + tag.strip().lstrip("#") for tag in value if tag.strip("# ")]

    def hashtag_problem(self, event_tags: list[str]) -> str | None:
        if not self.hashtags and not event_tags:
            # An empty query would be "-is:retweet": every post on X, each one billed.
            return ("X searches for the event's hashtags, and there are none: set [event] "
                    "hashtags (or hashtags in [sources.x])")
        return None


# -- Facebook ------------------------------------------------------------------------------

# One request per object per cycle when quiet. Page tokens fall under Business Use Case limits
# (generous for a Page with an audience); an app still in development mode is reported to get
# about 200 calls an hour per Page, which needs 20 s or more per object.
FACEBOOK_INTERVAL = 15.0
FACEBOOK_OBJECT_ID = re.compile(r"^[0-9]{1,30}(_[0-9]{1,30})?$")


class FacebookSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=FACEBOOK_INTERVAL, gt=0)
    live_video_ids: list[str] = Field(default_factory=list)
    post_ids: list[str] = Field(default_factory=list)
    require_hashtag: bool = False
    graph_version: str = "v21.0"

    @field_validator("live_video_ids", "post_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        for item in value if isinstance(value, list) else []:
            if not isinstance(item, str) or not FACEBOOK_OBJECT_ID.match(item):
                raise ValueError(f"{item!r} is not a Facebook object id: write it as a quoted "
                                 "string of digits, e.g. \"1122334455_900000000000000\"")
        return value

    @field_validator("graph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.match(r"^v[0-9]{1,2}\.0$", value):
            raise ValueError("write the Graph API version like \"v21.0\"")
        return value


# -- Instagram -----------------------------------------------------------------------------

# Instagram throttles accounts that poll often, and a throttled account is blind for half an
# hour: two minutes between cycles keeps a meeting's worth of polls far inside instaloader's
# budgets (199 app requests per 30 min) while questions still arrive within a few minutes.
INSTAGRAM_INTERVAL = 120.0
INSTAGRAM_MIN_INTERVAL = 30.0
GRAPH_VERSION = "v21.0"
SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{5,64}$")
SHORTCODE_IN_URL = re.compile(r"instagram\.com/(?:[^/?#]+/)?(?:p|reel|reels|tv)/([A-Za-z0-9_-]+)")


class InstagramSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["instaloader", "graph"] = "instaloader"
    interval: float = Field(default=INSTAGRAM_INTERVAL, ge=INSTAGRAM_MIN_INTERVAL)
    hashtags: list[str] | None = None
    require_hashtag: bool = False
    lookback_hours: float = Field(default=24.0, gt=0)
    username: str = ""
    session_file: str = ""
    post_shortcodes: list[str] = Field(default_factory=list)
    polite_sleep: bool = True
    ig_user_id: str = ""
    media_ids: list[str] = Field(default_factory=list)
    graph_version: str = Field(default=GRAPH_VERSION, pattern=r"^v\d+\.\d+$")

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [tag.strip().lstrip("#＃").strip() for tag in value if tag.strip("#＃ ")]

    @field_validator("post_shortcodes")
    @classmethod
    def _shortcodes(cls, value: list[str]) -> list[str]:
        codes = []
        for entry in value:
            found = SHORTCODE_IN_URL.search(entry)
            code = found.group(1) if found else entry.strip()
            if not SHORTCODE.match(code):
                raise ValueError(f"{entry!r} is not a shortcode or an instagram.com/p/… link")
            codes.append(code)
        return codes

    def hashtag_problem(self, event_tags: list[str]) -> str | None:
        # Its own hashtags count as the event's for matching.
        return super().hashtag_problem([*event_tags, *(self.hashtags or [])])


# -- YouTube -------------------------------------------------------------------------------

# Used when a page carries no pollingIntervalMillis; YouTube's usual value.
YOUTUBE_POLL = 5.0
# Units kept back from the pacing sums for resolving the chat, restarts and `floor check`.
QUOTA_RESERVE = 100
VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
VIDEO_IN_URL = re.compile(r"(?:[?&]v=|youtu\.be/|/live/|/shorts/|/embed/)([A-Za-z0-9_-]{11})")


class YouTubeSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    video_id: str
    interval: float = Field(default=YOUTUBE_POLL, gt=0)
    daily_quota: int = Field(default=10_000, gt=QUOTA_RESERVE)
    meeting_hours: float = Field(default=3.0, gt=0)
    require_hashtag: bool = False
    max_results: int = Field(default=500, ge=200, le=2000)
    # What a ban in the chat (userBannedEvent) does to that author's open questions: "flag"
    # marks them for the moderators to decide, "retract" takes them away as a deletion does.
    on_ban: Literal["flag", "retract"] = "flag"

    @field_validator("video_id")
    @classmethod
    def _video(cls, value: str) -> str:
        value = value.strip()
        found = VIDEO_IN_URL.search(value)
        video = found.group(1) if found else value
        if not VIDEO_ID.match(video):
            raise ValueError("expected the stream's 11-character video id or its YouTube link")
        return video


# -- Rehearsal -----------------------------------------------------------------------------


class RehearsalSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    file: str = ""
    speed: float = Field(default=1.0, ge=0)
    interval: float = Field(default=0.5, gt=0)

