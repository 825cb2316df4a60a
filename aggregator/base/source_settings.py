"""Each source's settings (``[sources.NAME]``), kept apart from the sources themselves.

Validating a config imports this module only: pydantic, no platform SDK (tweepy, facebook-sdk,
google-api-python-client, instaloader, atproto and Mastodon.py load only with the source that
needs them). Which model belongs to which source is said once, in the catalogue
(``aggregator/base/platforms.py``).
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


# -- Bluesky -------------------------------------------------------------------------------

# Bluesky's hosted PDS allows 3,000 requests per 5 minutes per address; a cycle is one search per
# hashtag and one thread read per announcement, so 15 s is a few requests a minute. Logging in
# (createSession) is limited to 30 per 5 minutes and 100 to 300 a day, so a source logs in once
# and keeps its session, never once a cycle.
BLUESKY_INTERVAL = 15.0
BLUESKY_MIN_INTERVAL = 5.0
BLUESKY_SERVICE = "https://bsky.social"
# The stored posts are asked after this often, to retract the ones their authors deleted: each
# check is one request per 25 posts, so once a minute keeps deletions prompt for little.
RECHECK_INTERVAL = 60.0
BLUESKY_POST_URL = re.compile(r"^https://bsky\.app/profile/([^/\s]+)/post/([A-Za-z0-9._:~-]+)/?$")
AT_POST_URI = re.compile(r"^at://([^/\s]+)/app\.bsky\.feed\.post/([A-Za-z0-9._:~-]+)$")


def _bare_tags(value: list[str]) -> list[str]:
    """Hashtags as the networks' APIs take them: no "#", no spaces."""
    return [tag.strip().lstrip("#＃").strip() for tag in value if tag.strip("#＃ ")]


class BlueskySettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=BLUESKY_INTERVAL, ge=BLUESKY_MIN_INTERVAL)
    # The account Floor logs in as (its app password is in BLUESKY_APP_PASSWORD).
    handle: str = Field(min_length=3)
    # Empty: the event's hashtags.
    hashtags: list[str] = Field(default_factory=list)
    # The trust's own posts announcing the meeting: every reply to them is read, hashtag or not.
    announcement_posts: list[str] = Field(default_factory=list)
    service: str = Field(default=BLUESKY_SERVICE, pattern=r"^https?://[^\s/]+/?$")
    lookback_hours: float = Field(default=24.0, gt=0)
    recheck_interval: float = Field(default=RECHECK_INTERVAL, ge=10)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _bare_tags(value)

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        return value.strip().lstrip("@")

    @field_validator("announcement_posts")
    @classmethod
    def _posts(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not (BLUESKY_POST_URL.match(entry.strip()) or AT_POST_URI.match(entry.strip())):
                raise ValueError(f"{entry!r} is not a Bluesky post: give its bsky.app link "
                                 "(https://bsky.app/profile/HANDLE/post/ID) or its at:// URI")
        return [entry.strip() for entry in value]

    def hashtag_problem(self, event_tags: list[str]) -> str | None:
        if not self.hashtags and not event_tags and not self.announcement_posts:
            return ("Bluesky reads the event's hashtags or replies to announcement_posts, and "
                    "there are neither: set [event] hashtags (or hashtags or announcement_posts "
                    "in [sources.bluesky])")
        return None


# -- Mastodon ------------------------------------------------------------------------------

# Mastodon allows 300 requests per 5 minutes per address (and per token); a cycle is one request
# per instance and hashtag, so 15 s stays far inside it even for several instances.
MASTODON_INTERVAL = 15.0
MASTODON_MIN_INTERVAL = 5.0
INSTANCE_URL = re.compile(r"^https?://[^\s/?#@]+/?$")


class MastodonSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=MASTODON_INTERVAL, ge=MASTODON_MIN_INTERVAL)
    # Each instance's hashtag timeline is read; a toot seen through several is one question.
    instances: list[str] = Field(min_length=1)
    # Empty: the event's hashtags.
    hashtags: list[str] = Field(default_factory=list)
    # The instance MASTODON_ACCESS_TOKEN belongs to (empty: the first); the others are read
    # without a token, as their public timelines allow.
    token_instance: str = ""
    recheck_interval: float = Field(default=RECHECK_INTERVAL, ge=10)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _bare_tags(value)

    @field_validator("instances", mode="before")
    @classmethod
    def _instances(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        found = []
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError(f"{entry!r} is not an instance address")
            url = entry.strip().rstrip("/")
            if "://" not in url:
                url = "https://" + url
            if not INSTANCE_URL.match(url):
                raise ValueError(f"{entry!r} is not an instance address: write it like "
                                 "\"https://mastodon.social\"")
            found.append(url)
        return found

    @field_validator("token_instance")
    @classmethod
    def _token_instance(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        return url if not url or "://" in url else "https://" + url

    def hashtag_problem(self, event_tags: list[str]) -> str | None:
        if not self.hashtags and not event_tags:
            return ("Mastodon reads hashtag timelines, and there are no hashtags: set [event] "
                    "hashtags (or hashtags in [sources.mastodon])")
        if self.token_instance and self.token_instance not in self.instances:
            return f"token_instance {self.token_instance!r} is not one of instances"
        return None


# -- Rehearsal -----------------------------------------------------------------------------


class RehearsalSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    file: str = ""
    speed: float = Field(default=1.0, ge=0)
    interval: float = Field(default=0.5, gt=0)

