"""Bluesky: the event's hashtags through ``app.bsky.feed.searchPosts`` and the replies to the
trust's announcement posts, through the ``atproto`` SDK's ``Client``.

Why the search and not Jetstream (reasoned from their documentation; this was written offline):
Jetstream filters by collection and account only, never by content, so reading one hashtag
means taking in every post on the network (tens a second, all day) to keep a handful; it needs
a long-lived websocket, which the poller's fetch-a-batch loop does not have, and it is not part
of the atproto SDK. What it would give for free is deletions. The search takes the tag filter
on the server, pages by cursor, and resumes from ``since`` (the newest post seen, less an
overlap), so a restart or an outage loses nothing; posts' ids (their at:// URIs) make the
overlap harmless. What the search cannot
tell is a deletion: every ``recheck_interval`` the posts stored lately are asked for again with
``app.bsky.feed.getPosts`` (25 a request), and those Bluesky does not return in two checks
running are retracted.

Logging in: the account's handle and an app password (``BLUESKY_APP_PASSWORD``); the search
needs a logged-in account. The session is kept and refreshed by the SDK; an expired or revoked
session is logged in again once, and a refused password stops the source with one line until
the password changes. Rate limits: a 429 pauses the source until ``ratelimit-reset``.
Responses are read as JSON (``invoke_query``), not as the SDK's models, so one malformed post
is one dead letter rather than a failed page.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from atproto import Client, exceptions, models
from atproto_client.request import Request

from aggregator.base.environment import read_environment
from aggregator.base.platforms import BLUESKY
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import (
    AT_POST_URI,
    BLUESKY_POST_URL,
    BlueskySettings,
    SourceSettings,
)
from aggregator.core.normalise import (
    InvalidPost,
    expect_text,
    fold,
    iso_time,
    required_text,
    tag_matcher,
)
from aggregator.core.question import Post
from aggregator.ingest.sources import (
    Batch,
    Checkpoint,
    RateLimited,
    Source,
    SourceError,
    SourceStopped,
    missing_twice,
)

log = logging.getLogger("floor.sources.bluesky")

PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
# The most searchPosts returns per request.
PAGE_SIZE = 100
# Pages read per hashtag in one cycle at most; the cursor goes older, so what is left is old.
MAX_PAGES = 10
# Read again behind the newest post seen: the search's "since" is on sortAt, which can trail a
# post's indexing by a little.
OVERLAP = timedelta(minutes=5)
# Posts remembered for the deletion check, and how many are asked after at most per check.
RECENT_MAX = 500
RECHECK_MAX = 100
GET_POSTS_MAX = 25
# How deep the replies under an announcement are read.
THREAD_DEPTH = 10
TIMEOUT = 10.0
# A 429 without ratelimit-reset: wait out one 5-minute window.
RATE_WINDOW = 300.0
# Session errors that a new login mends (expired or revoked tokens).
SESSION_ERRORS = ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing")


class BlueskyCheckpoint(Checkpoint):
    """The newest post seen per hashtag, and the posts lately stored (for deletions)."""

    since: dict[str, str] = {}
    recent: list[str] = []
    # Posts the last check did not find: retracted only if the next does not either.
    missing: list[str] = []
    swept_at: float = 0.0


class BlueskySource(Source):
    platform = BLUESKY

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Any = time.time) -> None:
        super().__init__(settings, event)
        self.options = cast(BlueskySettings, self.settings)
        self.tags = self.options.hashtags or [t.lstrip("#") for t in event.hashtags]
        self.matcher = tag_matcher(["#" + tag for tag in self.tags]) if self.tags else None
        self.clock = clock
        self._client: Client | None = None
        # The fingerprint of a password Bluesky refused, and what it said: not sent again.
        self._refused: tuple[str, str] | None = None
        self._roots: dict[str, str] = {}  # announcement as configured -> its at:// URI
        self._headers: dict[str, Any] = {}

    @property
    def labels(self) -> dict[str, Any]:
        return {"account": self.options.handle}

    # -- talking to Bluesky -----------------------------------------------------------------

    def client(self) -> Client:
        if self._client is None:
            self._client = self.login()
        return self._client

    def login(self) -> Client:
        password = read_environment().token(PASSWORD_ENV)
        if not password:
            raise SourceStopped(f"{PASSWORD_ENV} is not set: make an app password for "
                                f"{self.options.handle} on bsky.app (Settings, Privacy and "
                                "security, App passwords) and put it in the environment")
        fingerprint = hashlib.sha256(password.encode()).hexdigest()
        if self._refused and self._refused[0] == fingerprint:
            raise SourceStopped(self._refused[1])
        client = Client(base_url=self.options.service, request=Request(timeout=TIMEOUT))
        try:
            client.login(self.options.handle, password, fetch_bsky_profile=False)
        except exceptions.UnauthorizedError as exc:
            self._refused = (fingerprint, self.refused_message(exc))
            raise SourceStopped(self._refused[1]) from exc
        except exceptions.AtProtocolError as exc:
            raise self.mapped(exc, "logging in") from exc
        log.info("poller bluesky: logged in as %s", self.options.handle)
        return client

    def refused_message(self, exc: Exception) -> str:
        said = f" ({_said(exc)})"
        return (f"Bluesky refused the app password of {self.options.handle}{said}: it may have "
                f"been revoked; make a new one and put it in {PASSWORD_ENV}")

    def query(self, nsid: str, model: Any, params: dict[str, Any]) -> dict[str, Any]:
        """One XRPC query as JSON; a dead session is logged in again once."""
        for attempt in (1, 2):
            client = self.client()
            try:
                response = client.invoke_query(nsid, params=models.get_or_create(params, model),
                                               output_encoding="application/json")
            except (exceptions.UnauthorizedError, exceptions.BadRequestError) as exc:
                if attempt == 1 and _error_name(exc) in SESSION_ERRORS:
                    log.warning("poller bluesky: the session ended (%s); logging in again",
                                _said(exc))
                    self._client = None
                    continue
                raise self.mapped(exc, nsid) from exc
            except exceptions.LoginRequiredError:
                self._client = None
                if attempt == 1:
                    continue
                raise SourceError("Bluesky asked for a login again right after one") from None
            except exceptions.AtProtocolError as exc:
                raise self.mapped(exc, nsid) from exc
            if "ratelimit-remaining" in response.headers:
                self._headers = response.headers
            if not isinstance(response.content, dict):
                raise SourceError(f"Bluesky sent {nsid} an answer that is not a JSON object: "
                                  f"{str(response.content)[:120]}")
            return response.content
        raise AssertionError("unreachable")

    def mapped(self, exc: exceptions.AtProtocolError, doing: str) -> SourceError:
        """An SDK error as the poller's kind of failure."""
        if isinstance(exc, exceptions.RateLimitExceededError):
            reset = _int_header(exc.response.headers if exc.response else {}, "ratelimit-reset")
            until = float(reset) if reset else self.clock() + RATE_WINDOW
            return RateLimited(until, f"Bluesky rate limit reached ({doing}, 429)")
        if isinstance(exc, exceptions.InvokeTimeoutError):
            return SourceError(f"Bluesky did not answer within {TIMEOUT:.0f} s ({doing})")
        if isinstance(exc, exceptions.NetworkError) and exc.response is None:
            return SourceError(f"Bluesky could not be reached ({doing}): {exc.__cause__ or exc}")
        if isinstance(exc, exceptions.UnauthorizedError):
            return SourceStopped(f"Bluesky refused {doing} ({_said(exc)}); check that "
                                 f"{self.options.handle} can log in and is not suspended")
        if isinstance(exc, exceptions.BadRequestError):
            return SourceError(f"Bluesky refused {doing} ({_said(exc)})")
        return SourceError(f"Bluesky answered {doing} with {_said(exc)}")

    # -- the source interface ---------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        state = BlueskyCheckpoint.read(checkpoint, self.name)
        items: list[dict[str, Any]] = []
        for tag in self.tags:
            items += self.search(tag, state)
        problems = []
        for announcement in self.options.announcement_posts:
            try:
                items += self.replies(announcement)
            except _Gone as exc:
                problems.append(str(exc))
        retracted: list[str] = []
        if self.clock() - state.swept_at >= self.options.recheck_interval:
            retracted = self.sweep(state)  # before this cycle's posts: they were just seen
            state.swept_at = self.clock()
        seen = set(state.recent)
        for item in items:
            uri = item["post"].get("uri") if isinstance(item.get("post"), dict) else None
            if isinstance(uri, str) and uri not in seen:
                seen.add(uri)
                state.recent.append(uri)
        state.recent = state.recent[-RECENT_MAX:]
        health: dict[str, Any] = {"detail": "; ".join(problems) or None}
        for field, header in (("rate_remaining", "ratelimit-remaining"),
                              ("rate_limit", "ratelimit-limit")):
            value = _int_header(self._headers, header)
            if value is not None:
                health[field] = value
        return Batch(items, state.dump(), retracted=retracted, health=health)

    def search(self, tag: str, state: BlueskyCheckpoint) -> list[dict[str, Any]]:
        """Posts tagged ``tag`` since the newest one seen (less OVERLAP), newest first."""
        known = state.since.get(tag)
        since = (_time(known) - OVERLAP if known
                 else datetime.fromtimestamp(self.clock(), UTC)
                 - timedelta(hours=self.options.lookback_hours))
        params: dict[str, Any] = {"q": f"#{tag}", "tag": [tag], "sort": "latest",
                                  "since": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                  "limit": PAGE_SIZE}
        items: list[dict[str, Any]] = []
        newest = known
        for _ in range(MAX_PAGES):
            page = self.query("app.bsky.feed.searchPosts", models.AppBskyFeedSearchPosts.Params,
                              params)
            posts = page.get("posts")
            if not isinstance(posts, list):
                raise SourceError(f"Bluesky sent a search page without a list of posts: "
                                  f"{str(page)[:120]}")
            for post in posts:
                items.append({"post": post, "tag": tag})
                indexed = post.get("indexedAt") if isinstance(post, dict) else None
                if isinstance(indexed, str) and _readable_time(indexed) and (
                        newest is None or _time(indexed) > _time(newest)):
                    newest = indexed
            cursor = page.get("cursor")
            if not posts or not isinstance(cursor, str) or not cursor:
                break
            params["cursor"] = cursor
        else:
            # The cursor goes older: what is left is the oldest, and the meeting is now.
            log.warning("poller bluesky: read the newest %d pages of #%s; older posts skipped",
                        MAX_PAGES, tag)
        if newest:
            state.since[tag] = newest
        return items

    def root(self, announcement: str) -> str:
        """The at:// URI of an announcement given as a link or a URI."""
        if announcement not in self._roots:
            found = AT_POST_URI.match(announcement) or BLUESKY_POST_URL.match(announcement)
            if found is None:  # the settings refuse anything else
                raise _Gone(f"{announcement!r} is not a Bluesky post")
            actor, rkey = found.group(1), found.group(2)
            if not actor.startswith("did:"):
                answer = self.query("com.atproto.identity.resolveHandle",
                                    models.ComAtprotoIdentityResolveHandle.Params,
                                    {"handle": actor})
                actor = expect_text(answer.get("did"), "did")
            self._roots[announcement] = f"at://{actor}/app.bsky.feed.post/{rkey}"
        return self._roots[announcement]

    def replies(self, announcement: str) -> list[dict[str, Any]]:
        """Every reply under an announcement, at any depth, but the announcer's own."""
        try:
            uri = self.root(announcement)
            page = self.query("app.bsky.feed.getPostThread",
                              models.AppBskyFeedGetPostThread.Params,
                              {"uri": uri, "depth": THREAD_DEPTH, "parent_height": 0})
        except SourceError as exc:
            if "NotFound" in str(exc) or "not found" in str(exc).lower():
                raise _Gone(f"the announcement {announcement} is gone ({exc})") from exc
            raise
        thread = page.get("thread")
        if not isinstance(thread, dict) or not isinstance(thread.get("post"), dict):
            raise _Gone(f"Bluesky did not send the thread of {announcement}")
        author = thread["post"].get("author")
        owner = author.get("did") if isinstance(author, dict) else None
        found: list[dict[str, Any]] = []
        stack = list(thread.get("replies") or [])
        while stack:
            node = stack.pop()
            if not isinstance(node, dict) or "post" not in node:
                continue  # a notFoundPost or blockedPost
            post = node["post"]
            by = post.get("author") if isinstance(post, dict) else None
            if not (isinstance(by, dict) and owner and by.get("did") == owner):
                found.append({"post": post, "reply_to": uri})
            stack += node.get("replies") or []
        return found

    def sweep(self, state: BlueskyCheckpoint) -> list[str]:
        """The question ids of recent posts that Bluesky did not return in two checks running
        (deleted)."""
        asked = state.recent[-RECHECK_MAX:]
        absent: list[str] = []
        for start in range(0, len(asked), GET_POSTS_MAX):
            chunk = asked[start:start + GET_POSTS_MAX]
            page = self.query("app.bsky.feed.getPosts", models.AppBskyFeedGetPosts.Params,
                              {"uris": chunk})
            posts = page.get("posts")
            if not isinstance(posts, list):
                raise SourceError(f"Bluesky sent getPosts without a list of posts: "
                                  f"{str(page)[:120]}")
            present = {p.get("uri") for p in posts if isinstance(p, dict)}
            absent += [uri for uri in chunk if uri not in present]
        gone, state.missing = missing_twice(absent, state.missing)
        if gone:
            state.recent = [uri for uri in state.recent if uri not in set(gone)]
            log.info("poller bluesky: %d post(s) deleted by their authors", len(gone))
        return [BLUESKY.question_id(uri) for uri in gone]

    def describe(self, item: Any) -> str:
        post = item.get("post") if isinstance(item, dict) else None
        uri = post.get("uri") if isinstance(post, dict) else None
        return f"post {uri}" if isinstance(uri, str) else "post without a uri"

    def parse(self, item: dict[str, Any]) -> Post | None:
        post = item.get("post")
        if not isinstance(post, dict):
            raise InvalidPost(f"not a JSON object: {str(post)[:80]}")
        uri = required_text(post, "uri")
        found = AT_POST_URI.match(uri)
        if not found:
            raise InvalidPost(f"field 'uri': not a post's at:// URI: {uri[:80]!r}")
        record = post.get("record")
        if not isinstance(record, dict):
            raise InvalidPost("field 'record': expected a JSON object")
        text = _linked_text(required_text(record, "text", "record.text"), record.get("facets"))
        posted_at = iso_time(required_text(record, "createdAt", "record.createdAt"),
                             "record.createdAt")
        author = post.get("author")
        if not isinstance(author, dict):
            raise InvalidPost("field 'author': expected a JSON object")
        handle = required_text(author, "handle", "author.handle")
        name = author.get("displayName")
        name = expect_text(name, "author.displayName") if name is not None else ""
        if not text.strip():
            return None  # an image or a quote with no words: nothing to ask
        if "tag" in item and not self.tagged(text, record):
            return None
        flags = ["reply"] if isinstance(record.get("reply"), dict) else []
        actor = handle if handle and handle != "handle.invalid" else found.group(1)
        url = f"https://bsky.app/profile/{actor}/post/{found.group(2)}"
        return Post(platform=BLUESKY.code, native_id=uri, text=text, author_name=name or handle,
                    author_handle=handle, url=url, posted_at=posted_at, raw=item,
                    flags=flags)

    def tagged(self, text: str, record: dict[str, Any]) -> bool:
        """Whether a post carries one of the event's hashtags: in its words, its tag facets or
        its tags field (what the search's tag filter reads)."""
        wanted = {fold(tag) for tag in self.tags}
        tags = [t for t in record.get("tags") or [] if isinstance(t, str)]
        for facet in record.get("facets") or []:
            for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
                if isinstance(feature, dict) and isinstance(feature.get("tag"), str):
                    tags.append(feature["tag"])
        if any(fold(tag.lstrip("#")) in wanted for tag in tags):
            return True
        return bool(self.matcher and self.matcher.search(fold(text)))

    def check(self) -> str:
        """Logs in, then one search of the last hour (at most 1 post)."""
        self.client()
        if not self.tags:
            return f"logged in as {self.options.handle}"
        since = datetime.fromtimestamp(self.clock() - 3600, UTC)
        page = self.query("app.bsky.feed.searchPosts", models.AppBskyFeedSearchPosts.Params,
                          {"q": f"#{self.tags[0]}", "tag": [self.tags[0]], "sort": "latest",
                           "since": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "limit": 1})
        posts = page.get("posts") if isinstance(page.get("posts"), list) else []
        left = _int_header(self._headers, "ratelimit-remaining")
        rate = f"; {left} requests left in this rate window" if left is not None else ""
        return (f"logged in as {self.options.handle} and the search works "
                f"({'a post' if posts else 'no post'} tagged #{self.tags[0]} in the last "
                f"hour{rate})")


class _Gone(SourceError):
    """An announcement post that cannot be read (deleted): said in the health record."""


def _linked_text(text: str, facets: Any) -> str:
    """The post's text with each link's shortened words replaced by where it really goes: a
    post may show one address and link to another. Facets index UTF-8 bytes."""
    if not isinstance(facets, list):
        return text
    data = text.encode("utf-8")
    links = []
    for facet in facets:
        index = facet.get("index") if isinstance(facet, dict) else None
        features = facet.get("features") if isinstance(facet, dict) else None
        if not isinstance(index, dict) or not isinstance(features, list):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        uri = next((f.get("uri") for f in features if isinstance(f, dict)
                    and isinstance(f.get("uri"), str)), None)
        if (isinstance(start, int) and isinstance(end, int) and uri
                and 0 <= start < end <= len(data)):
            links.append((start, end, uri))
    for start, end, uri in sorted(links, reverse=True):
        shown = data[start:end].decode("utf-8", "replace")
        # A shortened address becomes the whole one; words (or another address) that link
        # somewhere are kept, with where they go after them.
        said = uri if shown.rstrip(".…") in uri else f"{shown} ({uri})"
        data = data[:start] + said.encode("utf-8") + data[end:]
    return data.decode("utf-8", "replace")


def _error_name(exc: exceptions.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    return str(getattr(content, "error", "") or "")


def _said(exc: Exception | None) -> str:
    if isinstance(exc, exceptions.RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        name, message = getattr(content, "error", None), getattr(content, "message", None)
        words = ": ".join(str(w) for w in (name, message) if w)
        return f"{exc.response.status_code} {words}".strip()
    return str(exc) if exc is not None else ""


def _readable_time(value: str) -> bool:
    try:
        _time(value)
    except ValueError:
        return False
    return True


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(headers[name]) if headers and name in headers else None
    except (TypeError, ValueError):
        return None
