"""YouTube live chat: the chat beside the meeting's own stream.

The configured ``video_id`` (required: sources do not see ``[screen]``) is resolved once to its
live chat (``videos.list``, part ``liveStreamingDetails`` -> ``activeLiveChatId``); then
``liveChatMessages.list`` is read page after page with ``nextPageToken``. The checkpoint is JSON:
``{"video_id", "chat_id", "page_token", "quota_day", "quota_used"}``, so a restarted poller goes
on from the last stored page (a rejected token restarts the chat from the top; question ids make
that harmless).

Pacing: YouTube says how long to wait (``pollingIntervalMillis``), and the daily quota sets a
floor of its own: each read costs LIST_COST units, and ``daily_quota`` units must last
``meeting_hours``. ``Batch.next_poll_in`` is the larger of the two, and a poll that comes early
(a restart, ``floor poll --once`` in a loop) returns nothing without calling YouTube.

Only ``textMessageEvent`` messages are questions; ``messageDeletedEvent`` and
``messageRetractedEvent`` retract the question they name. Credentials: YOUTUBE_API_KEY, or an
OAuth token file (YOUTUBE_OAUTH_TOKEN_FILE, read with google-auth, which
google-api-python-client already depends on).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httplib2
from google.auth.exceptions import GoogleAuthError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from aggregator.normalise import (
    InvalidPost,
    expect_text,
    fold,
    optional_text,
    required_text,
    tag_matcher,
)
from aggregator.question import Post
from aggregator.settings import EventSettings
from aggregator.sources import Batch, RateLimited, Source, SourceError, SourceStopped
from aggregator.sources.options import QUOTA_RESERVE, SourceSettings, YouTubeSettings
from aggregator.sources.options import YOUTUBE_POLL as DEFAULT_POLL

log = logging.getLogger(__name__)

KEY_ENV = "YOUTUBE_API_KEY"
TOKEN_FILE_ENV = "YOUTUBE_OAUTH_TOKEN_FILE"
SCOPES = ["https://www.googleapis.com/auth/youtube.readonly"]

# Quota units per call (YouTube Data API cost table).
LIST_COST = 5
VIDEO_COST = 1
# YouTube's quota day starts at midnight Pacific time.
PACIFIC = "America/Los_Angeles"

WATCH_URL = "https://www.youtube.com/watch?v={video_id}"
DELETIONS = {"messageDeletedEvent": ("messageDeletedDetails", "deletedMessageId"),
             "messageRetractedEvent": ("messageRetractedDetails", "retractedMessageId")}
REFUSED = {"authError", "forbidden", "insufficientPermissions", "keyInvalid", "keyExpired",
           "accessNotConfigured", "ipRefererBlocked", "API_KEY_INVALID", "SERVICE_DISABLED",
           "API_KEY_SERVICE_BLOCKED", "CREDENTIALS_MISSING"}


def _pacific() -> tzinfo:
    try:
        return ZoneInfo(PACIFIC)
    except ZoneInfoNotFoundError:  # no tz database: standard time, at worst an hour late
        return timezone(timedelta(hours=-8), "PST")


def quota_day(now: float) -> str:
    """The YouTube quota day (a Pacific-time date) at ``now``."""
    return datetime.fromtimestamp(now, _pacific()).date().isoformat()


def next_quota_reset(now: float) -> float:
    """Unix time of the next midnight Pacific, when the daily quota starts again."""
    local = datetime.fromtimestamp(now, _pacific())
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                tzinfo=local.tzinfo)
    return midnight.timestamp()


def _reasons(exc: HttpError) -> set[str]:
    """Every ``reason`` in Google's error envelope (errors[] and details[])."""
    try:
        error = json.loads(exc.content.decode("utf-8")).get("error", {})
    except (ValueError, AttributeError, UnicodeDecodeError):
        return set()
    found = set()
    for entry in [*(error.get("errors") or []), *(error.get("details") or [])]:
        if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
            found.add(entry["reason"])
    return found


class YouTubeSource(Source):
    name = "youtube"
    settings_model = YouTubeSettings

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Callable[[], float] = time.time, http: Any = None) -> None:
        """``http`` replaces the client's httplib2 transport (tests pass an HttpMockSequence);
        by default the client builds its own."""
        super().__init__(settings, event)
        self.options = cast(YouTubeSettings, self.settings)
        self.clock = clock
        self.http = http
        self.client: Any = None
        self.not_before = 0.0
        self.quota_used = 0
        self.quota_today = ""
        self.matcher = tag_matcher(list(event.hashtags)) if event.hashtags else None

    @property
    def quota_floor(self) -> float:
        """Seconds between reads so that the day's quota lasts the meeting."""
        calls = (self.options.daily_quota - QUOTA_RESERVE) / LIST_COST
        return self.options.meeting_hours * 3600 / calls

    @property
    def interval(self) -> float:
        return max(float(self.options.interval), self.quota_floor)

    # -- talking to YouTube -------------------------------------------------------------------

    def connect(self) -> Any:
        if self.client is not None:
            return self.client
        token_file = os.environ.get(TOKEN_FILE_ENV, "")
        key = os.environ.get(KEY_ENV, "")
        if token_file and self.http is None:
            from google.oauth2.credentials import Credentials

            try:
                credentials = Credentials.from_authorized_user_file(token_file, SCOPES)
            except (OSError, ValueError) as exc:
                raise SourceStopped(f"cannot read the OAuth token file {token_file} "
                                    f"({TOKEN_FILE_ENV}): {exc}") from exc
            self.client = build("youtube", "v3", credentials=credentials, cache_discovery=False)
        elif key:
            self.client = build("youtube", "v3", developerKey=key, http=self.http,
                                cache_discovery=False)
        else:
            raise SourceStopped(f"set {KEY_ENV} (an API key of a Google Cloud project with the "
                                f"YouTube Data API v3 enabled) or {TOKEN_FILE_ENV}")
        return self.client

    def call(self, request: Any, cost: int) -> dict[str, Any]:
        """Execute one request, count its quota, map its failures to health states."""
        now = self.clock()
        if quota_day(now) != self.quota_today:
            self.quota_today, self.quota_used = quota_day(now), 0
        self.quota_used += cost  # YouTube charges failed requests too
        try:
            reply = request.execute(num_retries=0)
        except HttpError as exc:
            raise self._classify(exc) from exc
        except GoogleAuthError as exc:
            raise SourceStopped(f"the YouTube OAuth token no longer works ({exc}): authorise "
                                f"again and update {TOKEN_FILE_ENV}") from exc
        except ValueError as exc:
            raise SourceError(f"YouTube sent a reply that is not JSON: {exc}") from exc
        except (httplib2.HttpLib2Error, OSError) as exc:  # timeouts, refused connections
            raise SourceError(f"could not reach YouTube: {type(exc).__name__}: {exc}") from exc
        if isinstance(reply, str | bytes):  # the client hands back a body it cannot parse
            raise SourceError(f"YouTube sent a reply that is not JSON: {reply[:80]!r}")
        if not isinstance(reply, dict):
            raise SourceError("YouTube sent a reply that is not a JSON object")
        return reply

    def _classify(self, exc: HttpError) -> SourceError:
        status, reasons, message = exc.status_code, _reasons(exc), exc.reason
        said = f"{status} {', '.join(sorted(reasons)) or 'error'}: {message}"
        if reasons & {"quotaExceeded", "dailyLimitExceeded"}:
            return RateLimited(next_quota_reset(self.clock()),
                               "today's YouTube API quota is used up; it comes back at "
                               "midnight Pacific time")
        if "liveChatEnded" in reasons:
            return SourceStopped("the live chat has ended")
        if "liveChatNotFound" in reasons:
            return SourceStopped(f"the live chat of video {self.options.video_id} cannot be "
                                 "found (deleted stream, or the wrong video_id?)")
        if "liveChatDisabled" in reasons:
            return SourceStopped(f"the live chat of video {self.options.video_id} is turned off")
        if reasons & {"rateLimitExceeded", "userRateLimitExceeded"} or status == 429:
            return SourceError(f"YouTube asks us to slow down ({said})")
        if status >= 500:
            return SourceError(f"YouTube had a server error ({said})")
        if status in (401, 403) or reasons & REFUSED:
            return SourceStopped(f"YouTube refused access ({said}): check {KEY_ENV} or the "
                                 "OAuth token, that the YouTube Data API v3 is enabled for the "
                                 "project, and that the chat is public")
        return SourceError(f"YouTube answered {said}")

    def resolve_chat(self) -> str:
        """The live chat id of the configured video, or SourceStopped saying why there is none."""
        video = self.options.video_id
        reply = self.call(self.connect().videos().list(part="liveStreamingDetails", id=video),
                          VIDEO_COST)
        items = reply.get("items")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise SourceStopped(f"YouTube has no video {video} (check video_id)")
        details = items[0].get("liveStreamingDetails")
        if not isinstance(details, dict):
            raise SourceStopped(f"video {video} is not a live stream")
        chat = details.get("activeLiveChatId")
        if not isinstance(chat, str) or not chat:
            ended = " (the stream has ended)" if details.get("actualEndTime") else ""
            raise SourceStopped(f"video {video} is not live / has no live chat{ended}")
        return chat

    def read_page(self, chat: str, token: str | None) -> dict[str, Any]:
        request = self.connect().liveChatMessages().list(
            liveChatId=chat, part="id,snippet,authorDetails", pageToken=token,
            maxResults=self.options.max_results)
        return self.call(request, LIST_COST)

    # -- the Source interface -----------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        state = self._load(checkpoint)
        now = self.clock()
        if now < self.not_before:  # too early for YouTube's interval or for the quota
            return Batch([], None, next_poll_in=self.not_before - now, health=self._health(state))
        video = self.options.video_id
        if state.get("video_id") != video or not state.get("chat_id"):
            state = {**state, "video_id": video, "chat_id": self.resolve_chat(), "page_token": None}
        try:
            reply = self.read_page(state["chat_id"], state.get("page_token"))
        except SourceError as exc:
            cause = exc.__cause__
            if not (state.get("page_token") and isinstance(cause, HttpError)
                    and cause.status_code == 400 and not _reasons(cause) & REFUSED):
                raise
            log.warning("poller youtube: page token refused (%s); reading the chat from the "
                        "start (stored questions are not stored twice)", cause.reason)
            reply = self.read_page(state["chat_id"], None)
        items = reply.get("items")
        if not isinstance(items, list):
            raise SourceError("YouTube sent a chat page without an items list")
        millis = reply.get("pollingIntervalMillis")
        polling = millis / 1000 if isinstance(millis, int | float) and millis >= 0 else DEFAULT_POLL
        wait = max(polling, self.quota_floor)
        self.not_before = self.clock() + wait
        token = reply.get("nextPageToken")
        state["page_token"] = token if isinstance(token, str) and token else state.get("page_token")
        state["quota_day"], state["quota_used"] = self.quota_today, self.quota_used
        health = self._health(state)
        health["polling_interval_s"] = polling
        offline = reply.get("offlineAt")  # None clears an earlier note once the stream is back
        health["detail"] = f"the stream went offline at {offline}" if offline else None
        return Batch(items, json.dumps(state, sort_keys=True, separators=(",", ":")),
                     retracted=self._retracted(items), next_poll_in=wait, health=health)

    def _load(self, checkpoint: str | None) -> dict[str, Any]:
        try:
            state = json.loads(checkpoint) if checkpoint else {}
        except ValueError:
            state = None
        if not isinstance(state, dict):
            log.warning("poller youtube: unreadable checkpoint %r, starting afresh",
                        str(checkpoint)[:80])
            state = {}
        day = quota_day(self.clock())
        if not self.quota_today and state.get("quota_day") == day:
            self.quota_today, self.quota_used = day, int(state.get("quota_used") or 0)
        return state

    def _health(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"quota_used": self.quota_used, "quota_floor_s": round(self.quota_floor, 2),
                "chat_id": state.get("chat_id") or ""}

    @staticmethod
    def _retracted(items: list[Any]) -> list[str]:
        gone = []
        for item in items:
            snippet = item.get("snippet") if isinstance(item, dict) else None
            if not isinstance(snippet, dict) or snippet.get("type") not in DELETIONS:
                continue
            details_key, id_key = DELETIONS[snippet["type"]]
            target = (snippet.get(details_key) or {}).get(id_key)
            if isinstance(target, str) and target:
                gone.append(f"yt:{target}")
        return gone

    def describe(self, item: Any) -> str:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            return f"message {item['id']}"
        return ""

    def parse(self, item: Any) -> Post | None:
        if not isinstance(item, dict):
            raise InvalidPost("not a JSON object")
        snippet = item.get("snippet")
        if not isinstance(snippet, dict):
            raise InvalidPost("field 'snippet' is missing")
        if snippet.get("type") != "textMessageEvent":
            return None  # deletions are handled in fetch; super chats, bans, polls are not asked
        message_id = required_text(item, "id")
        details = snippet.get("textMessageDetails")
        text = details.get("messageText") if isinstance(details, dict) else None
        text = expect_text(snippet.get("displayMessage") if text is None else text,
                           "snippet.textMessageDetails.messageText")
        if self.options.require_hashtag and not (self.matcher and self.matcher.search(fold(text))):
            return None
        author = item.get("authorDetails")
        author = author if isinstance(author, dict) else {}
        name = optional_text(author, "displayName", "authorDetails.displayName")
        url, channel = author.get("channelUrl"), author.get("channelId")
        channel = channel or snippet.get("authorChannelId")
        handle = url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else channel
        handle = None if handle is None else expect_text(handle, "authorDetails")
        published = optional_text(snippet, "publishedAt", "snippet.publishedAt")
        return Post(platform="yt", native_id=message_id, text=text, author_name=name or "",
                    author_handle=handle or "",
                    url=WATCH_URL.format(video_id=self.options.video_id),
                    posted_at=published or "", raw=item)

    def check(self) -> str:
        chat = self.resolve_chat()
        return (f"video {self.options.video_id} is live with chat {chat}; a read every "
                f"{self.quota_floor:.1f}s or slower keeps within {self.options.daily_quota} "
                f"quota units for {self.options.meeting_hours:g} hours")
