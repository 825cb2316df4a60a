"""Facebook: comments on the meeting's live video(s) and post(s) through facebook-sdk's GraphAPI.

Each cycle reads ``/{object}/comments`` for every configured object with ``filter=stream`` (all
comments, replies included), newest first, 100 a page, and drains every page (``paging.next``).
Cursors do not survive between runs, so the checkpoint (``FacebookCheckpoint``) keeps the newest
``created_time`` seen per object (Unix seconds); the next cycle asks for comments ``since`` that
time minus an overlap, so a comment that becomes visible a little after newer ones is still read.
The overlap re-reads a few comments each cycle; their ids make that harmless (the store keeps
one question per id).

The client is graph.py's (shared with Instagram's graph backend): the version is set after
construction (``graph_version``, default v21.0), errors are classified by Facebook's
``error.code``, and the usage headers (``x-business-use-case-usage`` for Page tokens,
``x-app-usage``) pace the polls and fill the health record. The Page access token comes from
``FACEBOOK_PAGE_TOKEN``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import partial
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import facebook
from pydantic import Field

from aggregator.base.platforms import FACEBOOK
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import FacebookSettings, SourceSettings
from aggregator.core.normalise import (
    InvalidPost,
    fold,
    iso_time,
    optional_text,
    required_text,
    tag_matcher,
)
from aggregator.core.question import Post
from aggregator.ingest.sources import Batch, Checkpoint, Source, SourceError, SourceStopped
from aggregator.ingest.sources.graph import GraphClient, ObjectUnreadable, Wording

log = logging.getLogger("floor.sources.facebook")

TOKEN_ENV = "FACEBOOK_PAGE_TOKEN"
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
COMMENTER = "Facebook user"
WORDING = Wording(
    no_token="{env} is not set: put the Page access token in the environment (or the .env file)",
    not_json="Facebook sent an answer that is not JSON ({what}, {status})",
    unreadable="Facebook sent an unreadable answer ({what}, {status}): {exc}",
    timeout="Facebook did not answer within {timeout} s ({what})",
    unreachable="Facebook could not be reached ({what}): {exc}",
    not_object="Facebook sent an answer that is not a JSON object ({what}): {answer}",
    token="Page token expired or invalid (Facebook code {full}): make a new long-lived Page "
          "access token and set {env}. Facebook said: {said}",
    permission="the Page token lacks the permission {missing} (Facebook code {full}, {what}): "
               "grant it to the app and make a new Page token. Facebook said: {said}",
    permissions="pages_read_engagement and pages_read_user_content",
    throttled="Facebook rate limit (code {code}): {said}",
    no_object="Facebook cannot read the comments of {what} (code {full}): check the id in "
              "[sources.facebook] and that the token's Page owns it. Facebook said: {said}",
    other="Facebook error {full} ({what}): {said}",
)


class FacebookCheckpoint(Checkpoint):
    # Object id -> the newest created_time read on it (Unix seconds).
    since: dict[str, int] = Field(default_factory=dict)


class FacebookSource(Source):
    platform = FACEBOOK

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Any = time.time) -> None:
        super().__init__(settings, event)
        self.options = cast(FacebookSettings, self.settings)
        self.objects = ([(oid, "live video") for oid in self.options.live_video_ids]
                        + [(oid, "post") for oid in self.options.post_ids])
        self.matcher = tag_matcher(list(event.hashtags)) if event.hashtags else None
        self.clock = clock
        self.client = GraphClient(token_env=TOKEN_ENV, version=self.options.graph_version,
                                  timeout=TIMEOUT, wording=WORDING, clock=clock,
                                  throttle_wait=THROTTLE_WAIT)

    # -- the source interface ---------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        if not self.objects:
            raise SourceStopped("no live_video_ids or post_ids in [sources.facebook]: add the "
                                "meeting's live video or post")
        state = FacebookCheckpoint.read(checkpoint, self.name)
        marks = state.since
        items: list[dict[str, Any]] = []
        skipped: list[str] = []
        notes: list[str] = []
        busiest: int | None = None
        wait = 0.0
        for oid, kind in self.objects:
            try:
                comments, note = self.drain(oid, kind, marks.get(oid))
            except ObjectUnreadable as exc:
                skipped.append(str(exc))
                log.warning("poller facebook: %s", exc)
                continue
            notes += [note] if note else []
            pct, regain = self.client.usage()
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
        return Batch(items, state.dump(), next_poll_in=next_poll,
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
            page = self.client.call(f"{kind} {oid}", partial(_comments, oid=oid, args=args))
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
        cid = required_text(comment, "id")
        message = required_text(comment, "message")
        posted_at = iso_time(required_text(comment, "created_time"), "created_time")
        author = comment.get("from")
        name = COMMENTER
        if author is not None:
            if not isinstance(author, dict):
                raise InvalidPost(f"field 'from': not a JSON object: {str(author)[:80]}")
            name = optional_text(author, "name") or COMMENTER
        url = optional_text(comment, "permalink_url")
        if not message.strip():
            return None  # a sticker or photo with no words
        if self.options.require_hashtag and not (self.matcher and
                                                 self.matcher.search(fold(message))):
            return None
        flags = ["reply"] if isinstance(comment.get("parent"), dict) or _replies(url) else []
        return Post(platform=FACEBOOK.code, native_id=cid, text=message, author_name=name,
                    url=url or f"https://www.facebook.com/{cid}", posted_at=posted_at,
                    raw=item, flags=flags)

    def check(self) -> str:
        """``GET /me`` with the Page token: who the token speaks for."""
        me = self.client.call("the token check",
                              lambda graph: graph.get_object("me", fields="id,name"))
        who = f"{me.get('name', '?')!s} (id {me.get('id', '?')!s})"
        if not self.objects:
            raise SourceStopped(f"the Facebook token works for {who}, but [sources.facebook] "
                                "lists no live_video_ids or post_ids")
        return (f"the token works for {who} on Graph API "
                f"{self.options.graph_version}; reading comments on {len(self.objects)} "
                "object(s). If that name is not the Page's, this is a user token, not a Page "
                "token")


def _comments(graph: facebook.GraphAPI, oid: str, args: dict[str, Any]) -> Any:
    return graph.get_connections(oid, "comments", **args)


def _replies(permalink: str | None) -> bool:
    """Whether a comment's permalink is a reply's: Facebook adds ``reply_comment_id`` (and the
    ``parent`` field is left out when the token may not read the comment replied to)."""
    if not permalink:
        return False
    try:
        return bool(parse_qs(urlsplit(permalink).query).get("reply_comment_id"))
    except ValueError:
        return False


def _unix(comment: Any) -> int | None:
    value = comment.get("created_time") if isinstance(comment, dict) else None
    try:
        return int(datetime.fromisoformat(value).timestamp()) if isinstance(value, str) else None
    except ValueError:
        return None
