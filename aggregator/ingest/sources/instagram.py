"""Instagram: posts with the meeting's hashtag(s) and comments on the meeting's post(s).

Two backends, chosen by ``backend`` in ``[sources.instagram]``, read raw items that ``parse`` below
turns into Posts. Every Batch carries ``health["backend"]`` so the console can say which one is
reading.
- ``instaloader`` (the default, instagram_loader.py): Instagram's own web and app endpoints,
  logged in with a session that ``floor instagram-login`` saved (``login()``).
- ``graph`` (instagram_graph.py): the official Instagram Graph API (token in
  INSTAGRAM_GRAPH_TOKEN), comments on the organisation's own media and hashtag search.

The checkpoint is JSON, one part per backend: per hashtag the newest post time and the posts seen
within the overlap; per post the comment ids seen. A comment missing from two complete reads in a
row was deleted, and its question is retracted. Posts are keyed by shortcode in both backends, so
switching backend mid-meeting does not store a hashtag post twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import requests
from pydantic import Field

from aggregator.base.platforms import INSTAGRAM
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import SHORTCODE_IN_URL, InstagramSettings, SourceSettings
from aggregator.core.normalise import (
    InvalidPost,
    expect_text,
    fold,
    optional_text,
    required_text,
    tag_matcher,
)
from aggregator.core.question import Post
from aggregator.ingest.sources import Batch, Checkpoint, RateLimited, Source, SourceError
from aggregator.ingest.sources.instagram_graph import GraphBackend
from aggregator.ingest.sources.instagram_loader import (
    LoaderBackend,
    LoginFailed,
    PollerRateController,
    login,
)

# ``floor instagram-login`` and the tests import the login from here.
__all__ = ["InstagramSettings", "InstagramSource", "LoginFailed", "PollerRateController", "login"]

log = logging.getLogger(__name__)

POST_URL = "https://www.instagram.com/p/{shortcode}/"


class InstagramCheckpoint(Checkpoint):
    """One part per backend, each the backend's own (see the module's docstring)."""

    instaloader: dict[str, Any] = Field(default_factory=dict)
    graph: dict[str, Any] = Field(default_factory=dict)

    def dump(self) -> str:
        return self.model_dump_json(exclude_defaults=True)  # only the parts in use


class InstagramSource(Source):
    platform = INSTAGRAM

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
        self.backend: LoaderBackend | GraphBackend = (
            LoaderBackend(self, rate_controller) if self.options.backend == "instaloader"
            else GraphBackend(self, session))

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
        state = InstagramCheckpoint.read(checkpoint, self.name)
        part = getattr(state, self.options.backend)
        with self._labelled():
            items, gone, health = self.backend.fetch(part)
        if gone:
            log.info("poller instagram: %d comment(s) deleted on Instagram", len(gone))
        return Batch(items, state.dump(),
                     retracted=[INSTAGRAM.question_id(cid) for cid in gone],
                     health=health)

    @staticmethod
    def deletions(part: dict[str, Any], present: set[str], complete: bool) -> list[str]:
        """For a backend that read one post's comments (ids ``present``) into checkpoint
        ``part``: remember the ids seen; after a complete read, return the ids missing for the
        second read in a row (one miss may be Instagram's hiccup)."""
        seen = set(part.get("ids", []))
        gone: list[str] = []
        if complete:
            vanished = seen - present
            gone = sorted(vanished & set(part.get("missing", [])))
            part["missing"] = sorted(vanished - set(gone))
        part["ids"] = sorted((seen | present) - set(gone))
        return gone

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


def _field(data: Any, name: str, kind: type | tuple[type, ...], *, required: bool = True,
           where: str = "") -> Any:
    """``data[name]``, an object or a number, checked (text fields use normalise's
    ``required_text``/``optional_text``). A missing optional field is None."""
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
    return " or ".join({int: "a number", float: "a number", dict: "an object"}.get(k, k.__name__)
                       for k in kinds)


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
    shortcode = required_text(node, "shortcode", "node.shortcode")
    taken = node.get("date", node.get("taken_at_timestamp"))
    if not isinstance(taken, int | float) or isinstance(taken, bool):
        raise InvalidPost(f"field 'node.date': expected a number, got {type(taken).__name__}")
    caption = node.get("caption")
    if caption is None:
        edges = (node.get("edge_media_to_caption") or {}).get("edges") or [{}]
        caption = (edges[0].get("node") or {}).get("text") if isinstance(edges[0], dict) else None
    caption = None if caption is None else expect_text(caption, "node.caption")
    owner = node.get("owner") if isinstance(node.get("owner"), dict) else {}
    handle = optional_text(owner, "username", "owner.username") or ""
    name = optional_text(owner, "full_name", "owner.full_name") or handle
    return Post(platform=INSTAGRAM.code, native_id=shortcode, text=caption or "", author_name=name,
                author_handle=handle, url=POST_URL.format(shortcode=shortcode),
                posted_at=_iso(taken), raw=item)


def _loader_comment(item: dict[str, Any]) -> Post:
    shortcode = required_text(item, "shortcode")
    comment_id = required_text(item, "id")
    created = _field(item, "created_at", (int, float))
    owner = _field(item, "owner", dict, required=False) or {}
    handle = optional_text(owner, "username", "owner.username") or ""
    name = optional_text(owner, "full_name", "owner.full_name") or handle
    return Post(platform=INSTAGRAM.code, native_id=comment_id, text=required_text(item, "text"),
                author_name=name, author_handle=handle,
                url=POST_URL.format(shortcode=shortcode) + f"c/{comment_id}/",
                posted_at=_iso(created), raw=item)


def _graph_media(item: dict[str, Any]) -> Post:
    media = _field(item, "media", dict)
    media_id = required_text(media, "id", "media.id")
    permalink = optional_text(media, "permalink", "media.permalink") or ""
    found = SHORTCODE_IN_URL.search(permalink)
    caption = optional_text(media, "caption", "media.caption") or ""
    # recent_media never names the account behind other people's posts (Meta's rule).
    handle = optional_text(media, "username", "media.username") or ""
    timestamp = optional_text(media, "timestamp", "media.timestamp")
    flags = []
    if timestamp is not None:
        posted_at = _graph_time(timestamp)
    else:  # Meta leaves it out at times: the time we first saw the post, said so
        posted_at = _iso(_field(item, "first_seen", (int, float)))
        flags.append("time_first_seen")
    return Post(platform=INSTAGRAM.code, native_id=found.group(1) if found else media_id,
                text=caption, author_name=handle, author_handle=handle, url=permalink,
                posted_at=posted_at, raw=item, flags=flags)


def _graph_comment(item: dict[str, Any]) -> Post:
    comment = _field(item, "comment", dict)
    comment_id = required_text(comment, "id", "comment.id")
    sender = _field(comment, "from", dict, required=False, where="comment") or {}
    handle = (optional_text(comment, "username", "comment.username")
              or optional_text(sender, "username", "comment.from.username") or "")
    permalink = item.get("permalink") if isinstance(item.get("permalink"), str) else ""
    url = f"{permalink.rstrip('/')}/c/{comment_id}/" if permalink else ""
    reply = bool(item.get("reply_to")) or comment.get("parent_id") is not None
    return Post(platform=INSTAGRAM.code, native_id=comment_id,
                text=required_text(comment, "text", "comment.text"), author_name=handle,
                author_handle=handle, url=url,
                posted_at=_graph_time(required_text(comment, "timestamp", "comment.timestamp")),
                raw=item, flags=["reply"] if reply else [])
