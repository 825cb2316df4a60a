"""X (Twitter): recent search for the event's hashtags through tweepy's v2 ``Client``.

Each cycle searches ``(#TAG1 OR #TAG2) -is:retweet`` newest first, from the ``since_id``
checkpoint (exclusive), and follows ``next_token`` pages (which go *older*) to the end. Only then
does the checkpoint move to the first page's ``meta.newest_id``, in the same atomic step that
stores the posts; a cycle that fails half-way replays from the old ``since_id``, and ids make
that harmless.
A ``since_id`` older than X's 7-day window is refused with a 400; the source then starts again
from ``start_time`` (just inside the window).

X bills reads per post, so the checkpoint is a small JSON object that also carries the posts read
and the estimated spend: the count survives restarts, and a cycle that could take the spend past
``budget_usd`` is refused before any request is made (SourceStopped, for a person to decide).

Errors: 429 pauses the source until ``x-rate-limit-reset``; 401/403 stop it with a plain message
(403 code 453 means the access tier has no recent search); 5xx, timeouts and unreadable pages are
retried with backoff. The bearer token comes from ``X_BEARER_TOKEN``.

Responses are taken as ``requests.Response`` rather than tweepy's ``Response`` tuple: tweepy
builds a ``Tweet`` for every post of a page and one post without an ``id`` or ``text`` would
fail the whole page, where it should become one dead letter; the raw page also gives the
``x-rate-limit-*`` headers of successful calls, which the health record shows.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import requests
import tweepy
from pydantic import Field, PrivateAttr, ValidationError

from aggregator.base.environment import read_environment
from aggregator.base.platforms import X
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import SourceSettings, XSettings
from aggregator.core.normalise import InvalidPost, fold, iso_time, required_text, tag_matcher
from aggregator.core.question import Post
from aggregator.ingest.sources import (
    Batch,
    Checkpoint,
    RateLimited,
    Source,
    SourceError,
    SourceStopped,
)

log = logging.getLogger("floor.sources.x")

TOKEN_ENV = "X_BEARER_TOKEN"
# The most X returns per request; fewer, larger pages are fewer requests for the same posts.
PAGE_SIZE = 100
# Just inside the 7-day window of recent search, for a first cycle or a since_id X refuses.
LOOKBACK = 6 * 86400 + 23 * 3600
# X's limit on the length of a recent-search query (Basic/pay-per-use access).
MAX_QUERY = 512
# A 429 without x-rate-limit-reset: wait out one whole 15-minute rate window.
RATE_WINDOW = 900.0
# Pages read in one cycle at most (20,000 posts, $100 at $0.005: the budget stops it first).
MAX_PAGES = 200
# Without a timeout tweepy's session waits forever on a silent connection.
TIMEOUT = 10.0
# The fields a question needs: the post, its author (expanded), time, language, thread, and the
# full text of long posts ("note_tweet"; ``text`` is cut at 280 characters for those).
TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "lang", "note_tweet",
                "referenced_tweets"]
USER_FIELDS = ["username", "name"]
DIGITS = re.compile(r"^[0-9]{1,25}$")


@dataclass
class Usage:
    """Posts and authors read, and what X will bill for them."""

    posts: int = 0
    users: int = 0
    spend: float = 0.0

    def add(self, other: Usage) -> None:
        self.posts += other.posts
        self.users += other.users
        self.spend += other.spend


class XCheckpoint(Checkpoint):
    """The newest post read and, for the budget, everything read and billed so far."""

    since_id: str | None = Field(default=None, pattern=DIGITS.pattern)
    posts_read: int = Field(default=0, ge=0)
    users_read: int = Field(default=0, ge=0)
    spend_usd: float = Field(default=0.0, ge=0)
    _usage: Usage = PrivateAttr(default_factory=Usage)

    def model_post_init(self, context: Any) -> None:
        self._usage = Usage(self.posts_read, self.users_read, self.spend_usd)

    @property
    def usage(self) -> Usage:
        return self._usage

    @classmethod
    def load(cls, text: str | None) -> XCheckpoint:
        if text and DIGITS.match(text):  # a bare since_id, set by hand
            return cls(since_id=text)
        try:
            return cls.parse(text)
        except ValidationError as exc:
            # Starting again from zero would forget the spend and so the budget: ask a person.
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            said = f"{where}: {problem['msg']}" if where else problem["msg"]
            raise SourceStopped(f"the stored X checkpoint cannot be read ({said}): "
                                f"{str(text)[:200]!r}") from exc

    def dump(self) -> str:
        self.posts_read, self.users_read = self._usage.posts, self._usage.users
        self.spend_usd = round(self._usage.spend, 6)
        return super().dump()


class XSource(Source):
    platform = X

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Any = time.time) -> None:
        super().__init__(settings, event)
        self.options = cast(XSettings, self.settings)
        self.tags = self.options.hashtags or list(event.hashtags)
        self.matcher = tag_matcher(self.tags)
        ors = " OR ".join(self.tags)
        self.query = f"({ors}) -is:retweet" if len(self.tags) > 1 else f"{ors} -is:retweet"
        self.clock = clock
        self._client: tweepy.Client | None = None
        # Posts read by cycles that failed half-way: billed, but in no stored checkpoint yet.
        self._unsaved = Usage()

    # -- talking to X -----------------------------------------------------------------------

    def client(self) -> tweepy.Client:
        if self._client is None:
            token = read_environment().token(TOKEN_ENV)
            if not token:
                raise SourceStopped(f"{TOKEN_ENV} is not set: put the X app's bearer token in "
                                    "the environment (or the .env file)")
            client = tweepy.Client(bearer_token=token, wait_on_rate_limit=False,
                                   return_type=requests.Response)
            client.session = _TimeoutSession(TIMEOUT)
            self._client = client
        return self._client

    def search(self, **params: Any) -> tuple[dict[str, Any], Any]:
        """One recent-search request -> (page, response headers), errors mapped for the poller."""
        if len(self.query) > MAX_QUERY:
            raise SourceStopped(f"the X search query is {len(self.query)} characters, over X's "
                                f"limit of {MAX_QUERY}: use fewer hashtags")
        try:
            response = self.client().search_recent_tweets(
                self.query, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
                user_fields=USER_FIELDS, **params)
        except tweepy.TooManyRequests as exc:
            raise self.rate_limited(exc) from exc
        except tweepy.Unauthorized as exc:
            raise SourceStopped(f"X refused the bearer token (401 Unauthorized): check "
                                f"{TOKEN_ENV}; it may have been regenerated or revoked") from exc
        except tweepy.Forbidden as exc:
            raise SourceStopped(_forbidden(exc)) from exc
        except tweepy.BadRequest as exc:
            if _mentions(exc, "since_id"):
                raise _StaleSinceId(str(exc)) from exc
            raise SourceStopped(f"X refused the search ({_said(exc)}); check [sources.x] "
                                f"hashtags; the query was {self.query!r}") from exc
        except tweepy.TwitterServerError as exc:
            raise SourceError(f"X is failing ({_said(exc)})") from exc
        except tweepy.HTTPException as exc:
            raise SourceError(f"X answered {_said(exc)}") from exc
        except requests.Timeout as exc:
            raise SourceError(f"X did not answer within {TIMEOUT:.0f} s") from exc
        except requests.RequestException as exc:
            raise SourceError(f"X could not be reached: {exc}") from exc
        try:
            page = response.json()
        except ValueError as exc:
            raise SourceError(f"X sent a page that is not JSON: {response.text[:120]!r}") from exc
        if not isinstance(page, dict):
            raise SourceError(f"X sent a page that is not a JSON object: {str(page)[:120]}")
        return page, response.headers

    def rate_limited(self, exc: tweepy.TooManyRequests) -> SourceError:
        body = _body(exc)
        if str(body.get("type", "")).endswith("usage-capped"):
            return SourceStopped("X's monthly post cap for this app is used up (429 "
                                 "usage-capped): raise the cap or wait for the next month")
        if exc.reset_time is not None:
            return RateLimited(float(exc.reset_time), "X rate limit reached (429)")
        return RateLimited(self.clock() + RATE_WINDOW,
                           "X rate limit reached (429, no reset time given)")

    # -- the source interface ---------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        state = XCheckpoint.load(checkpoint)
        state.usage.add(self._unsaved)
        cycle = Usage()
        try:
            return self._cycle(state, cycle)
        except BaseException:
            self._unsaved.add(cycle)
            raise

    def _cycle(self, state: XCheckpoint, cycle: Usage) -> Batch:
        since_id, next_token, newest = state.since_id, None, None
        items: list[dict[str, Any]] = []
        pages, headers, tokens = 0, None, set()
        detail: str | None = None  # why a cycle ended early; None clears an old one
        while True:
            if not self.affordable(state.usage, cycle):
                if pages == 0:
                    raise SourceStopped(self.budget_message(state.usage))
                # Keep the old since_id: nothing is skipped if the budget is raised.
                detail = (f"stopped a cycle after {_pages(pages)}: "
                          f"{self.budget_message(state.usage, cycle)}")
                log.warning("poller x: %s", detail)
                newest = since_id = state.since_id
                break
            params: dict[str, Any] = {"max_results": PAGE_SIZE, "next_token": next_token}
            if since_id:
                params["since_id"] = since_id
            else:
                params["start_time"] = datetime.fromtimestamp(self.clock() - LOOKBACK, UTC)
            try:
                page, headers = self.search(**params)
            except _StaleSinceId as exc:
                if pages or not since_id:
                    raise SourceError(f"X refused the paging of a search: {exc}") from exc
                log.warning("poller x: since_id %s is outside X's 7-day window; starting "
                            "again from 7 days ago", since_id)
                since_id = None
                continue
            pages += 1
            posts, users = self.items(page)
            items += posts
            cycle.add(Usage(len(posts), users, len(posts) * self.options.cost_per_post_usd
                            + users * self.options.cost_per_user_usd))
            meta = page.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            if pages == 1:
                newest = _newest(meta, posts)
            next_token = meta.get("next_token")
            if not next_token:
                break
            if next_token in tokens or pages >= MAX_PAGES:
                # Pages go older: what is left unread is the oldest. Taking the newest as the
                # checkpoint keeps up with the meeting rather than re-reading (and paying) forever.
                detail = (f"read only the newest {_pages(pages)} of the search; older posts "
                          "were skipped" + (" (X repeated a page)" if next_token in tokens
                                            else ""))
                log.warning("poller x: %s", detail)
                break
            tokens.add(next_token)
        self._unsaved = Usage()
        state.usage.add(cycle)
        state.since_id = newest or since_id  # None after a refused since_id: start_time next
        return Batch(items, state.dump(), next_poll_in=self.next_poll_in(headers),
                     health={**self.health(state.usage, headers), "detail": detail})

    def items(self, page: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """The page's posts, each with its author (None when X could not give it: a deleted or
        suspended account), and the number of authors read."""
        data = page.get("data", [])
        if not isinstance(data, list):
            raise SourceError(f"X sent a page whose 'data' is not a list: {str(data)[:120]}")
        includes = page.get("includes")
        users = includes.get("users", []) if isinstance(includes, dict) else []
        users = users if isinstance(users, list) else []
        by_id = {u["id"]: u for u in users if isinstance(u, dict) and isinstance(u.get("id"), str)}
        posts = []
        for tweet in data:
            author_id = tweet.get("author_id") if isinstance(tweet, dict) else None
            author = by_id.get(author_id) if isinstance(author_id, str) else None
            posts.append({"tweet": tweet, "author": author})
        return posts, len(users)

    def affordable(self, spent: Usage, cycle: Usage) -> bool:
        """Could one more page (PAGE_SIZE posts, each with a new author) stay in budget?"""
        return spent.spend + cycle.spend + self.page_cost <= self.options.budget_usd + 1e-9

    @property
    def page_cost(self) -> float:
        return PAGE_SIZE * (self.options.cost_per_post_usd + self.options.cost_per_user_usd)

    def budget_message(self, spent: Usage, cycle: Usage | None = None) -> str:
        total = Usage()
        total.add(spent)
        if cycle:
            total.add(cycle)
        return (f"budget of ${self.options.budget_usd:,.2f} reached: ${total.spend:,.2f} spent "
                f"on {total.posts:,} posts, and one more page could cost up to "
                f"${self.page_cost:,.2f}; raise [sources.x] "
                "budget_usd to go on")

    def next_poll_in(self, headers: Any) -> float | None:
        """Wait for the rate window to reset when the last call used it up, else the interval."""
        remaining = _int_header(headers, "x-rate-limit-remaining")
        reset = _int_header(headers, "x-rate-limit-reset")
        if remaining == 0 and reset is not None:
            return max(self.interval, reset - self.clock() + 1)
        return None

    def health(self, usage: Usage, headers: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"posts_read": usage.posts, "spend_usd": round(usage.spend, 4),
                                  "budget_usd": self.options.budget_usd}
        if self.options.cost_per_user_usd:
            record["users_read"] = usage.users
        for field, header in (("rate_remaining", "x-rate-limit-remaining"),
                              ("rate_limit", "x-rate-limit-limit")):
            value = _int_header(headers, header)
            if value is not None:
                record[field] = value
        return record

    def describe(self, item: Any) -> str:
        tweet = item.get("tweet") if isinstance(item, dict) else None
        tweet_id = tweet.get("id") if isinstance(tweet, dict) else None
        if tweet_id is None:
            return "post without an id"
        return f"post {tweet_id}" if isinstance(tweet_id, str) else f"post {tweet_id!r}"

    def parse(self, item: dict[str, Any]) -> Post | None:
        tweet = item.get("tweet")
        if not isinstance(tweet, dict):
            raise InvalidPost(f"not a JSON object: {str(tweet)[:80]}")
        tweet_id = required_text(tweet, "id")
        if not DIGITS.match(tweet_id):
            raise InvalidPost(f"field 'id': not a post id: {tweet_id[:40]!r}")
        text = required_text(tweet, "text")
        note = tweet.get("note_tweet")
        if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
            text = note["text"]
        posted_at = iso_time(required_text(tweet, "created_at"), "created_at")
        author = item.get("author")
        name = handle = ""
        if author is not None:
            if not isinstance(author, dict):
                raise InvalidPost(f"field 'author': not a JSON object: {str(author)[:80]}")
            name, handle = required_text(author, "name"), required_text(author, "username")
        if not self.matcher.search(fold(text)):
            return None
        if _retweets(tweet):
            return None  # "-is:retweet" in the query; X's search has let some through anyway
        flags = []
        history = tweet.get("edit_history_tweet_ids")
        if isinstance(history, list) and len(history) > 1:
            flags.append("edited")
        if tweet.get("conversation_id") not in (None, tweet_id):
            flags.append("reply")
        url = (f"https://x.com/{handle}/status/{tweet_id}" if handle
               else f"https://x.com/i/web/status/{tweet_id}")
        return Post(platform=X.code, native_id=tweet_id, text=text, author_name=name,
                    author_handle=handle, url=url, posted_at=posted_at, raw=item, flags=flags)

    def check(self) -> str:
        """A search of the last minute (at most 10 posts, so at most $0.05)."""
        try:
            page, headers = self.search(
                max_results=10, start_time=datetime.fromtimestamp(self.clock() - 90, UTC))
        except _StaleSinceId as exc:
            raise SourceError(f"X refused the test search: {exc}") from exc
        data = page.get("data")
        found = len(data) if isinstance(data, list) else 0
        left = _int_header(headers, "x-rate-limit-remaining")
        limit = _int_header(headers, "x-rate-limit-limit")
        rate = (f"; {left} of {limit} requests left in this 15-minute window"
                if left is not None else "")
        return (f"the bearer token works and recent search is available ({found} "
                f"post{'' if found == 1 else 's'} for "
                f"{self.query!r} in the last minute{rate}); spend so far is in the health record")


class _TimeoutSession(requests.Session):
    """tweepy's session, with a timeout on every request (tweepy sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class _StaleSinceId(SourceError):
    """X refused the since_id (older than its 7-day window)."""


def _retweets(tweet: dict[str, Any]) -> bool:
    """Whether the post is a retweet: its ``referenced_tweets`` has one of type "retweeted"."""
    refs = tweet.get("referenced_tweets")
    return isinstance(refs, list) and any(
        isinstance(ref, dict) and ref.get("type") == "retweeted" for ref in refs)


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def _body(exc: tweepy.HTTPException) -> dict[str, Any]:
    try:
        body = exc.response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(exc: tweepy.HTTPException) -> str:
    """The status and X's own words, on one line."""
    words = "; ".join(str(m) for m in exc.api_messages) or exc.response.reason or ""
    return f"{exc.response.status_code} {words}".strip()


def _mentions(exc: tweepy.HTTPException, parameter: str) -> bool:
    for error in exc.api_errors:
        if isinstance(error, dict) and parameter in (error.get("parameters") or {}):
            return True
    return any(parameter in str(message) for message in exc.api_messages)


def _forbidden(exc: tweepy.Forbidden) -> str:
    if 453 in exc.api_codes:
        return ("X says this app's access tier has no recent search (403, code 453): recent "
                "search needs pay-per-use credits or the Basic tier or above; see the X developer "
                "console")
    return (f"X refused access (403): {'; '.join(map(str, exc.api_messages)) or 'Forbidden'}; "
            "check the app's access level and that it belongs to a project")


def _newest(meta: dict[str, Any], posts: list[dict[str, Any]]) -> str | None:
    """The first page's newest post id: meta.newest_id, or the largest id on the page."""
    newest = meta.get("newest_id")
    if isinstance(newest, str) and DIGITS.match(newest):
        return newest
    ids = [p["tweet"]["id"] for p in posts if isinstance(p["tweet"], dict)
           and isinstance(p["tweet"].get("id"), str) and DIGITS.match(p["tweet"]["id"])]
    return max(ids, key=int) if ids else None


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(headers[name]) if headers is not None and name in headers else None
    except (TypeError, ValueError):
        return None
