"""The board screen and the stream overlay: their pages, and the ``/screen`` Socket.IO namespace.

Screens are read-only and see only the *board*: the question on screen and the next few
approved ones, each with its display text (as edited), platform, author (unless anonymised) and
"asked by N". The board is computed here, from the store, and sent whole: a screen never holds
a question it could show by mistake, and one that reconnects simply gets the board again.

A board is sent when it changes: the log entries that move the queue or the screen, or that
touch a question on the board (an edit, a group joining it), make us read it again, and it goes
to a kind's room (``screens``, ``overlays``, ``chairs``) only if it differs from what that room
was last sent. The link's kind decides what its socket sees: an overlay only the question on
screen, the chair's view its own fuller board (``web/chair.py`` registers its reader here).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import segno
from flask import Blueprint, Flask, abort, make_response, render_template, request
from flask_socketio import ConnectionRefusedError, emit, join_room

from aggregator.base.settings import Settings
from aggregator.core.payloads import Board, BoardItem, BoardQuestion
from aggregator.core.public_text import MASKED, Rules, platform_count, shown
from aggregator.core.question import PLATFORMS
from aggregator.core.store import LogEntry, Store
from web import Floor, floor
from web.capacity import refuse_if_full
from web.console import moderators_only
from web.extensions import socketio
from web.replies import refusing
from web.screen_links import ScreenLinks

log = logging.getLogger("floor.screen")

bp = Blueprint("screen", __name__)

NAMESPACE = "/screen"
# One room per kind of link: what a socket is sent depends on its link's kind, never on what
# the page asks for.
ROOMS = {"screen": "screens", "overlay": "overlays", "chair": "chairs"}
# Socket.IO event names, shared with screen.js through the page's config; and the console's
# (in /console) for its preview of the board.
EVENTS = {"board": "board", "revoked": "revoked"}
CONSOLE_EVENTS = {"board": "board"}
# How often a web process checks that the links its screens use are still valid. A revoked
# link's screens are cut off within this; each check is one HMGET, and only while screens are
# connected.
SWEEP_SECONDS = 1.0
# Entries that can change which questions a board lists without moving the queue: the meeting
# moved to another agenda item, or a question was tagged to one.
AGENDA_ENTRIES = frozenset({"agenda", "tag"})
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

# The board in one atomic read: the log id it is exactly as new as, the question on screen, the
# agenda item the meeting is on (its record, or '') and the first N of the queue on that item
# (question hashes are under KEYS[4] .. qid).
_BOARD = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local out = {last[1] and last[1][1] or '0-0'}
local screen = redis.call('GET', KEYS[2])
out[2] = screen and (redis.call('HGET', KEYS[4] .. screen, 'data') or '') or ''
local item = redis.call('GET', KEYS[5]) or ''
local record = item ~= '' and redis.call('HGET', KEYS[6], item) or false
if not record then item = '' end
out[3] = record or ''
local n = tonumber(ARGV[1])
if n > 0 and item == '' then
  for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - 1)) do
    out[#out + 1] = redis.call('HGET', KEYS[4] .. qid, 'data') or ''
  end
elseif n > 0 then
  for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local data = redis.call('HGET', KEYS[4] .. qid, 'data')
    if data then
      local ok, q = pcall(cjson.decode, data)
      if ok and type(q) == 'table' and q.item == item then
        out[#out + 1] = data
        if #out - 3 >= n then break end
      end
    end
  end
end
return out
"""


def item_named(record: str) -> BoardItem | None:
    """An agenda item as the board names it: {id, title}, or None."""
    try:
        item = json.loads(record) if record else None
    except ValueError:
        return None
    if not isinstance(item, dict) or not item.get("id"):
        return None
    return {"id": str(item["id"]), "title": str(item.get("title") or item["id"])}


def screen_id(qid: str) -> str:
    """What a screen knows a question by: not its platform id, which would name the asker
    (``x:<post id>`` opens the post) on a screen whose board is anonymised."""
    return hashlib.sha256(qid.encode()).hexdigest()[:16]


def for_screen(data: str, state: str, anonymise: bool, rules: Rules = MASKED
               ) -> BoardQuestion | None:
    """What a screen may know of one question, or None if it must not be shown. Its words are
    the public text (``aggregator.core.public_text``): masked, the event's hashtags left out."""
    try:
        q = json.loads(data)
    except ValueError:
        return None
    if not isinstance(q, dict) or q.get("state") != state \
            or not isinstance(q.get("id"), str) or not isinstance(q.get("text"), str):
        return None
    public = shown(q, rules)
    platform = str(q.get("platform") or "")
    board: BoardQuestion = {
        "id": screen_id(q["id"]),
        "text": public.text,
        "dir": public.dir,
        "platform": PLATFORMS.get(platform, platform),
        "asked_by": int(q.get("asked_by") or 1),
    }
    if platform_count(q) > 1:
        board["platforms"] = platform_count(q)
    if public.asked:
        board["asked"] = public.asked
    if not anonymise and q.get("author_name"):
        board["author"] = q["author_name"]
    if q.get("directed_to"):
        board["to"] = str(q["directed_to"])
    return board


class ScreenHub:
    """One per app: reads the board, sends it to the screens, cuts off revoked links."""

    def __init__(self, store: Store, settings: Settings, links: ScreenLinks) -> None:
        self.store = store
        self.settings = settings
        self.links = links
        self._read = store.conn.register_script(_BOARD)
        self.lock = threading.Lock()
        # What every screen of a kind was last sent (without its id), absent when they may
        # differ; and, per kind, the questions whose changes matter (those on its last view).
        self.sent: dict[str, dict[str, Any]] = {}
        self.watch: dict[str, set[str]] = {}
        # Kinds whose view is not the board (the chair's): how to read it, and the log entry
        # types besides queue and screen moves that change it.
        self.readers: dict[str, Callable[[], dict[str, Any]]] = {}
        self.triggers: dict[str, frozenset[str]] = {"screen": AGENDA_ENTRIES}
        self.sids: dict[str, str] = {}  # connected sid -> its link's hash
        self.kinds: dict[str, str] = {}  # connected sid -> its link's kind
        self._stop = threading.Event()
        self._watcher: Any = None

    def board(self) -> Board:
        """The board now: {id, current, next, item}, exactly as of log entry ``id``."""
        k = self.store.keys
        screen = self.settings.screen
        last_id, current, item, *queued = self._read(
            keys=[k.log, k.screen, k.queue, k.question(""), k.agenda_current, k.agenda],
            args=[screen.queue_length])
        rules = Rules.of(self.settings)
        queued_shown = (for_screen(d, "approved", screen.anonymise, rules) for d in queued if d)
        return {
            "id": last_id,
            "current": for_screen(current, "on_screen", screen.anonymise, rules)
            if current else None,
            "next": [q for q in queued_shown if q is not None],
            "item": item_named(item),
        }

    @staticmethod
    def ids(board: Mapping[str, Any]) -> set[str]:
        current = [board["current"]] if board["current"] else []
        return {q["id"] for q in current + board["next"]}

    @staticmethod
    def content(board: Mapping[str, Any]) -> dict[str, Any]:
        """What decides whether a board is worth sending: all but its log id and clock."""
        return {key: value for key, value in board.items() if key not in ("id", "now")}

    @staticmethod
    def view(board: Board, kind: str) -> Board:
        """What a link of this kind may see of the board: an overlay shows only the question on
        screen, so it is never sent the queue."""
        return board if kind == "screen" else {**board, "next": [], "item": None}

    def read(self, kind: str, board: Board | None = None) -> Mapping[str, Any]:
        """The view a kind's sockets are sent: its own reader's (the chair's), or the board's."""
        reader = self.readers.get(kind)
        if reader is not None:
            return reader()
        return self.view(board if board is not None else self.board(), kind)

    def touches(self, kind: str, entry: LogEntry) -> bool:
        """Whether ``entry`` may change what a kind of screen shows."""
        return "queue_edit" in entry.extra or "queue" in entry.extra or "screen" in entry.extra \
            or entry.type in self.triggers.get(kind, ()) \
            or any(screen_id(str(q.get("id"))) in self.watch.get(kind, ()) for q in entry.qs)

    # -- the rooms -------------------------------------------------------------------------

    def on_entry(self, server: Any, entry: LogEntry) -> None:
        """LiveFeed listener: send each kind of screen its view if this entry changed it."""
        with self.lock:
            if not self.sids:
                self.sent = {}  # nobody to tell; whoever connects gets the board then
                return
            due = [kind for kind in sorted(set(self.kinds.values()))
                   if kind not in self.sent or self.touches(kind, entry)]
            board: Board | None = None
            try:
                for kind in due:
                    if kind not in self.readers and board is None:
                        board = self.board()
                    view = self.read(kind, board)
                    if self.content(view) != self.sent.get(kind):
                        server.emit(EVENTS["board"], view, namespace=NAMESPACE, to=ROOMS[kind])
                        self.sent[kind] = self.content(view)
                    self.watch[kind] = self.ids(view)
            except Exception:
                self.sent = {}  # unknown now: the next entry, whatever it is, sends the board
                raise

    def join(self, sid: str, digest: str, kind: str) -> None:
        """A screen connected: it joins its kind's room and gets the board now."""
        with self.lock:
            view = self.read(kind)
            join_room(ROOMS[kind])
            join_room(self.link_room(digest))
            emit(EVENTS["board"], view)
            if not self.sids:
                self.sent, self.watch = {}, {}
            if kind not in self.kinds.values():
                self.sent[kind] = self.content(view)
            elif self.content(view) != self.sent.get(kind):
                self.sent.pop(kind, None)  # the room holds different boards: send the next one
            self.watch[kind] = self.watch.get(kind, set()) | self.ids(view)
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
    return floor().screens


def init_app(app: Flask, f: Floor) -> None:
    """The screens' pages, and the app's screen hub, fed by the log."""
    f.screens = ScreenHub(f.store, f.settings, ScreenLinks(f.store.conn, f.settings.event.slug))
    f.feed.on_entry(f.screens.on_entry, first=True)
    app.register_blueprint(bp)


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
    ask_url = settings.screen.ask_url
    response = make_response(render_template(
        template, title=settings.event.title, video=video, config=config,
        slots=settings.screen.queue_length, ask_url=ask_url, ask_short=short_address(ask_url)))
    response.headers.update(HEADERS)
    return response


def short_address(url: str) -> str:
    """The address as people type it: no scheme, no trailing slash."""
    return re.sub(r"^https?://", "", url).rstrip("/")


@functools.lru_cache(maxsize=4)
def qr_svg(url: str) -> bytes:
    """A QR code of ``url`` as SVG: dark modules on white with the quiet zone scanners need,
    error correction M (readable off a projected, streamed picture)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=10, border=4, dark="#000000", light="#ffffff",
        title="QR code of " + url)
    return out.getvalue()


@bp.get("/qr/ask.svg")
def ask_qr() -> Any:
    """The QR code of the question form's public address ([screen] ask_url), from our origin:
    the board and overlay load nothing from elsewhere."""
    url = floor().settings.screen.ask_url
    if not url:
        abort(404)
    response = make_response(qr_svg(url))
    response.headers["Content-Type"] = "image/svg+xml"
    response.headers["Cache-Control"] = "no-cache"
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
    refuse_if_full()
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


# -- the console's "On the board now" ----------------------------------------------------------

@moderators_only(CONSOLE_EVENTS["board"])
def board_preview(moderator: str, data: Any) -> dict[str, Any]:
    """The board exactly as the board screens are sent it, for the console's preview: the
    console asks whenever its own state says the board may have changed."""
    screens = hub()
    return {"ok": True, "board": screens.view(screens.board(), "screen")}
