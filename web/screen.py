"""The board screen and the stream overlay: their pages, and the ``/screen`` Socket.IO namespace.

Screens are read-only and see only the *board*: the question on screen and the next few
approved ones, each with its display text (as edited), platform, author (unless anonymised) and
"asked by N". The board is computed here, from the store, and sent whole: a screen never holds
a question it could show by mistake, and one that reconnects simply gets the board again.

A board is sent when it changes: the log entries that move the queue or the screen, or that
touch a question on the board (an edit, a group joining it), make us read it again, and it goes
to a kind's room (``screens``, ``overlays``) only if it differs from what that room was last
sent. The link's kind decides what its socket sees: an overlay only the question on screen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
from typing import Any

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_socketio import ConnectionRefusedError, emit, join_room

from aggregator.normalise import fold
from aggregator.payloads import Board, BoardQuestion
from aggregator.question import PLATFORMS
from aggregator.settings import Settings
from aggregator.store import LogEntry, Store
from web import floor
from web.extensions import socketio
from web.replies import refusing
from web.screen_links import ScreenLinks

log = logging.getLogger("floor.screen")

bp = Blueprint("screen", __name__)

NAMESPACE = "/screen"
# One room per kind of link: what a socket is sent depends on its link's kind, never on what
# the page asks for.
ROOMS = {"screen": "screens", "overlay": "overlays"}
# Socket.IO event names, shared with screen.js through the page's config.
EVENTS = {"board": "board", "revoked": "revoked"}
# How often a web process checks that the links its screens use are still valid. A revoked
# link's screens are cut off within this; each check is one HMGET, and only while screens are
# connected.
SWEEP_SECONDS = 1.0
YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,32}$")
# Pages with a secret in their address: no referrer beyond our origin (the YouTube player needs
# the origin), nothing cached, nothing indexed, nothing loaded but our files and the player, and
# never inside another page's frame (an OBS browser source loads the page itself, unframed).
HEADERS = {
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-src https://www.youtube-nocookie.com; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"),
}

# The board in one atomic read: the log id it is exactly as new as, the question on screen and
# the first N of the queue (question hashes are under KEYS[4] .. qid).
_BOARD = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local out = {last[1] and last[1][1] or '0-0'}
local screen = redis.call('GET', KEYS[2])
out[2] = screen and (redis.call('HGET', KEYS[4] .. screen, 'data') or '') or ''
local n = tonumber(ARGV[1])
if n > 0 then
  for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - 1)) do
    out[#out + 1] = redis.call('HGET', KEYS[4] .. qid, 'data') or ''
  end
end
return out
"""


def screen_id(qid: str) -> str:
    """What a screen knows a question by: not its platform id, which would name the asker
    (``x:<post id>`` opens the post) on a screen whose board is anonymised."""
    return hashlib.sha256(qid.encode()).hexdigest()[:16]


# A hashtag as the board sees one: "#" after a non-word character, then word characters.
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
# What the direction of a question's text is not read from: hashtags, mentions and links (an
# Arabic question that starts "#APM2026" or "@trust" is still right-to-left).
_NOT_WORDS = re.compile(r"(?<!\w)[#@]\w+|https?://\S+")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,.;:!?\u061f\u060c])")


def board_tags(settings: Settings) -> frozenset[str]:
    """The hashtags the board leaves out of questions' text (folded, without "#")."""
    if not settings.screen.strip_hashtags:
        return frozenset()
    return frozenset(fold(tag.lstrip("#")) for tag in settings.event.hashtags)


def strip_tags(text: str, tags: frozenset[str]) -> str:
    """``text`` without the event's own hashtags (whatever their case or width), the spaces
    they leave tidied; the text unchanged if it has none, or if nothing else would be left."""
    if not tags:
        return text
    kept = _HASHTAG.sub(lambda m: "" if fold(m[1]) in tags else m[0], text)
    if kept == text:
        return text
    lines = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip()
             for line in kept.split("\n")]
    tidied = "\n".join(lines).strip()
    return tidied if any(ch.isalnum() for ch in tidied) else text


def direction(text: str) -> str:
    """"rtl" or "ltr" from the first letter of the words (hashtags, mentions and links
    skipped), as a reader sees it; "auto" when there is none."""
    for ch in _NOT_WORDS.sub(" ", text):
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "auto"


def for_screen(data: str, state: str, anonymise: bool,
               tags: frozenset[str] = frozenset()) -> BoardQuestion | None:
    """What a screen may know of one question, or None if it must not be shown. ``tags``:
    the hashtags taken out of the text (see ``board_tags``)."""
    try:
        q = json.loads(data)
    except ValueError:
        return None
    if not isinstance(q, dict) or q.get("state") != state \
            or not isinstance(q.get("id"), str) or not isinstance(q.get("text"), str):
        return None
    text = strip_tags(q["text"], tags)
    platform = str(q.get("platform") or "")
    shown: BoardQuestion = {
        "id": screen_id(q["id"]),
        "text": text,
        "dir": direction(text),
        "platform": PLATFORMS.get(platform, platform),
        "asked_by": int(q.get("asked_by") or 1),
    }
    if not anonymise and q.get("author_name"):
        shown["author"] = q["author_name"]
    return shown


class ScreenHub:
    """One per app: reads the board, sends it to the screens, cuts off revoked links."""

    def __init__(self, store: Store, settings: Settings, links: ScreenLinks) -> None:
        self.store = store
        self.settings = settings
        self.links = links
        self._read = store.conn.register_script(_BOARD)
        self.lock = threading.Lock()
        # What every screen of a kind was last sent (without its id), absent when they may
        # differ; and the questions whose changes matter (those on any board sent since).
        self.sent: dict[str, dict[str, Any]] = {}
        self.watch: set[str] = set()
        self.sids: dict[str, str] = {}  # connected sid -> its link's hash
        self.kinds: dict[str, str] = {}  # connected sid -> its link's kind
        self._stop = threading.Event()
        self._watcher: Any = None

    def board(self) -> Board:
        """The board now: {id, current, next}, exactly as of log entry ``id``."""
        k = self.store.keys
        screen = self.settings.screen
        last_id, current, *queued = self._read(
            keys=[k.log, k.screen, k.queue, k.question("")], args=[screen.queue_length])
        tags = board_tags(self.settings)
        shown = (for_screen(d, "approved", screen.anonymise, tags) for d in queued if d)
        return {
            "id": last_id,
            "current": for_screen(current, "on_screen", screen.anonymise, tags)
            if current else None,
            "next": [q for q in shown if q is not None],
        }

    @staticmethod
    def ids(board: Board) -> set[str]:
        current = [board["current"]] if board["current"] else []
        return {q["id"] for q in current + board["next"]}

    @staticmethod
    def content(board: Board) -> dict[str, Any]:
        return {"current": board["current"], "next": board["next"]}

    @staticmethod
    def view(board: Board, kind: str) -> Board:
        """What a link of this kind may see of the board: an overlay shows only the question on
        screen, so it is never sent the queue."""
        return board if kind == "screen" else {**board, "next": []}

    # -- the rooms -------------------------------------------------------------------------

    def on_entry(self, server: Any, entry: LogEntry) -> None:
        """LiveFeed listener: send each kind of screen the board if this entry changed it."""
        with self.lock:
            if not self.sids:
                self.sent = {}  # nobody to tell; whoever connects gets the board then
                return
            kinds = set(self.kinds.values())
            if all(kind in self.sent for kind in kinds) and "queue" not in entry.extra \
                    and "screen" not in entry.extra \
                    and not any(screen_id(str(q.get("id"))) in self.watch for q in entry.qs):
                return
            try:
                board = self.board()
            except Exception:
                self.sent = {}  # unknown now: the next entry, whatever it is, sends the board
                raise
            for kind in sorted(kinds):
                view = self.view(board, kind)
                if self.content(view) != self.sent.get(kind):
                    server.emit(EVENTS["board"], view, namespace=NAMESPACE, to=ROOMS[kind])
                    self.sent[kind] = self.content(view)
            self.watch = self.ids(board)

    def join(self, sid: str, digest: str, kind: str) -> None:
        """A screen connected: it joins its kind's room and gets the board now."""
        with self.lock:
            board = self.board()
            view = self.view(board, kind)
            join_room(ROOMS[kind])
            join_room(self.link_room(digest))
            emit(EVENTS["board"], view)
            if not self.sids:
                self.sent, self.watch = {}, set()
            if kind not in self.kinds.values():
                self.sent[kind] = self.content(view)
            elif self.content(view) != self.sent.get(kind):
                self.sent.pop(kind, None)  # the room holds different boards: send the next one
            self.watch |= self.ids(board)
            self.sids[sid] = digest
            self.kinds[sid] = kind

    def leave(self, sid: str) -> None:
        with self.lock:
            self.sids.pop(sid, None)
            self.kinds.pop(sid, None)

    @staticmethod
    def link_room(digest: str) -> str:
        return "link:" + digest

    # -- revoked links ---------------------------------------------------------------------

    def start(self, server: Any) -> None:
        """Start checking this process's screens' links (once per Socket.IO server)."""
        with self.lock:
            if self._watcher is server:
                return
            self._watcher = server
            self._stop.clear()
            socketio.start_background_task(self._sweep_loop, server)

    def stop(self) -> None:
        self._stop.set()

    def _sweep_loop(self, server: Any) -> None:
        while socketio.server is server and not self._stop.wait(SWEEP_SECONDS):
            try:
                self.sweep(server)
            except Exception:  # noqa: BLE001 - Redis away: keep the screens, check again later
                log.warning("screen: cannot check the screen links; retrying", exc_info=True)

    def sweep(self, server: Any) -> list[str]:
        """Disconnect the screens whose link was revoked; returns their sids."""
        with self.lock:
            using = dict(self.sids)
        if not using:
            return []
        live = self.links.live(sorted(set(using.values())))
        cut = [sid for sid, digest in using.items() if digest not in live]
        for digest in {using[sid] for sid in cut}:
            log.info("screen: link %s was revoked; disconnecting its screens", digest[:10])
            server.emit(EVENTS["revoked"], {}, namespace=NAMESPACE, to=self.link_room(digest))
        for sid in cut:
            self.leave(sid)
            server.disconnect(sid, namespace=NAMESPACE)
        return cut


def hub() -> ScreenHub:
    return current_app.extensions["floor.screen"]  # type: ignore[no-any-return]


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    f = state.app.extensions["floor"]
    screens = ScreenHub(f.store, f.settings, ScreenLinks(f.store.conn, f.settings.event.slug))
    state.app.extensions["floor.screen"] = screens
    f.feed.on_entry(screens.on_entry)


# -- pages --------------------------------------------------------------------------------

def _page(secret: str, kind: str, template: str) -> Any:
    link = hub().links.find(secret)
    if link is None or link.kind != kind:
        abort(404)
    settings = floor().settings
    video = settings.screen.youtube_video_id.strip()
    if video and not YOUTUBE_ID.match(video):
        log.warning("screen: ignoring youtube_video_id %r: not a YouTube video id", video)
        video = ""
    config = {"namespace": NAMESPACE, "events": EVENTS, "token": secret, "mode": kind}
    response = make_response(render_template(
        template, title=settings.event.title, video=video, config=config,
        slots=settings.screen.queue_length))
    response.headers.update(HEADERS)
    return response


@bp.get("/screen/<secret>")
def screen_page(secret: str) -> Any:
    return _page(secret, "screen", "screen.html")


@bp.get("/overlay/<secret>")
def overlay_page(secret: str) -> Any:
    return _page(secret, "overlay", "overlay.html")


# -- the /screen namespace ----------------------------------------------------------------

@socketio.on("connect", namespace=NAMESPACE)
@refusing(NAMESPACE)
def connect(auth: Any = None) -> None:
    """A screen or an overlay, by its link's secret. The link's kind, not the page, decides
    what the socket is sent."""
    secret = auth.get("token") if isinstance(auth, dict) else None
    screens = hub()
    link = screens.links.find(secret) if isinstance(secret, str) else None
    if link is None:
        raise ConnectionRefusedError("this screen link is unknown or was revoked",
                                     {"revoked": True})
    floor().feed.start()  # before the board is read: the tail starts where it is
    screens.start(socketio.server)
    screens.join(request.sid, link.digest, link.kind)  # type: ignore[attr-defined]


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(*args: Any) -> None:
    hub().leave(request.sid)  # type: ignore[attr-defined]
