"""``/record``: the meeting's live public page, no login. What was answered, what is on screen,
how many wait, received counts by platform, rejected counts by reason, and the ledger's head.

Built for a stream's whole audience: each web process keeps a tally of every question's platform
and state, updated from the log as it passes (the same tail as the consoles, ``web/live.py``),
and renders the page at most once a second, only when the log or the ledger's head moved. The
response is cacheable (ETag, ``max-age=1``), so a viewer's reload or a proxy costs a 304. The
page reloads itself every few seconds with a small script; without it, the browser's reload.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request
from flask.blueprints import BlueprintSetupState

from aggregator.ledger import Ledger
from aggregator.question import PLATFORMS
from aggregator.store import LogEntry, Store
from web import floor

bp = Blueprint("public", __name__)

# A view is at most REFRESH (the page's own reload) + RENDER_EVERY + MAX_AGE seconds behind.
REFRESH_SECONDS = 3
RENDER_EVERY = 1.0
MAX_AGE = 1
ANSWERED_SHOWN = 10
HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class _Known:
    platform: str
    state: str
    reason: str
    text: str
    changed: str  # the log id of its last change
    version: int


class Tally:
    """Every question's platform and state, kept current from the log."""

    def __init__(self, store: Store, settings: Any) -> None:
        self.store = store
        self.settings = settings
        self.ledger = Ledger(store.conn, store.keys.event)
        self.known: dict[str, _Known] = {}
        self.screen = ""
        self.screen_from_feed = False
        self.version = "0-0"
        self.lock = threading.Lock()
        self.loaded = False
        self.page: tuple[str, str] | None = None  # (etag, html)
        self.rendered_key = ""
        self.rendered_at = 0.0

    def load(self) -> None:
        """Start from a snapshot. The feed was started first, so whatever it delivered is at
        least as new as the snapshot: a question's higher version wins, and a screen the feed
        reported stands."""
        snapshot = self.store.snapshot()
        with self.lock:
            for q in snapshot.questions:
                self._take(q, snapshot.last_id)
            if not self.screen_from_feed:
                self.screen = snapshot.screen or ""
            self.version = max(self.version, snapshot.last_id, key=_order)
            self.loaded = True

    def _take(self, q: Mapping[str, Any], entry_id: str) -> None:
        known = self.known.get(q["id"])
        version = int(q.get("version", 0))
        if known is None or version >= known.version:
            self.known[q["id"]] = _Known(q.get("platform", ""), q.get("state", ""),
                                         q.get("reject_reason", ""), q.get("text", ""),
                                         entry_id, version)

    def on_entry(self, server: Any, entry: LogEntry) -> None:
        with self.lock:
            for q in entry.qs:
                self._take(q, entry.id)
            if "screen" in entry.extra:
                self.screen, self.screen_from_feed = str(entry.extra["screen"]), True
            self.version = entry.id

    def render(self) -> tuple[str, str]:
        """(etag, html), redrawn at most once per RENDER_EVERY and only when something moved."""
        now = time.monotonic()
        if self.page is not None and now - self.rendered_at < RENDER_EVERY:
            return self.page
        head = self.ledger.head()
        key = f"{self.version}|{head}"
        self.rendered_at = now
        if self.page is not None and key == self.rendered_key:
            return self.page
        with self.lock:
            known = list(self.known.values())
            screen = self.known.get(self.screen)
        received = Counter(PLATFORMS.get(q.platform, q.platform) for q in known)
        rejected = Counter(q.reason for q in known if q.state == "rejected")
        states = Counter(q.state for q in known)
        answered = sorted((q for q in known if q.state == "answered"),
                          key=lambda q: _order(q.changed), reverse=True)[:ANSWERED_SHOWN]
        html = render_template(
            "record_live.html", title=self.settings.event.title, head=head,
            screen=screen if screen and screen.state == "on_screen" else None,
            answered=answered, answered_count=states["answered"], waiting=states["approved"],
            unreviewed=states["new"] + states["held"], received=sorted(received.items()),
            rejected=sorted(rejected.items()), total=len(known), platforms=PLATFORMS,
            refresh=REFRESH_SECONDS)
        etag = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32]
        self.page, self.rendered_key = (etag, html), key
        return self.page


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return (int(ms or 0), int(seq or 0))


def tally() -> Tally:
    return current_app.extensions["floor.public"]  # type: ignore[no-any-return]


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    f = state.app.extensions["floor"]
    state.app.extensions["floor.public"] = counts = Tally(f.store, f.settings)
    f.feed.on_entry(counts.on_entry)


@bp.get("/record")
def page() -> Any:
    counts = tally()
    if not counts.loaded:
        floor().feed.start()  # before the snapshot: the tail starts where it is
        counts.load()
    etag, html = counts.render()
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = make_response(html)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.headers.update(HEADERS)
    return response
