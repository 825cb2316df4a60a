"""``/record``: the meeting's live public page, no login. What was answered, what is on screen,
how many wait, received counts by platform, rejected counts by reason, and the ledger's head.

Built for a stream's whole audience: each web process keeps a tally of every question's platform
and state, updated from the log as it passes (the same tail as the consoles, ``web/live.py``),
and renders the page at most once a second, only when the log or the ledger's head moved. The
response is cacheable (ETag, ``max-age=1``), so a viewer's reload or a proxy costs a 304. The
page reloads itself every REFRESH_SECONDS with a small script (a conditional GET); without it,
the browser's reload.

While the rendered page is fresh, ``FastPage`` (a WSGI layer in front of Flask) answers
``GET /record`` from memory, with the headers Flask gave that same page: a 304 or the bytes,
no routing, no request context, no template. Only the first request after RENDER_EVERY goes
through Flask (and renders, if something moved). In front of several web processes, nginx's
micro-cache (docs/deployment.md) turns the audience into about one request a second per node.

How far behind a view can be: REFRESH_SECONDS (the viewer's next reload) + RENDER_EVERY (the
page is at most that old when served) + 1 s in nginx's cache when there is one (``max-age``) +
the response time: 2 + 1 + 1 s, leaving a second of the 5 s promised for the response.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Flask, make_response, render_template, request

from aggregator.core.public_text import Rules, direction, public_text
from aggregator.core.question import PLATFORMS
from aggregator.core.store import LogEntry, Store
from aggregator.followers.ledger import Ledger
from web import Floor, floor

bp = Blueprint("public", __name__)

# A view is at most REFRESH (the page's own reload) + RENDER_EVERY + MAX_AGE seconds behind.
REFRESH_SECONDS = 2
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
    dir: str = "auto"  # the public text's direction, set when it is shown


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
        self.rendering = threading.Lock()

    def load(self) -> None:
        """Start from every question, read a chunk at a time (``Store.questions_in_chunks``:
        the moderators' actions in this process go on meanwhile). The feed was started first,
        so whatever it delivered is at least as new as what is read after it: a question's
        higher version wins, and a screen the feed reported stands."""
        last_id = self.store.last_log_id()
        screen = self.store.screen()
        for questions in self.store.questions_in_chunks():
            with self.lock:
                for q in questions:
                    self._take(q, last_id)
        with self.lock:
            if not self.screen_from_feed:
                self.screen = screen or ""
            self.version = max(self.version, last_id, key=_order)
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
        if not self.rendering.acquire(blocking=self.page is None):
            return self.page  # type: ignore[return-value]  # another thread is redrawing it
        try:
            return self._render(now)
        finally:
            self.rendering.release()

    def _render(self, now: float) -> tuple[str, str]:
        head = self.ledger.head()
        key = f"{self.version}|{head}"
        self.rendered_at = now
        if self.page is not None and key == self.rendered_key:
            return self.page
        with self.lock:
            known = list(self.known.values())
            screen = self.known.get(self.screen)
            version = self.version
        received = Counter(PLATFORMS.get(q.platform, q.platform) for q in known)
        rejected = Counter(q.reason for q in known if q.state == "rejected")
        states = Counter(q.state for q in known)
        answered = sorted((q for q in known if q.state == "answered"),
                          key=lambda q: _order(q.changed), reverse=True)[:ANSWERED_SHOWN]
        # The public text, as on the board (masked, the event's hashtags left out): a question
        # approved before triage reached it, or edited since, still shows no phone number here.
        rules = Rules.of(self.settings)

        def shown(q: _Known) -> _Known:
            text = public_text(q.text, rules)
            return replace(q, text=text, dir=direction(text))

        html = render_template(
            "record_live.html", title=self.settings.event.title, head=head,
            screen=shown(screen) if screen and screen.state == "on_screen" else None,
            answered=[shown(q) for q in answered], answered_count=states["answered"],
            waiting=states["approved"],
            unreviewed=states["new"] + states["held"], received=sorted(received.items()),
            rejected=sorted(rejected.items()), total=len(known), platforms=PLATFORMS,
            refresh=REFRESH_SECONDS, version=version)
        etag = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32]
        self.page, self.rendered_key = (etag, html), key
        return self.page


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return (int(ms or 0), int(seq or 0))


def tally() -> Tally:
    return floor().tally


class FastPage:
    """WSGI: ``GET /record`` answered from memory while the rendered page is fresh.

    The headers are those Flask gave the current page (security headers included), taken from
    the first response after each render; anything else, and a page older than RENDER_EVERY,
    goes to Flask as before."""

    PATH = "/record"

    def __init__(self, app: Callable[..., Iterable[bytes]], counts: Tally) -> None:
        self.app = app
        self.counts = counts
        # (etag, the 200's headers, the 304's headers, body), for the page Flask last served
        self.served: tuple[str, list[tuple[str, str]], list[tuple[str, str]], bytes] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        # A request with a body goes to Flask too, which refuses one over the size limit.
        if (environ.get("PATH_INFO") != self.PATH or environ.get("QUERY_STRING")
                or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
                or environ.get("CONTENT_LENGTH") not in (None, "", "0")):
            return self.app(environ, start_response)
        counts, served = self.counts, self.served
        page = counts.page
        if (served is None or page is None or served[0] != page[0]
                or time.monotonic() - counts.rendered_at >= RENDER_EVERY):
            return self._through_flask(environ, start_response)
        etag, full, bare, body = served
        wanted = environ.get("HTTP_IF_NONE_MATCH", "")
        if wanted and (f'"{etag}"' in wanted or wanted.strip() == "*"):
            start_response("304 NOT MODIFIED", bare)
            return [b""]
        start_response("200 OK", full)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _through_flask(self, environ: dict[str, Any], start_response: Callable[..., Any]
                       ) -> Iterable[bytes]:
        def keep(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            page = self.counts.page
            tag = next((v for k, v in headers if k.lower() == "etag"), "")
            per_viewer = any(k.lower() in ("set-cookie", "vary") for k, _ in headers)
            if (page is not None and status[:3] in ("200", "304") and tag == f'"{page[0]}"'
                    and not per_viewer):
                common = [(k, v) for k, v in headers
                          if k.lower() not in ("content-length", "content-type")]
                body = page[1].encode("utf-8")
                full = [*common, ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body)))]
                self.served = (page[0], full, common, body)
            return start_response(status, headers, *rest)

        return self.app(environ, keep)


def init_app(app: Flask, f: Floor) -> None:
    """The public page, its tally fed by the log, and FastPage in front of the app."""
    f.tally = Tally(f.store, f.settings)
    f.feed.on_entry(f.tally.on_entry)
    app.wsgi_app = FastPage(app.wsgi_app, f.tally)  # type: ignore[method-assign]
    app.register_blueprint(bp)


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
