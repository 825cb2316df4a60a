"""Instagram's instaloader backend (the default), and ``login()`` for ``floor instagram-login``.

It reads Instagram's own web and app endpoints through instaloader, logged in with the session
that ``login()`` saved. It is the most fragile source: Instagram changes these endpoints,
throttles hard and challenges logins. So every failure becomes a plain health state, and nothing
waits inside instaloader: its rate controller raises instead of sleeping, and the poller pauses
the source until the wait is over.
- hashtags: ``Hashtag.from_name(tag).get_posts()``, newest first. There is no "since", so a
  cycle stops after STOP_AFTER_OLDER posts in a row older than the newest post seen minus OVERLAP.
- comments on the meeting's post(s) (``post_shortcodes``): read whole each cycle.
Items go to ``InstagramSource.parse`` as kind "post" (``node`` is instaloader's JSON structure of
the post) or "comment".
"""

from __future__ import annotations

import pickle
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

from aggregator.base.environment import read_environment
from aggregator.ingest.sources import RateLimited, SourceError, SourceStopped

if TYPE_CHECKING:
    from aggregator.ingest.sources.instagram import InstagramSource

SESSION_ENV = "INSTAGRAM_SESSION_FILE"
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

# How instaloader fails on a reply whose shape it does not know: a missing key, a None where it
# expected an object, its own asserts on a node. They count as "Instagram changed shape" only
# when raised by instaloader itself (``raised_by_instaloader``): the same error from our own
# code is a bug, and is raised as it is.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, AssertionError, IndexError)
_INSTALOADER = str(Path(instaloader.__file__).resolve().parent)
_OURS = str(Path(__file__).resolve().parents[2])  # the aggregator package


def raised_by_instaloader(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` that is either instaloader's or ours (the
    standard library's frames are skipped) is instaloader's."""
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        where = str(Path(frame.f_code.co_filename).resolve())
        if where.startswith(_INSTALOADER):
            return True
        if where.startswith(_OURS):
            return False
    return False


def default_session_file(username: str) -> str:
    return str(read_environment().instagram_session_file or get_default_session_filename(username))


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


# -- reading without sleeping: instaloader's budgets and failures -> health states ----------


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
        if not raised_by_instaloader(exc):
            raise
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
        if not raised_by_instaloader(exc):
            raise
        item["error"] = f"instaloader could not read this comment ({type(exc).__name__}: {exc})"
    return item


class LoaderBackend:
    """Reads Instagram through instaloader for InstagramSource (backend = "instaloader")."""

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
            if not raised_by_instaloader(exc):
                raise
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
                if last is None or not raised_by_instaloader(exc):
                    raise  # nothing readable at all (the page changed shape), or our bug
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
                if last is None or not raised_by_instaloader(exc):
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
        return items, self.source.deletions(part, present, complete), read

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
