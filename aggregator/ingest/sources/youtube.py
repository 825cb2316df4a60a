"""YouTube live chat: the chat beside the meeting's own stream.

The configured ``video_id`` (required: sources do not see ``[screen]``) is resolved once to its
live chat (``videos.list``, part ``liveStreamingDetails`` -> ``activeLiveChatId``); then
``liveChatMessages.list`` is read page after page with ``nextPageToken``. The checkpoint is JSON
(``YouTubeCheckpoint``: video_id, chat_id, page_token, quota_day, quota_used, ended), so a
restarted poller goes on from the last stored page (a rejected token restarts the chat from the
top; question ids make that harmless).

Pacing: YouTube says how long to wait (``pollingIntervalMillis``), and the daily quota sets a
floor of its own: each read costs LIST_COST units, and ``daily_quota`` units must last
``meeting_hours``. ``Batch.next_poll_in`` is the larger of the two, and a poll that comes early
(a restart, ``floor poll --once`` in a loop) returns nothing without calling YouTube.

Message types, as the discovery document shipped with google-api-python-client (revision
20261104) lists them:
- ``textMessageEvent`` is a question; so is a ``superChatEvent`` with a ``userComment``, flagged
  "paid" for the moderators to weigh (a ``superStickerEvent`` carries no comment field in the
  document; one that has a ``userComment`` is taken the same way).
- ``tombstone`` (the message itself, deleted: same id, no content), and the deprecated
  ``messageDeletedEvent``/``messageRetractedEvent`` (naming the message) retract the question.
- ``userBannedEvent`` retracts or flags "author_banned" the banned author's open questions
  (``on_ban`` in the settings, "flag" by default).
- ``chatEndedEvent`` ends the source: the page is stored, the health says the chat ended, and
  later polls stop without calling YouTube until the configured video changes.
YouTube puts a zero-width space before the "@" of every mention in a reply; it is removed
there (and only there) before cleaning, so ordinary replies are not flagged "hidden_chars".
Credentials: YOUTUBE_API_KEY, or an OAuth token file (YOUTUBE_OAUTH_TOKEN_FILE, read with
google-auth, which google-api-python-client already depends on).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httplib2
from google.auth.exceptions import GoogleAuthError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from aggregator.base.environment import read_environment
from aggregator.base.platforms import YOUTUBE
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import QUOTA_RESERVE, SourceSettings, YouTubeSettings
from aggregator.base.source_settings import YOUTUBE_POLL as DEFAULT_POLL
from aggregator.core.normalise import (
    InvalidPost,
    expect_text,
    fold,
    optional_text,
    required_text,
    tag_matcher,
)
from aggregator.core.question import Post
from aggregator.ingest.sources import (
    Ban,
    Batch,
    Checkpoint,
    RateLimited,
    Source,
    SourceError,
    SourceStopped,
)

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
# Paid messages: their details object; the comment is its userComment.
PAID = {"superChatEvent": "superChatDetails", "superStickerEvent": "superStickerDetails"}
# YouTube's own zero-width space before the "@" of a mention.
MENTION_SPACE = re.compile("\u200b(?=@)")
REFUSED = {"authError", "forbidden", "insufficientPermissions", "keyInvalid", "keyExpired",
           "accessNotConfigured", "ipRefererBlocked", "API_KEY_INVALID", "SERVICE_DISABLED",
           "API_KEY_SERVICE_BLOCKED", "CREDENTIALS_MISSING"}


class YouTubeCheckpoint(Checkpoint):
    video_id: str | None = None
    chat_id: str | None = None
    page_token: str | None = None
    quota_day: str | None = None
    quota_used: int = 0
    ended: str | None = None  # when the chat ended (chatEndedEvent's publishedAt)


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


def _handle(author: dict[str, Any]) -> str | None:
    """How a Post names a chat author (and a ban names the banned): the last part of the
    channel's URL, else the channel id."""
    url, channel = author.get("channelUrl"), author.get("channelId")
    if isinstance(url, str) and url.rstrip("/"):
        return url.rstrip("/").rsplit("/", 1)[-1]
    return channel if isinstance(channel, str) and channel else None


def _reasons(exc: HttpError) -> set[str]:
    """Every ``reason`` in Google's error envelope (errors[] and details[])."""
    content = exc.content
    try:
        body = json.loads(content) if isinstance(content, bytes | str) else None
    except ValueError:  # not JSON, or bytes that are not UTF-8
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    found = set()
    entries = [error.get("errors"), error.get("details")]
    for entry in [e for listed in entries if isinstance(listed, list) for e in listed]:
        if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
            found.add(entry["reason"])
    return found


class YouTubeSource(Source):
    platform = YOUTUBE

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
        environment = read_environment()
        token_file = str(environment.youtube_oauth_token_file or "")
        key = environment.token(KEY_ENV)
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
        except UnicodeDecodeError as exc:  # the client decodes the body before parsing it
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
        if state.video_id == video and state.ended:
            raise SourceStopped(self._ended(state.ended))
        chat = state.chat_id
        if state.video_id != video or not chat:
            chat = self.resolve_chat()
            state = state.model_copy(update={"video_id": video, "chat_id": chat,
                                             "page_token": None, "ended": None})
        try:
            reply = self.read_page(chat, state.page_token)
        except SourceError as exc:
            cause = exc.__cause__
            if not (state.page_token and isinstance(cause, HttpError)
                    and cause.status_code == 400 and not _reasons(cause) & REFUSED):
                raise
            log.warning("poller youtube: page token refused (%s); reading the chat from the "
                        "start (stored questions are not stored twice)", cause.reason)
            reply = self.read_page(chat, None)
        items = reply.get("items")
        if not isinstance(items, list):
            raise SourceError("YouTube sent a chat page without an items list")
        millis = reply.get("pollingIntervalMillis")
        polling = millis / 1000 if isinstance(millis, int | float) and millis >= 0 else DEFAULT_POLL
        wait = max(polling, self.quota_floor)
        self.not_before = self.clock() + wait
        token = reply.get("nextPageToken")
        state.page_token = token if isinstance(token, str) and token else state.page_token
        state.quota_day, state.quota_used = self.quota_today, self.quota_used
        health = self._health(state)
        health["polling_interval_s"] = polling
        offline = reply.get("offlineAt")  # None clears an earlier note once the stream is back
        health["detail"] = f"the stream went offline at {offline}" if offline else None
        retracted, bans, ended = self._events(items)
        state.ended = ended
        return Batch(items, state.dump(), retracted=retracted, bans=bans, next_poll_in=wait,
                     health=health, ended=None if ended is None else self._ended(ended))

    def _ended(self, when: str) -> str:
        return (f"the live chat of video {self.options.video_id} has ended ({when}): nothing "
                "more to read; set another video_id for a new stream")

    def _load(self, checkpoint: str | None) -> YouTubeCheckpoint:
        state = YouTubeCheckpoint.read(checkpoint, self.name)
        day = quota_day(self.clock())
        if not self.quota_today and state.quota_day == day:
            self.quota_today, self.quota_used = day, state.quota_used
        return state

    def _health(self, state: YouTubeCheckpoint) -> dict[str, Any]:
        return {"quota_used": self.quota_used, "quota_floor_s": round(self.quota_floor, 2),
                "chat_id": state.chat_id or ""}

    def _events(self, items: list[Any]) -> tuple[list[str], list[Ban], str | None]:
        """What the page's events say: the question ids retracted, the authors banned, and
        when the chat ended (None if it goes on)."""
        gone: list[str] = []
        bans: list[Ban] = []
        ended: str | None = None
        for item in items:
            snippet = item.get("snippet") if isinstance(item, dict) else None
            if not isinstance(snippet, dict):
                continue
            kind = snippet.get("type")
            target: Any = None
            if kind == "tombstone":
                target = item.get("id")
            elif kind in DELETIONS:
                details_key, id_key = DELETIONS[kind]
                details = snippet.get(details_key)
                target = details.get(id_key) if isinstance(details, dict) else None
            elif kind == "userBannedEvent":
                details = snippet.get("userBannedDetails")
                user = details.get("bannedUserDetails") if isinstance(details, dict) else None
                handle = _handle(user) if isinstance(user, dict) else None
                if handle:
                    bans.append(Ban(YOUTUBE.code, handle, retract=self.options.on_ban == "retract"))
            elif kind == "chatEndedEvent":
                when = snippet.get("publishedAt")
                ended = when if isinstance(when, str) and when else "time not given"
            if isinstance(target, str) and target:
                gone.append(YOUTUBE.question_id(target))
        return gone, bans, ended

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
        kind = snippet.get("type")
        flags = []
        if kind == "textMessageEvent":
            details = snippet.get("textMessageDetails")
            text = details.get("messageText") if isinstance(details, dict) else None
            text = expect_text(snippet.get("displayMessage") if text is None else text,
                               "snippet.textMessageDetails.messageText")
        elif kind in PAID:
            details = snippet.get(PAID[kind])
            comment = details.get("userComment") if isinstance(details, dict) else None
            if comment is None:
                return None  # a paid message without words (a sticker alone) asks nothing
            text = expect_text(comment, f"snippet.{PAID[kind]}.userComment")
            flags.append("paid")
        else:
            return None  # events (deletions, bans, the end) are read in fetch; polls ask nothing
        message_id = required_text(item, "id")
        text = MENTION_SPACE.sub("", text)
        if not text.strip():
            return None
        if self.options.require_hashtag and not (self.matcher and self.matcher.search(fold(text))):
            return None
        author = item.get("authorDetails")
        author = author if isinstance(author, dict) else {}
        name = optional_text(author, "displayName", "authorDetails.displayName")
        handle = _handle(author) or snippet.get("authorChannelId")
        handle = None if handle is None else expect_text(handle, "authorDetails")
        published = optional_text(snippet, "publishedAt", "snippet.publishedAt")
        return Post(platform=YOUTUBE.code, native_id=message_id, text=text, author_name=name or "",
                    author_handle=handle or "",
                    url=WATCH_URL.format(video_id=self.options.video_id),
                    posted_at=published or "", raw=item, flags=flags)

    def check(self) -> str:
        chat = self.resolve_chat()
        return (f"video {self.options.video_id} is live with chat {chat}; a read every "
                f"{self.quota_floor:.1f}s or slower keeps within {self.options.daily_quota} "
                f"quota units for {self.options.meeting_hours:g} hours")
