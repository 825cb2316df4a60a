"""Instagram: posts with the meeting's hashtag(s) and comments on the meeting's post(s).

Two backends, chosen by ``backend`` in ``[sources.instagram]``. Every Batch carries
``health["backend"]`` so the console can say which one is reading.

``instaloader`` (the default) reads Instagram's own web and app endpoints through instaloader,
logged in with a session that ``floor instagram-login`` saved (``login()`` below). It is the most
fragile source: Instagram changes these endpoints, throttles hard and challenges logins. So every
failure becomes a plain health state, and nothing waits inside instaloader: its rate controller
raises instead of sleeping, and the poller pauses the source until the wait is over.
- hashtags: ``Hashtag.from_name(tag).get_posts()``, newest first. There is no "since", so a
  cycle stops after STOP_AFTER_OLDER posts in a row older than the newest post seen minus OVERLAP.
- comments on the meeting's post(s) (``post_shortcodes``): read whole each cycle.

``graph`` uses the official Instagram Graph API through facebook-sdk's ``GraphAPI`` (token in
INSTAGRAM_GRAPH_TOKEN, a professional account linked to a Facebook Page): comments on the
organisation's own media (``media_ids``) and, with Instagram Public Content Access, hashtag search
(``ig_hashtag_search`` once, then ``recent_media``, which never names other people's accounts).

The checkpoint is JSON, one part per backend: per hashtag the newest post time and the posts seen
within the overlap; per post the comment ids seen. A comment missing from two complete reads in a
row was deleted, and its question is retracted. Posts are keyed by shortcode in both backends, so
switching backend mid-meeting does not store a hashtag post twice.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, cast

import facebook
import instaloader
import requests
from instaloader.exceptions import (
    AbortDownloadException,
    ConnectionException,
    InstaloaderException,
    InvalidArgumentException,
    LoginException,
    LoginRequiredException,
    QueryReturnedBadRequestException,
    QueryReturnedNotFoundException,
    TooManyRequestsException,
    TwoFactorAuthRequiredException,
)
from instaloader.instaloader import get_default_session_filename
from pydantic import ConfigDict, Field, field_validator

from aggregator.normalise import InvalidPost, fold, tag_matcher
from aggregator.question import Post
from aggregator.settings import EventSettings, SourceSettings
from aggregator.sources import Batch, RateLimited, Source, SourceError, SourceStopped

log = logging.getLogger(__name__)

SESSION_ENV = "INSTAGRAM_SESSION_FILE"
TOKEN_ENV = "INSTAGRAM_GRAPH_TOKEN"

# Instagram throttles accounts that poll often, and a throttled account is blind for half an
# hour: two minutes between cycles keeps a meeting's worth of polls far inside instaloader's
# budgets (199 app requests per 30 min) while questions still arrive within a few minutes.
DEFAULT_INTERVAL = 120.0
MIN_INTERVAL = 30.0
# "Recent" is not strictly chronological: posts turn up late. Re-reading this far behind the
# newest post catches late ones; more costs more of the feed each cycle.
OVERLAP = 15 * 60
# Stop after this many posts in a row older than the overlap: one page of the feed. Fewer risks
# stopping at a late-indexed post; more reads pages that hold nothing new.
STOP_AFTER_OLDER = 12
# A cycle never reads more than this from one hashtag or one post, whatever the feed does.
MAX_POSTS_PER_TAG = 120
MAX_COMMENTS_PER_POST = 1000
# After "429" or "please wait a few minutes", instaloader itself would wait out a 30-minute window.
PAUSE_AFTER_429 = 30 * 60
# instaloader's default is 300 s; a poller should notice a dead connection sooner.
REQUEST_TIMEOUT = 30.0

GRAPH_VERSION = "v21.0"
GRAPH_PAGE = 50  # recent_media's maximum page size
# Pages per object per cycle: recent_media is not chronological, so it cannot stop early; a
# meeting's hashtag rarely fills more than a page or two in the 24 hours it covers.
GRAPH_MAX_PAGES = 4
# recent_media only returns the last 24 hours; ids are remembered a little longer.
RECENT_MEDIA_MEMORY = 25 * 3600
# Meta's limits are rolling hours; without an estimate in the usage headers, retry after this.
GRAPH_RATE_PAUSE = 15 * 60
GRAPH_RATE_CODES = {4, 17, 32, 613, 80002}
GRAPH_PERMISSION_CODES = {10} | set(range(200, 300))

POST_URL = "https://www.instagram.com/p/{shortcode}/"
SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{5,64}$")
SHORTCODE_IN_URL = re.compile(r"instagram\.com/(?:[^/?#]+/)?(?:p|reel|reels|tv)/([A-Za-z0-9_-]+)")

UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, AssertionError, IndexError)


class InstagramSettings(SourceSettings):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["instaloader", "graph"] = "instaloader"
    interval: float = Field(default=DEFAULT_INTERVAL, ge=MIN_INTERVAL)
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


def default_session_file(username: str) -> str:
    return os.environ.get(SESSION_ENV) or get_default_session_filename(username)


class LoginFailed(Exception):
    """Instagram did not log the account in; the message says why, in plain words."""


def login(username: str, session_file: str | None, password: str | None = None) -> str:
    """Log in with instaloader's own login and save the session the source reads with.

    Without ``password``, instaloader asks for it (and for a two-factor code) on the terminal.
    Returns the path written; raises LoginFailed with a plain message.
    """
    path = session_file or default_session_file(username)
    loader = instaloader.Instaloader(sleep=False, quiet=password is not None,
                                     max_connection_attempts=1, request_timeout=REQUEST_TIMEOUT)
    try:
        if password is None:
            loader.interactive_login(username)
        else:
            try:
                loader.login(username, password)
            except TwoFactorAuthRequiredException:
                loader.two_factor_login(input("Two-factor code from Instagram: ").strip())
    except (LoginException, InvalidArgumentException, ConnectionException) as exc:
        raise LoginFailed(f"Instagram did not log {username} in: {exc}") from exc
    except requests.RequestException as exc:
        raise LoginFailed(f"could not reach Instagram to log in: {exc}") from exc
    loader.save_session_to_file(path)
    return path


class InstagramSource(Source):
    name = "instagram"
    settings_model = InstagramSettings

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Callable[[], float] = time.time,
                 rate_controller: type[PollerRateController] | None = None,
                 session: requests.Session | None = None) -> None:
        """``rate_controller`` replaces instaloader's budgets (tests); ``session`` is the
        requests session of the graph backend."""
        super().__init__(settings, event)
        self.options = cast(InstagramSettings, self.settings)
        self.clock = clock
        event_tags = [tag.lstrip("#") for tag in event.hashtags]
        chosen = event_tags if self.options.hashtags is None else self.options.hashtags
        self.tags = list(dict.fromkeys(tag.lower() for tag in chosen))
        match_tags = list(dict.fromkeys([*self.tags, *event_tags]))
        self.matcher = tag_matcher(["#" + tag for tag in match_tags]) if match_tags else None
        self.backend: _LoaderBackend | _GraphBackend = (
            _LoaderBackend(self, rate_controller) if self.options.backend == "instaloader"
            else _GraphBackend(self, session))

    @property
    def labels(self) -> dict[str, Any]:
        return {"backend": self.options.backend}

    @contextmanager
    def _labelled(self) -> Iterator[None]:
        """Name the backend in every failure message too, for logs and `floor check`."""
        label = f"{self.options.backend} backend"
        try:
            yield
        except RateLimited as exc:
            raise RateLimited(exc.until, f"{label}: {exc}") from exc
        except SourceError as exc:
            raise type(exc)(f"{label}: {exc}") from exc

    def fetch(self, checkpoint: str | None) -> Batch:
        state = _load_state(checkpoint)
        part = state.setdefault(self.options.backend, {})
        with self._labelled():
            items, gone, health = self.backend.fetch(part)
        if gone:
            log.info("poller instagram: %d comment(s) deleted on Instagram", len(gone))
        return Batch(items, json.dumps(state, sort_keys=True, separators=(",", ":")),
                     retracted=[f"ig:{cid}" for cid in gone],
                     health=health)

    def check(self) -> str:
        with self._labelled():
            return f"{self.options.backend} backend: {self.backend.check()}"

    def describe(self, item: Any) -> str:
        if not isinstance(item, dict):
            return ""
        where = (f"#{item['tag']}" if item.get("tag")
                 else item.get("shortcode") or item.get("media_id"))
        return " ".join(str(part) for part in (where, _ident(item)) if part)

    def parse(self, item: Any) -> Post | None:
        if not isinstance(item, dict):
            raise InvalidPost("not a JSON object")
        if "error" in item:
            raise InvalidPost(str(item["error"]))
        kind = item.get("kind")
        post = {"post": _loader_post, "comment": _loader_comment,
                "graph_media": _graph_media, "graph_comment": _graph_comment}.get(str(kind))
        if post is None:
            raise InvalidPost(f"unknown item kind {kind!r}")
        parsed = post(item)
        tagged = self.matcher is not None and bool(self.matcher.search(fold(parsed.text)))
        if kind in ("post", "graph_media") and not tagged:
            return None  # in the hashtag's feed, but the caption does not carry the tag
        if kind in ("comment", "graph_comment") and self.options.require_hashtag and not tagged:
            return None
        return parsed


# -- parsing: raw items -> Posts ---------------------------------------------------------------


def _field(data: Any, name: str, kind: type | tuple[type, ...] = str, *, required: bool = True,
           where: str = "") -> Any:
    """``data[name]``, checked. A missing optional field is None."""
    label = f"{where}.{name}" if where else name
    if not isinstance(data, dict) or data.get(name) is None:
        if required:
            raise InvalidPost(f"field '{label}' is missing")
        return None
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidPost(f"field '{label}': expected {_kind_name(kind)}, "
                          f"got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "text", int: "a number", float: "a number", dict: "an object",
                        list: "a list"}.get(k, k.__name__) for k in kinds)


def _ident(item: dict[str, Any]) -> str:
    for data, key in ((item.get("node"), "shortcode"), (item, "id"), (item.get("comment"), "id"),
                      (item.get("media"), "id")):
        if isinstance(data, dict) and isinstance(data.get(key), str | int):
            return str(data[key])
    return ""


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidPost(f"time {seconds!r} is out of range") from exc


def _graph_time(value: str) -> str:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").isoformat()
    except ValueError:
        return value  # normalise drops a time it cannot read


def _loader_post(item: dict[str, Any]) -> Post:
    node = _field(item, "node", dict)
    shortcode = _field(node, "shortcode", where="node")
    taken = node.get("date", node.get("taken_at_timestamp"))
    if not isinstance(taken, int | float) or isinstance(taken, bool):
        raise InvalidPost(f"field 'node.date': expected a number, got {type(taken).__name__}")
    caption = node.get("caption")
    if caption is None:
        edges = (node.get("edge_media_to_caption") or {}).get("edges") or [{}]
        caption = (edges[0].get("node") or {}).get("text") if isinstance(edges[0], dict) else None
    if caption is not None and not isinstance(caption, str):
        raise InvalidPost(f"field 'node.caption': expected text, got {type(caption).__name__}")
    owner = node.get("owner") if isinstance(node.get("owner"), dict) else {}
    handle = _field(owner, "username", required=False, where="owner") or ""
    name = _field(owner, "full_name", required=False, where="owner") or handle
    return Post(platform="ig", native_id=shortcode, text=caption or "", author_name=name,
                author_handle=handle, url=POST_URL.format(shortcode=shortcode),
                posted_at=_iso(taken), raw=item)


def _loader_comment(item: dict[str, Any]) -> Post:
    shortcode = _field(item, "shortcode")
    comment_id = _field(item, "id")
    created = _field(item, "created_at", (int, float))
    owner = _field(item, "owner", dict, required=False) or {}
    handle = _field(owner, "username", required=False, where="owner") or ""
    name = _field(owner, "full_name", required=False, where="owner") or handle
    return Post(platform="ig", native_id=comment_id, text=_field(item, "text"), author_name=name,
                author_handle=handle, url=POST_URL.format(shortcode=shortcode) + f"c/{comment_id}/",
                posted_at=_iso(created), raw=item)


def _graph_media(item: dict[str, Any]) -> Post:
    media = _field(item, "media", dict)
    media_id = _field(media, "id", where="media")
    permalink = _field(media, "permalink", required=False, where="media") or ""
    found = SHORTCODE_IN_URL.search(permalink)
    caption = _field(media, "caption", required=False, where="media") or ""
    # recent_media never names the account behind other people's posts (Meta's rule).
    handle = _field(media, "username", required=False, where="media") or ""
    return Post(platform="ig", native_id=found.group(1) if found else media_id, text=caption,
                author_name=handle, author_handle=handle, url=permalink,
                posted_at=_graph_time(_field(media, "timestamp", where="media")), raw=item)


def _graph_comment(item: dict[str, Any]) -> Post:
    comment = _field(item, "comment", dict)
    comment_id = _field(comment, "id", where="comment")
    sender = _field(comment, "from", dict, required=False, where="comment") or {}
    handle = (_field(comment, "username", required=False, where="comment")
              or _field(sender, "username", required=False, where="comment.from") or "")
    permalink = item.get("permalink") if isinstance(item.get("permalink"), str) else ""
    return Post(platform="ig", native_id=comment_id, text=_field(comment, "text", where="comment"),
                author_name=handle, author_handle=handle,
                url=f"{permalink.rstrip('/')}/c/{comment_id}/" if permalink else "",
                posted_at=_graph_time(_field(comment, "timestamp", where="comment")), raw=item)


def _load_state(checkpoint: str | None) -> dict[str, Any]:
    if not checkpoint:
        return {}
    try:
        state = json.loads(checkpoint)
    except ValueError:
        state = None
    if not isinstance(state, dict):
        log.warning("poller instagram: unreadable checkpoint %r, starting afresh", checkpoint[:80])
        return {}
    return state


def _deletions(part: dict[str, Any], present: set[str], complete: bool) -> list[str]:
    """Remember the comment ids seen; after a complete read, return the ids missing for the
    second read in a row (one miss may be Instagram's hiccup)."""
    seen = set(part.get("ids", []))
    gone: list[str] = []
    if complete:
        vanished = seen - present
        gone = sorted(vanished & set(part.get("missing", [])))
        part["missing"] = sorted(vanished - set(gone))
    part["ids"] = sorted((seen | present) - set(gone))
    return gone


# -- backend 1: instaloader ---------------------------------------------------------------------


class BackOff(Exception):
    """instaloader wanted to sleep ``seconds`` before its next request."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"wait {seconds:.0f}s")
        self.seconds = seconds


class PollerRateController(instaloader.RateController):
    """instaloader's request budgets, but never asleep: a wait becomes BackOff (then
    RateLimited), so the poller waits and its heartbeat and stop signal keep working."""

    def __init__(self, context: instaloader.InstaloaderContext) -> None:
        super().__init__(context)
        self.requests = 0

    def sleep(self, secs: float) -> None:
        raise BackOff(secs)

    def wait_before_query(self, query_type: str) -> None:
        super().wait_before_query(query_type)
        self.requests += 1


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _stopped_session(exc: AbortDownloadException, username: str) -> SourceStopped:
    text = str(exc)
    if "checkpoint_required" in text or "challenge_required" in text:
        return SourceStopped(
            f"Instagram wants {username} to pass a security check: log in to Instagram as "
            f"{username} in a browser or the app, complete the check, then run "
            f"'floor instagram-login' again")
    if "feedback_required" in text:
        return SourceStopped(f"Instagram has blocked {username}'s requests for now "
                             "(feedback_required): wait some hours, or use another account")
    if "logged out" in text or "login" in text.lower():
        return SourceStopped(f"Instagram logged {username}'s saved session out: wait a while, "
                             "then run 'floor instagram-login' again")
    return SourceStopped(f"Instagram stopped the session: {text}")


@contextmanager
def _loader_errors(clock: Callable[[], float], username: str) -> Iterator[None]:
    """instaloader's exceptions -> the poller's health states, in plain words."""
    try:
        yield
    except BackOff as exc:
        raise RateLimited(clock() + exc.seconds, "instaloader's request budget is spent; "
                          f"next request in {exc.seconds / 60:.0f} min") from None
    except LoginRequiredException as exc:
        raise SourceStopped(f"Instagram wants a login ({exc}): "
                            "run 'floor instagram-login'") from exc
    except AbortDownloadException as exc:
        raise _stopped_session(exc, username) from exc
    except ConnectionException as exc:
        chain = list(_chain(exc))
        text = " ".join(str(e) for e in chain)
        if any(isinstance(e, TooManyRequestsException) for e in chain) or "Please wait" in text:
            raise RateLimited(clock() + PAUSE_AFTER_429, "Instagram says 'please wait a few "
                              f"minutes' (throttled): pausing {PAUSE_AFTER_429 // 60} min") from exc
        if any(isinstance(e, QueryReturnedNotFoundException) for e in chain):
            raise SourceError("Instagram answered 404 (no posts with this hashtag yet, a deleted "
                              f"post, or Instagram changed its pages): {exc}") from exc
        if any(isinstance(e, ValueError) for e in chain):
            raise SourceError(f"Instagram sent a reply that is not JSON: {exc}") from exc
        if any(isinstance(e, requests.Timeout) for e in chain):
            raise SourceError(f"Instagram did not answer in time: {exc}") from exc
        raise SourceError(f"Instagram did not answer properly: {exc}") from exc
    except QueryReturnedBadRequestException as exc:
        raise SourceError(f"Instagram refused the request (400): {exc}") from exc
    except InstaloaderException as exc:
        raise SourceError(f"instaloader: {exc}") from exc
    except requests.RequestException as exc:
        raise SourceError(f"could not reach Instagram: {exc}") from exc
    except UNREADABLE as exc:
        raise SourceError(f"Instagram's reply has changed shape ({type(exc).__name__}: {exc}); "
                          "instaloader may need an update (pip install -U instaloader)") from exc


def _comment_item(shortcode: str, comment: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "comment", "shortcode": shortcode}
    try:
        item["id"] = str(comment.id)
        item["text"] = comment.text
        with warnings.catch_warnings():  # instaloader uses utcfromtimestamp (deprecated in 3.12)
            warnings.simplefilter("ignore", DeprecationWarning)
            created = comment.created_at_utc
        item["created_at"] = created.replace(tzinfo=UTC).timestamp()
        item["owner"] = instaloader.get_json_structure(comment.owner)["node"]
    except (*UNREADABLE, OverflowError, OSError) as exc:
        item["error"] = f"instaloader could not read this comment ({type(exc).__name__}: {exc})"
    return item


class _LoaderBackend:
    def __init__(self, source: InstagramSource,
                 rate_controller: type[PollerRateController] | None) -> None:
        self.source = source
        self.options = source.options
        self.controller_class = rate_controller or PollerRateController
        self.controller: PollerRateController | None = None
        self.loader: instaloader.Instaloader | None = None

    def _make_controller(self, context: instaloader.InstaloaderContext) -> PollerRateController:
        self.controller = self.controller_class(context)
        return self.controller

    def connect(self) -> instaloader.Instaloader:
        """This source's own Instaloader, logged in from the saved session (once)."""
        if self.loader is not None:
            return self.loader
        username = self.options.username
        if not username:
            raise SourceStopped("set 'username' in [sources.instagram]: the Instagram account "
                                "whose saved session Floor reads with")
        path = self.options.session_file or default_session_file(username)
        loader = instaloader.Instaloader(
            sleep=self.options.polite_sleep, quiet=True, max_connection_attempts=1,
            request_timeout=REQUEST_TIMEOUT, rate_controller=self._make_controller)
        try:
            loader.load_session_from_file(username, path)
        except FileNotFoundError as exc:
            raise SourceStopped(f"no saved Instagram session at {path}: run "
                                f"'floor instagram-login {username}'") from exc
        except (OSError, pickle.UnpicklingError, EOFError, *UNREADABLE) as exc:
            raise SourceStopped(
                f"the saved Instagram session at {path} cannot be read "
                f"({type(exc).__name__}): run 'floor instagram-login' again") from exc
        self.loader = loader
        return loader

    def fetch(self, part: dict[str, Any]) -> tuple[list[Any], list[str], dict[str, Any]]:
        if not self.source.tags and not self.options.post_shortcodes:
            raise SourceStopped("nothing to read: set hashtags and/or post_shortcodes")
        loader = self.connect()
        assert self.controller is not None
        before = self.controller.requests
        now = self.source.clock()
        items: list[Any] = []
        gone: list[str] = []
        read = 0
        with _loader_errors(self.source.clock, self.options.username):
            tags = part.setdefault("tags", {})
            for tag in self.source.tags:
                found, count = self._read_tag(loader, tag, tags.setdefault(tag, {}), now)
                items += found
                read += count
            posts = part.setdefault("posts", {})
            for shortcode in self.options.post_shortcodes:
                found, deleted, count = self._read_comments(loader, shortcode,
                                                            posts.setdefault(shortcode, {}))
                items += found
                gone += deleted
                read += count
        return items, gone, {"posts_read": read,
                             "requests": self.controller.requests - before}

    def _read_tag(self, loader: instaloader.Instaloader, tag: str, part: dict[str, Any],
                  now: float) -> tuple[list[Any], int]:
        stored = part.get("newest")
        newest = float(stored) if isinstance(stored, int | float) else None
        cutoff = (newest - OVERLAP if newest is not None
                  else now - self.options.lookback_hours * 3600)
        seen: dict[str, float] = dict(part.get("seen", {}))
        items: list[Any] = []
        older = read = 0
        last: str | None = None
        latest = newest
        posts = instaloader.Hashtag.from_name(loader.context, tag).get_posts()
        while read < MAX_POSTS_PER_TAG and older < STOP_AFTER_OLDER:
            try:
                post = next(posts)
            except StopIteration:
                break
            except UNREADABLE as exc:
                if last is None:
                    raise  # nothing readable at all: the page changed shape
                # instaloader cannot build this post, and its iterator ends with the error:
                # keep what was read, and say where the feed broke (one dead letter, not one
                # per cycle: the raw payload is the same each time).
                items.append({"kind": "post", "tag": tag, "after": last,
                              "error": f"instaloader could not read the post after {last} "
                                       f"({type(exc).__name__}: {exc})"})
                break
            read += 1
            node = instaloader.get_json_structure(post)["node"]
            last = post.shortcode
            taken = node.get("date", node.get("taken_at_timestamp"))
            when = float(taken) if isinstance(taken, int | float) else None
            if when is not None and when < cutoff:
                older += 1
                continue
            older = 0
            if last in seen:
                continue
            seen[last] = when if when is not None else now
            if when is not None:
                latest = when if latest is None else max(latest, when)
            items.append({"kind": "post", "tag": tag, "node": node})
        if latest is not None:
            part["newest"] = latest
            seen = {code: at for code, at in seen.items() if at >= latest - OVERLAP}
        part["seen"] = seen
        return items, read

    def _read_comments(self, loader: instaloader.Instaloader, shortcode: str,
                       part: dict[str, Any]) -> tuple[list[Any], list[str], int]:
        post = instaloader.Post.from_shortcode(loader.context, shortcode)
        seen = set(part.get("ids", []))
        present: set[str] = set()
        items: list[Any] = []
        complete = True
        read = 0
        last: str | None = None
        comments = iter(post.get_comments())
        while True:
            if read >= MAX_COMMENTS_PER_POST:
                complete = False
                break
            try:
                comment = next(comments)
            except StopIteration:
                break
            except UNREADABLE as exc:
                if last is None:
                    raise
                items.append({"kind": "comment", "shortcode": shortcode, "after": last,
                              "error": f"instaloader could not read the comment after {last} "
                                       f"({type(exc).__name__}: {exc})"})
                complete = False
                break
            read += 1
            item = _comment_item(shortcode, comment)
            comment_id = item.get("id")
            if isinstance(comment_id, str):
                present.add(comment_id)
                last = comment_id
                if comment_id in seen:
                    continue
            items.append(item)
        return items, _deletions(part, present, complete), read

    def check(self) -> str:
        loader = self.connect()
        with _loader_errors(self.source.clock, self.options.username):
            if self.source.tags:
                tag = instaloader.Hashtag.from_name(loader.context, self.source.tags[0])
                return (f"logged in as {self.options.username}; #{tag.name} has "
                        f"{tag.mediacount} posts")
            if self.options.post_shortcodes:
                code = self.options.post_shortcodes[0]
                post = instaloader.Post.from_shortcode(loader.context, code)
                return (f"logged in as {self.options.username}; post {code} has "
                        f"{post.comments} comments")
        raise SourceStopped("nothing to read: set hashtags and/or post_shortcodes")


# -- backend 2: the Instagram Graph API ---------------------------------------------------------


def _regain_seconds(headers: dict[str, str]) -> float:
    """Meta's own estimate of when access comes back, from the usage headers, if it gave one."""
    minutes = 0.0
    try:
        usage = json.loads(headers.get("x-business-use-case-usage", "{}"))
        for entries in usage.values() if isinstance(usage, dict) else []:
            for entry in entries if isinstance(entries, list) else []:
                value = entry.get("estimated_time_to_regain_access", 0)
                if isinstance(value, int | float):
                    minutes = max(minutes, float(value))
    except (ValueError, AttributeError):
        pass
    return minutes * 60 if minutes > 0 else GRAPH_RATE_PAUSE


def _usage_percent(headers: dict[str, str]) -> float | None:
    """The highest percentage of the API budget used, from the usage headers."""
    values: list[float] = []
    for name in ("x-app-usage", "x-business-use-case-usage"):
        try:
            usage = json.loads(headers.get(name, "null"))
        except ValueError:
            continue
        records = [usage] if name == "x-app-usage" else [
            entry for entries in (usage or {}).values() if isinstance(entries, list)
            for entry in entries]
        for record in records:
            if isinstance(record, dict):
                values += [float(v) for k, v in record.items() if k in (
                    "call_count", "total_cputime", "total_time") and isinstance(v, int | float)]
    return max(values) if values else None


class _GraphBackend:
    def __init__(self, source: InstagramSource, session: requests.Session | None) -> None:
        self.source = source
        self.options = source.options
        self.session = session or requests.Session()
        self.session.hooks["response"].append(self._remember)
        self.headers: dict[str, str] = {}
        self.calls = 0
        self.complete = False  # whether the last pages() reached the end
        self.graph = facebook.GraphAPI(access_token=os.environ.get(TOKEN_ENV, ""),
                                       timeout=REQUEST_TIMEOUT, session=self.session)
        # facebook-sdk 3.1 only accepts versions up to 3.1 in its constructor; every path is
        # built from this attribute, so set a current one here.
        self.graph.version = self.options.graph_version

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.headers = {k.lower(): v for k, v in response.headers.items()}

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One Graph API request, its errors mapped to health states."""
        if not self.graph.access_token:
            raise SourceStopped(f"{TOKEN_ENV} is not set: a token for the Instagram professional "
                                "account (see README, Instagram Graph API)")
        self.calls += 1
        try:
            result = method(*args, **kwargs)
        except facebook.GraphAPIError as exc:
            raise self._classify(exc) from exc
        except requests.Timeout as exc:
            raise SourceError(f"the Instagram Graph API did not answer in time: {exc}") from exc
        except ValueError as exc:  # requests' JSONDecodeError for a broken JSON body
            raise SourceError(
                f"the Instagram Graph API sent a reply that is not JSON: {exc}") from exc
        except requests.RequestException as exc:
            raise SourceError(f"could not reach the Instagram Graph API: {exc}") from exc
        if not isinstance(result, dict):
            raise SourceError("the Instagram Graph API sent a reply that is not a JSON object")
        return result

    def _classify(self, exc: facebook.GraphAPIError) -> SourceError:
        code, message = exc.code, exc.message
        if code is None:
            return SourceError(f"the Instagram Graph API sent a reply that is not JSON ({message})")
        if code == 190:
            return SourceStopped(f"the Instagram Graph token was refused (code 190: {message}): "
                                 f"make a new long-lived token and set {TOKEN_ENV}")
        if code in GRAPH_PERMISSION_CODES:
            return SourceStopped(
                f"a permission is missing (code {code}: {message}): the token needs "
                "instagram_basic, instagram_manage_comments and pages_read_engagement; hashtag "
                "search also needs the Instagram Public Content Access feature")
        if code in GRAPH_RATE_CODES:
            wait = _regain_seconds(self.headers)
            return RateLimited(self.source.clock() + wait,
                               f"Instagram Graph API rate limit (code {code}: {message})")
        if code == 100:
            return SourceStopped(f"Instagram refused the request (code 100: {message}): check "
                                 "ig_user_id, media_ids and hashtags in [sources.instagram]")
        return SourceError(f"Instagram Graph API error {code}: {message}")

    def pages(self, object_id: str, edge: str, **args: Any) -> Iterator[list[Any]]:
        """Up to GRAPH_MAX_PAGES pages of ``data``; ``self.complete`` says if it reached the end."""
        self.complete = False
        for _ in range(GRAPH_MAX_PAGES):
            page = self.call(self.graph.get_connections, object_id, edge, **args)
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

    def fetch(self, part: dict[str, Any]) -> tuple[list[Any], list[str], dict[str, Any]]:
        if not self.options.media_ids and not self.source.tags:
            raise SourceStopped("nothing to read: set media_ids and/or hashtags")
        before = self.calls
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
        health: dict[str, Any] = {"posts_read": len(items), "requests": self.calls - before}
        usage = _usage_percent(self.headers)
        if usage is not None:
            health["api_usage_pct"] = usage
        return items, gone, health

    def _comments(self, media_id: str, part: dict[str, Any]) -> tuple[list[Any], list[str]]:
        if not part.get("permalink"):
            found = self.call(self.graph.get_object, media_id, fields="id,permalink")
            permalink = found.get("permalink")
            part["permalink"] = permalink if isinstance(permalink, str) else ""
        seen = set(part.get("ids", []))
        present: set[str] = set()
        items: list[Any] = []
        for page in self.pages(media_id, "comments", fields="id,text,timestamp,username,from",
                               limit=GRAPH_PAGE):
            for comment in page:
                comment_id = comment.get("id") if isinstance(comment, dict) else None
                if isinstance(comment_id, str):
                    present.add(comment_id)
                    if comment_id in seen:
                        continue
                items.append({"kind": "graph_comment", "media_id": media_id,
                              "permalink": part["permalink"], "comment": comment})
        return items, _deletions(part, present, self.complete)

    def _hashtag(self, tag: str, part: dict[str, Any]) -> list[Any]:
        user_id = self.options.ig_user_id
        ids = part.setdefault("hashtag_ids", {})
        if tag not in ids:  # each search counts towards 30 hashtags a week: do it once
            found = self.call(self.graph.get_object, "ig_hashtag_search", user_id=user_id, q=tag)
            data = found.get("data")
            if not isinstance(data, list) or not data or not isinstance(data[0], dict) \
                    or not isinstance(data[0].get("id"), str):
                raise SourceStopped(f"Instagram found no hashtag #{tag}")
            ids[tag] = data[0]["id"]
        now = self.source.clock()
        seen: dict[str, float] = dict(part.setdefault("hashtags", {}).get(tag, {}))
        items: list[Any] = []
        for page in self.pages(ids[tag], "recent_media", user_id=user_id, limit=GRAPH_PAGE,
                               fields="id,caption,timestamp,permalink,media_type"):
            for media in page:
                media_id = media.get("id") if isinstance(media, dict) else None
                if isinstance(media_id, str):
                    if media_id in seen:
                        continue
                    seen[media_id] = now
                items.append({"kind": "graph_media", "tag": tag, "media": media})
        part["hashtags"][tag] = {k: v for k, v in seen.items() if v >= now - RECENT_MEDIA_MEMORY}
        return items

    def check(self) -> str:
        if not self.options.ig_user_id:
            if not self.options.media_ids:
                raise SourceStopped("set 'ig_user_id' and/or 'media_ids' in [sources.instagram]")
            found = self.call(self.graph.get_object, self.options.media_ids[0],
                              fields="id,permalink,comments_count")
            return (f"token works; media {found.get('id')} has "
                    f"{found.get('comments_count')} comments")
        found = self.call(self.graph.get_object, self.options.ig_user_id, fields="id,username")
        return f"token works for Instagram account @{found.get('username')}"
