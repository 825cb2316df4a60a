"""Facebook: comments on the meeting's live video(s) and post(s) through facebook-sdk's GraphAPI.

Each cycle reads ``/{object}/comments`` for every configured object with ``filter=stream`` (all
comments, replies included), newest first, 100 a page, and drains every page (``paging.next``).
Cursors do not survive between runs, so the checkpoint is a JSON object of the newest
``created_time`` seen per object (Unix seconds); the next cycle asks for comments ``since`` that
time minus an overlap, so a comment that becomes visible a little after newer ones is still read.
The overlap re-reads a few comments each cycle; their ids make that harmless (the store keeps
one question per id).

facebook-sdk 3.1.0 only accepts Graph API versions up to 3.1 in its constructor, and Meta serves
calls to a retired version with the oldest live one, so the version is set on the client after
construction (``graph_version``, default v21.0). The library ignores HTTP statuses and headers:
errors are classified by Facebook's ``error.code``, and a response hook on our own session keeps
the usage headers (``x-business-use-case-usage`` for Page tokens, ``x-app-usage``) for pauses and
the health record. The Page access token comes from ``FACEBOOK_PAGE_TOKEN``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import facebook
import requests
from pydantic import ConfigDict, Field, field_validator

from aggregator.normalise import InvalidPost, fold, tag_matcher
from aggregator.question import Post
from aggregator.settings import EventSettings, SourceSettings
from aggregator.sources import Batch, RateLimited, Source, SourceError, SourceStopped

log = logging.getLogger("floor.sources.facebook")

TOKEN_ENV = "FACEBOOK_PAGE_TOKEN"
# One request per object per cycle when quiet. Page tokens fall under Business Use Case limits
# (generous for a Page with an audience); an app still in development mode is reported to get
# about 200 calls an hour per Page, which needs 20 s or more per object.
DEFAULT_INTERVAL = 15.0
# The most comments Facebook returns per page.
PAGE_SIZE = 100
# Re-read this far behind the newest comment seen: catches comments Facebook makes visible late,
# at the price of re-reading (and deduplicating) up to a minute of comments each cycle.
OVERLAP = 60
# Facebook answers within seconds or not at all; the poller retries with backoff.
TIMEOUT = 10
# Pages read per object in one cycle at most (10,000 comments); a live cycle is a page or two.
MAX_PAGES = 100
# Over this share of the usage budget (any of calls, CPU time, total time), slow down.
SLOW_AT = 80
SLOW_FACTOR = 4.0
# A throttle answer without an estimated_time_to_regain_access: wait this long (seconds).
THROTTLE_WAIT = 600.0
FIELDS = "id,message,created_time,from,parent{id},permalink_url"
# Error codes (error.code, not the HTTP status): token, permission, throttling, missing object.
TOKEN_CODES = {102, 190}
THROTTLE_CODES = {4, 17, 32, 613, 80001}
OBJECT_CODE = 100
PERMISSION = re.compile(r"\b(pages_[a-z_]+|read_insights|business_management|public_profile)\b")
COMMENTER = "Facebook user"
OBJECT_ID = re.compile(r"^[0-9]{1,30}(_[0-9]{1,30})?$")


class FacebookSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=DEFAULT_INTERVAL, gt=0)
    live_video_ids: list[str] = Field(default_factory=list)
    post_ids: list[str] = Field(default_factory=list)
    require_hashtag: bool = False
    graph_version: str = "v21.0"

    @field_validator("live_video_ids", "post_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else []:
            if not isinstance(item, str) or not OBJECT_ID.match(item):
                raise ValueError(f"{item!r} is not a Facebook object id: write it as a quoted "
                                 "string of digits, e.g. \"1122334455_900000000000000\"")
        return value

    @field_validator("graph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.match(r"^v[0-9]{1,2}\.0$", value):
            raise ValueError("write the Graph API version like \"v21.0\"")
        return value


class FacebookSource(Source):
    name = "facebook"
    settings_model = FacebookSettings

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Any = time.time) -> None:
        super().__init__(settings, event)
        self.options = cast(FacebookSettings, self.settings)
        self.objects = ([(oid, "live video") for oid in self.options.live_video_ids]
                        + [(oid, "post") for oid in self.options.post_ids])
        if self.options.require_hashtag and not event.hashtags:
            raise ValueError("[sources.facebook] require_hashtag needs the event's hashtags "
                             "([event] hashtags)")
        self.matcher = tag_matcher(list(event.hashtags)) if event.hashtags else None
        self.clock = clock
        self._graph: facebook.GraphAPI | None = None
        self._last: requests.Response | None = None

    # -- talking to Facebook ----------------------------------------------------------------

    def graph(self) -> facebook.GraphAPI:
        if self._graph is None:
            token = os.environ.get(TOKEN_ENV, "").strip()
            if not token:
                raise SourceStopped(f"{TOKEN_ENV} is not set: put the Page access token in the "
                                    "environment (or the .env file)")
            session = requests.Session()
            session.hooks["response"].append(self._remember)
            graph = facebook.GraphAPI(access_token=token, timeout=TIMEOUT, session=session)
            graph.version = self.options.graph_version  # the constructor refuses v4 and later
            self._graph = graph
        return self._graph

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response

    def call(self, what: str, request: Callable[[facebook.GraphAPI], Any]) -> dict[str, Any]:
        """Run one GraphAPI request, errors mapped for the poller."""
        graph = self.graph()
        self._last = None
        try:
            result = request(graph)
        except facebook.GraphAPIError as exc:
            raise self.error(exc, what) from exc
        except (requests.JSONDecodeError, KeyError) as exc:  # JSON content type, broken body
            raise SourceError(f"Facebook sent an unreadable answer ({what}, "
                              f"{self.status()}): {exc}") from exc
        except requests.Timeout as exc:
            raise SourceError(f"Facebook did not answer within {TIMEOUT} s ({what})") from exc
        except requests.RequestException as exc:
            raise SourceError(f"Facebook could not be reached ({what}): {exc}") from exc
        if not isinstance(result, dict):
            raise SourceError(f"Facebook sent an answer that is not a JSON object ({what}): "
                              f"{str(result)[:120]}")
        return result

    def headers(self) -> Any:
        """The headers of the last response (empty after a timeout)."""
        return self._last.headers if self._last is not None else {}

    def status(self) -> str:
        return f"HTTP {self._last.status_code}" if self._last is not None else "no HTTP status"

    def error(self, exc: facebook.GraphAPIError, what: str) -> SourceError:
        code, said = exc.code, str(exc.message)
        if code is None:
            return SourceError(f"Facebook sent an answer that is not JSON ({what}, "
                               f"{self.status()})")
        detail = exc.result.get("error", {}) if isinstance(exc.result, dict) else {}
        sub = detail.get("error_subcode") if isinstance(detail, dict) else None
        full = f"{code}/{sub}" if sub else str(code)
        if code in TOKEN_CODES:
            return SourceStopped(f"Page token expired or invalid (Facebook code {full}): make a "
                                 f"new long-lived Page access token and set {TOKEN_ENV}. "
                                 f"Facebook said: {said}")
        if code == 10 or 200 <= code <= 299:
            named = PERMISSION.findall(said)
            missing = (", ".join(dict.fromkeys(named)) if named
                       else "pages_read_engagement and pages_read_user_content")
            return SourceStopped(f"the Page token lacks the permission {missing} (Facebook code "
                                 f"{full}, {what}): grant it to the app and make a new Page "
                                 f"token. Facebook said: {said}")
        if code in THROTTLE_CODES or 80000 <= code <= 80099:
            _, wait = usage(self.headers())
            until = self.clock() + (wait * 60 if wait else THROTTLE_WAIT)
            return RateLimited(until, f"Facebook rate limit (code {code}): {said}")
        if code == OBJECT_CODE:
            return _Unreadable(f"Facebook cannot read the comments of {what} (code {full}): "
                               "check the id in [sources.facebook] and that the token's Page "
                               f"owns it. Facebook said: {said}")
        return SourceError(f"Facebook error {full} ({what}): {said}")

    # -- the source interface ---------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        if not self.objects:
            raise SourceStopped("no live_video_ids or post_ids in [sources.facebook]: add the "
                                "meeting's live video or post")
        marks = load_marks(checkpoint)
        items: list[dict[str, Any]] = []
        skipped: list[str] = []
        notes: list[str] = []
        busiest: int | None = None
        wait = 0.0
        for oid, kind in self.objects:
            try:
                comments, note = self.drain(oid, kind, marks.get(oid))
            except _Unreadable as exc:
                skipped.append(str(exc))
                log.warning("poller facebook: %s", exc)
                continue
            notes += [note] if note else []
            pct, regain = usage(self.headers())
            if pct is not None:
                busiest = max(busiest or 0, pct)
            wait = max(wait, regain)
            items += [{"object_id": oid, "comment": comment} for comment in comments]
            times = [t for c in comments if (t := _unix(c)) is not None]
            if times:
                marks[oid] = max(times + [marks.get(oid, 0)])
        if skipped and len(skipped) == len(self.objects):
            raise SourceStopped(" ".join(skipped))
        health: dict[str, Any] = {"graph_version": self.options.graph_version,
                                  "comments_read": len(items)}
        if busiest is not None:
            health["api_usage_pct"] = busiest
        health["detail"] = " ".join(skipped + notes) or None
        next_poll: float | None = None
        if wait:
            next_poll = wait * 60
        elif busiest is not None and busiest >= SLOW_AT:
            next_poll = self.interval * SLOW_FACTOR
        return Batch(items, json.dumps(marks, sort_keys=True), next_poll_in=next_poll,
                     health=health)

    def drain(self, oid: str, kind: str, mark: int | None) -> tuple[list[Any], str | None]:
        """Every comment on one object since ``mark`` (less the overlap), newest first, and a
        note when the read stopped before the end."""
        base: dict[str, Any] = {"fields": FIELDS, "filter": "stream",
                                "order": "reverse_chronological", "limit": PAGE_SIZE}
        if kind == "live video":
            base["live_filter"] = "no_filter"  # the default hides "low quality" comments
        floor = None if mark is None else mark - OVERLAP
        if floor is not None:
            base["since"] = floor
        args: dict[str, Any] = dict(base)
        comments: list[Any] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.call(f"{kind} {oid}", partial(_comments, oid=oid, args=args))
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(f"Facebook sent a page without a 'data' list ({kind} {oid})")
            comments += data
            paging = page.get("paging")
            after = paging.get("next") if isinstance(paging, dict) else None
            # Older than the floor: Facebook ignored ``since``, and the rest is older still.
            older = floor is not None and any(
                t < floor for c in data if (t := _unix(c)) is not None)
            if not isinstance(after, str) or not after or older:
                return comments, None
            if after in seen:
                break
            seen.add(after)
            query = {k: v[-1] for k, v in parse_qs(urlsplit(after).query).items()}
            query.pop("access_token", None)
            args = {**base, **query}
        # Newest first, so what is left unread is the oldest. The checkpoint still moves to the
        # newest comment: keeping up with the meeting beats re-reading the same pages forever.
        note = (f"read only the newest {len(seen) + 1} pages of {kind} {oid}; older comments "
                "were skipped" + (" (Facebook repeated a page)" if after in seen else ""))
        log.warning("poller facebook: %s", note)
        return comments, note

    def describe(self, item: Any) -> str:
        if not isinstance(item, dict):
            return "item"
        comment = item.get("comment")
        cid = comment.get("id") if isinstance(comment, dict) else None
        what = f"comment {cid}" if isinstance(cid, str) else "comment without an id"
        return f"{what} on {item.get('object_id')}"

    def parse(self, item: dict[str, Any]) -> Post | None:
        comment = item.get("comment")
        if not isinstance(comment, dict):
            raise InvalidPost(f"not a JSON object: {str(comment)[:80]}")
        cid = _text(comment, "id")
        message = _text(comment, "message")
        posted_at = _time(_text(comment, "created_time"))
        author = comment.get("from")
        name = COMMENTER
        if author is not None:
            if not isinstance(author, dict):
                raise InvalidPost(f"field 'from': not a JSON object: {str(author)[:80]}")
            if author.get("name") is not None:
                name = _text(author, "name") or COMMENTER
        url = comment.get("permalink_url")
        if url is not None and not isinstance(url, str):
            raise InvalidPost(f"field 'permalink_url': expected text, got {type(url).__name__}")
        if not message.strip():
            return None  # a sticker or photo with no words
        if self.options.require_hashtag and not (self.matcher and
                                                 self.matcher.search(fold(message))):
            return None
        flags = ["reply"] if isinstance(comment.get("parent"), dict) else []
        return Post(platform="fb", native_id=cid, text=message, author_name=name,
                    url=url or f"https://www.facebook.com/{cid}", posted_at=posted_at,
                    raw=item, flags=flags)

    def check(self) -> str:
        """``GET /me`` with the Page token: who the token speaks for."""
        me = self.call("the token check", lambda graph: graph.get_object("me", fields="id,name"))
        who = f"{me.get('name', '?')!s} (id {me.get('id', '?')!s})"
        if not self.objects:
            raise SourceStopped(f"the Facebook token works for {who}, but [sources.facebook] "
                                "lists no live_video_ids or post_ids")
        return (f"the token works for {who} on Graph API "
                f"{self.options.graph_version}; reading comments on {len(self.objects)} "
                "object(s). If that name is not the Page's, this is a user token, not a Page "
                "token")


class _Unreadable(SourceStopped):
    """One configured object cannot be read (wrong id, deleted, not the Page's)."""


def _comments(graph: facebook.GraphAPI, oid: str, args: dict[str, Any]) -> Any:
    return graph.get_connections(oid, "comments", **args)


def load_marks(text: str | None) -> dict[str, int]:
    """The checkpoint: object id -> newest created_time seen (Unix seconds)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return {str(k): int(v) for k, v in data.items()}
    except (ValueError, TypeError) as exc:
        # Re-reading every comment is safe (ids dedupe), so start again rather than stop.
        log.warning("poller facebook: unreadable checkpoint %r (%s); reading all comments",
                    text[:200], exc)
        return {}


def usage(headers: Any) -> tuple[int | None, float]:
    """From the usage headers: the highest share of the budget used (percent), and the minutes
    Facebook says until access is regained (0 when not throttled)."""
    highest: int | None = None
    wait = 0.0
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        try:
            data = json.loads(headers[name]) if name in headers else None
        except (TypeError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        entries: list[Any] = [data]
        if name == "x-business-use-case-usage":
            entries = [e for v in data.values() if isinstance(v, list) for e in v]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_time", "total_cputime"):
                value = entry.get(key)
                if isinstance(value, int | float):
                    highest = max(highest or 0, int(value))
            regain = entry.get("estimated_time_to_regain_access")
            if isinstance(regain, int | float):
                wait = max(wait, float(regain))
    return highest, wait


def _unix(comment: Any) -> int | None:
    value = comment.get("created_time") if isinstance(comment, dict) else None
    try:
        return int(datetime.fromisoformat(value).timestamp()) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(data: dict[str, Any], name: str) -> str:
    if name not in data:
        raise InvalidPost(f"field '{name}' is missing")
    value = data[name]
    if not isinstance(value, str):
        raise InvalidPost(f"field '{name}': expected text, got {type(value).__name__}")
    return value


def _time(value: str) -> str:
    try:
        return datetime.fromisoformat(value).astimezone(UTC).isoformat()
    except ValueError as exc:
        raise InvalidPost(f"field 'created_time': not a time: {value[:40]!r}") from exc
