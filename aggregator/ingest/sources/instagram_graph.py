"""Instagram's graph backend: the official Instagram Graph API, through graph.py's client.

It needs a token in INSTAGRAM_GRAPH_TOKEN for a professional account linked to a Facebook Page,
and reads comments on the organisation's own media (``media_ids``) and, with Instagram Public
Content Access, hashtag search (``ig_hashtag_search`` once, then ``recent_media``, which never
names other people's accounts). Items go to ``InstagramSource.parse`` as kind "graph_comment" or
"graph_media".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests

from aggregator.ingest.sources import SourceError, SourceStopped
from aggregator.ingest.sources.graph import GraphClient, Wording

if TYPE_CHECKING:
    from aggregator.ingest.sources.instagram import InstagramSource

TOKEN_ENV = "INSTAGRAM_GRAPH_TOKEN"
# The Graph API answers within seconds or not at all; the poller retries with backoff.
TIMEOUT = 30.0
GRAPH_PAGE = 50  # recent_media's maximum page size
# Pages per object per cycle: recent_media is not chronological, so it cannot stop early; a
# meeting's hashtag rarely fills more than a page or two in the 24 hours it covers.
GRAPH_MAX_PAGES = 4
# recent_media only returns the last 24 hours; ids are remembered a little longer.
RECENT_MEDIA_MEMORY = 25 * 3600
# Meta's limits are rolling hours; without an estimate in the usage headers, retry after this.
GRAPH_RATE_PAUSE = 15 * 60
# Every field read is named: the Graph API returns only "id" for a field not asked for. A
# comment's replies are not on the media's comments edge, only on each comment's replies edge:
# the first page comes expanded with the comment, further pages are read from the edge.
REPLY_FIELDS = "id,text,timestamp,username,from,parent_id"
COMMENT_FIELDS = f"{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}"
MEDIA_FIELDS = "id,caption,timestamp,permalink,media_type"
WORDING = Wording(
    no_token="{env} is not set: a token for the Instagram professional account (see README, "
             "Instagram Graph API)",
    not_json="the Instagram Graph API sent a reply that is not JSON ({said})",
    unreadable="the Instagram Graph API sent a reply that is not JSON: {exc}",
    timeout="the Instagram Graph API did not answer in time: {exc}",
    unreachable="could not reach the Instagram Graph API: {exc}",
    not_object="the Instagram Graph API sent a reply that is not a JSON object",
    token="the Instagram Graph token was refused (code {code}: {said}): make a new long-lived "
          "token and set {env}",
    permission="a permission is missing (code {code}: {said}): the token needs instagram_basic, "
               "instagram_manage_comments and pages_read_engagement; hashtag search also needs "
               "the Instagram Public Content Access feature",
    throttled="Instagram Graph API rate limit (code {code}: {said})",
    no_object="Instagram refused the request (code {code}: {said}): check ig_user_id, "
              "media_ids and hashtags in [sources.instagram]",
    other="Instagram Graph API error {code}: {said}",
)


class GraphBackend:
    """Reads the Instagram Graph API for InstagramSource (backend = "graph")."""

    def __init__(self, source: InstagramSource, session: requests.Session | None) -> None:
        self.source = source
        self.options = source.options
        self.client = GraphClient(token_env=TOKEN_ENV, version=self.options.graph_version,
                                  timeout=TIMEOUT, wording=WORDING, clock=source.clock,
                                  throttle_wait=GRAPH_RATE_PAUSE, session=session)
        self.complete = False  # whether the last pages() reached the end

    def get(self, object_id: str, **args: Any) -> dict[str, Any]:
        """One object (``GET /{object_id}``)."""
        return self.client.call(object_id, lambda graph: graph.get_object(object_id, **args))

    def pages(self, object_id: str, edge: str, **args: Any) -> Iterator[list[Any]]:
        """Up to GRAPH_MAX_PAGES pages of ``data``; ``self.complete`` says if it reached the end."""
        self.complete = False
        for _ in range(GRAPH_MAX_PAGES):
            page = self.client.call(f"{object_id}/{edge}", lambda graph: graph.get_connections(
                object_id, edge, **args))
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(f"the Instagram Graph API sent {edge} without a data list")
            yield data
            paging = page.get("paging")
            paging = paging if isinstance(paging, dict) else {}
            cursors = paging.get("cursors")
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not data or not paging.get("next") or not after:
                self.complete = True
                return
            args["after"] = after
        self.complete = False  # set again: a nested read (a comment's replies) may have set it

    def fetch(self, part: dict[str, Any]) -> tuple[list[Any], list[str], dict[str, Any]]:
        if not self.options.media_ids and not self.source.tags:
            raise SourceStopped("nothing to read: set media_ids and/or hashtags")
        before = self.client.calls
        items: list[Any] = []
        gone: list[str] = []
        media = part.setdefault("media", {})
        for media_id in self.options.media_ids:
            found, deleted = self._comments(media_id, media.setdefault(media_id, {}))
            items += found
            gone += deleted
        if self.source.tags:
            if not self.options.ig_user_id:
                raise SourceStopped("set 'ig_user_id' in [sources.instagram]: the Instagram "
                                    "professional account's id, needed for hashtag search")
            for tag in self.source.tags:
                items += self._hashtag(tag, part)
        health: dict[str, Any] = {"posts_read": len(items),
                                  "requests": self.client.calls - before}
        usage, _ = self.client.usage()
        if usage is not None:
            health["api_usage_pct"] = usage
        return items, gone, health

    def _comments(self, media_id: str, part: dict[str, Any]) -> tuple[list[Any], list[str]]:
        if not part.get("permalink"):
            found = self.get(media_id, fields="id,permalink")
            permalink = found.get("permalink")
            part["permalink"] = permalink if isinstance(permalink, str) else ""
        seen = set(part.get("ids", []))
        present: set[str] = set()
        items: list[Any] = []
        replies_complete = True
        for page in self.pages(media_id, "comments", fields=COMMENT_FIELDS, limit=GRAPH_PAGE):
            for comment in page:
                replies, whole = self._replies(comment)
                replies_complete = replies_complete and whole
                for found, reply_to in [(comment, None), *replies]:
                    found_id = found.get("id") if isinstance(found, dict) else None
                    if isinstance(found_id, str):
                        present.add(found_id)
                        if found_id in seen:
                            continue
                    item = {"kind": "graph_comment", "media_id": media_id,
                            "permalink": part["permalink"], "comment": found}
                    if reply_to:
                        item["reply_to"] = reply_to
                    items.append(item)
        complete = self.complete and replies_complete
        return items, self.source.deletions(part, present, complete)

    def _replies(self, comment: Any) -> tuple[list[tuple[Any, str]], bool]:
        """The replies to one comment, each with the comment's id (the page that came with the
        comment, or when there are more, every page of its ``replies`` edge), and whether
        they were read to the end."""
        if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
            return [], True
        parent = comment["id"]
        nested = comment.get("replies")
        if not isinstance(nested, dict):
            return [], True
        paging = nested.get("paging")
        data = nested.get("data")
        whole = True
        if isinstance(paging, dict) and paging.get("next"):
            data = [r for page in self.pages(parent, "replies", fields=REPLY_FIELDS,
                                             limit=GRAPH_PAGE) for r in page]
            whole = self.complete
        return ([(reply, parent) for reply in data] if isinstance(data, list) else []), whole

    def _hashtag(self, tag: str, part: dict[str, Any]) -> list[Any]:
        user_id = self.options.ig_user_id
        ids = part.setdefault("hashtag_ids", {})
        if tag not in ids:  # each search counts towards 30 hashtags a week: do it once
            found = self.get("ig_hashtag_search", user_id=user_id, q=tag)
            data = found.get("data")
            if not isinstance(data, list) or not data or not isinstance(data[0], dict) \
                    or not isinstance(data[0].get("id"), str):
                raise SourceStopped(f"Instagram found no hashtag #{tag}")
            ids[tag] = data[0]["id"]
        now = self.source.clock()
        seen: dict[str, float] = dict(part.setdefault("hashtags", {}).get(tag, {}))
        items: list[Any] = []
        for page in self.pages(ids[tag], "recent_media", user_id=user_id, limit=GRAPH_PAGE,
                               fields=MEDIA_FIELDS):
            for media in page:
                media_id = media.get("id") if isinstance(media, dict) else None
                if isinstance(media_id, str):
                    if media_id in seen:
                        continue
                    seen[media_id] = now
                # The time first seen stands in for a missing timestamp.
                items.append({"kind": "graph_media", "tag": tag, "media": media,
                              "first_seen": now})
        part["hashtags"][tag] = {k: v for k, v in seen.items() if v >= now - RECENT_MEDIA_MEMORY}
        return items

    def check(self) -> str:
        if not self.options.ig_user_id:
            if not self.options.media_ids:
                raise SourceStopped("set 'ig_user_id' and/or 'media_ids' in [sources.instagram]")
            found = self.get(self.options.media_ids[0], fields="id,permalink,comments_count")
            return (f"token works; media {found.get('id')} has "
                    f"{found.get('comments_count')} comments")
        found = self.get(self.options.ig_user_id, fields="id,username")
        return f"token works for Instagram account @{found.get('username')}"
