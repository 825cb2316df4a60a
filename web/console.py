"""The moderators' console: the page, and the ``/console`` Socket.IO namespace.

A console loads a snapshot (with the log id it is at), then applies every log entry after it;
after a dropped connection it asks for the entries after the last id it saw. Besides the log,
each web process pushes to its own consoles who is online and editing what (``presence``,
``editing``, ``editing_done``) and the sources' health (``health``): on connect, when it
changes, and from one background task per process that runs while a console is connected.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import redis
from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_socketio import ConnectionRefusedError, emit, join_room

from aggregator.moderation import Refused
from aggregator.question import PLATFORMS
from aggregator.store import LogEntry
from web import Floor, floor
from web.auth import current_moderator, login_required, private_headers
from web.extensions import socketio
from web.presence import Presence

log = logging.getLogger("floor.console")
bp = Blueprint("console", __name__)

NAMESPACE = "/console"
ROOM = "moderators"
# Socket.IO event names, shared with the page's script through the template.
EVENTS = {"snapshot": "snapshot", "entry": "entry", "catch_up": "catch_up", "act": "act",
          "presence": "presence", "editing": "editing", "editing_done": "editing_done",
          "health": "health"}
# Entries sent in answer to one catch-up request; a console further behind reloads instead.
CATCH_UP_LIMIT = 5_000
# How often each web process refreshes its moderators' presence and looks at the sources'
# health. Both are a couple of Redis round trips; a push goes out only when something changed.
TICK_SECONDS = 3.0
# A source that has not polled for this many of its intervals is failing.
STALE_INTERVALS = 3
DEFAULT_INTERVAL = 15.0
SOURCE_LABELS = {"x": "X", "facebook": "Facebook", "instagram": "Instagram",
                 "youtube": "YouTube", "rehearsal": "Rehearsal feed", "web": "Web form"}


@bp.get("/")
def home() -> Any:
    return redirect(url_for("console.index"))


@bp.get("/console")
@login_required
def index() -> Any:
    settings = floor().settings
    config = {"namespace": NAMESPACE, "events": EVENTS, "moderator": session["moderator"],
              "reject_reasons": settings.moderation.reject_reasons[:9],
              "queue_length": settings.screen.queue_length,
              "board_max_chars": settings.screen.board_max_chars,
              "anonymise": settings.screen.anonymise, "platforms": PLATFORMS}
    return private_headers(make_response(render_template(
        "console.html", title=settings.event.title, config=config,
        moderator=session["moderator"], reject_reasons=config["reject_reasons"])))


# -- the sources' health, in the words the panel shows -----------------------------------------

def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 90:
        return f"{value:.0f} s"
    if value < 5400:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def assess(record: dict[str, Any], now: datetime) -> tuple[str, str]:
    """One source's verdict (ok, starting, paused, failing) and why, in plain words."""
    state = str(record.get("state") or "starting")
    interval = _number(record.get("interval"), DEFAULT_INTERVAL)
    last_poll = _when(record.get("last_poll"))
    paused_until = _when(record.get("paused_until"))
    error = str(record.get("last_error") or "").strip()
    if state == "stopped":
        return "failing", "stopped until someone fixes it" + (f": {error}" if error else "")
    if state == "offline":
        return "failing", "its poller was shut down"
    if not record.get("alive"):
        if state == "starting" and last_poll is None:
            return "starting", "waiting for its first poll"
        return "failing", "its poller is not running (no heartbeat)"
    if state == "paused" and paused_until is not None and paused_until > now:
        return "paused", f"rate limited by the platform until {paused_until:%H:%M:%S} UTC"
    reference = max((t for t in (last_poll, paused_until) if t is not None), default=None)
    if reference is None:
        return "starting", "waiting for its first poll"
    if (now - reference).total_seconds() > STALE_INTERVALS * interval:
        return "failing", (f"no poll for over {STALE_INTERVALS} intervals "
                           f"(it should poll every {_seconds(interval)})")
    if state == "failing":
        return "failing", "the last poll failed" + (f": {error}" if error else "")
    if state == "starting":
        return "starting", "waiting for its first poll"
    return "ok", "polling normally"


def _rate(record: dict[str, Any], verdict: str) -> str:
    if verdict == "paused":
        return "paused by the platform"
    remaining, limit = record.get("rate_remaining"), record.get("rate_limit")
    if isinstance(remaining, int):
        return f"{remaining} of {limit} calls left" if isinstance(limit, int) \
            else f"{remaining} calls left"
    usage = record.get("api_usage_pct")
    if isinstance(usage, int | float):
        return f"{usage:.0f}% of the API allowance used"
    return "no limit reached"


def health_report(records: dict[str, dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The panel's rows: one per source, with a verdict and the facts behind it."""
    rows = []
    for name, record in sorted(records.items()):
        verdict, summary = assess(record, now)
        detail = record.get("detail") or record.get("backend") or ""
        rows.append({
            "name": name, "label": SOURCE_LABELS.get(name, name), "verdict": verdict,
            "state": record.get("state") or "starting",
            "summary": summary, "last_poll": record.get("last_poll") or "",
            "last_items": record.get("last_items") or 0,
            "items_total": record.get("items_total") or 0,
            "rate": _rate(record, verdict), "paused_until": record.get("paused_until") or "",
            "last_error": record.get("last_error") or "", "detail": str(detail),
            "dead_letters": record.get("dead_letters") or 0,
            "interval": _number(record.get("interval"), DEFAULT_INTERVAL),
        })
    return rows


def _health(f: Floor) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"now": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sources": health_report(f.health.all(), now)}


# -- this process's consoles ------------------------------------------------------------------

class _Consoles:
    """The consoles connected to this process, and the task that keeps them told."""

    def __init__(self, f: Floor, tick: float) -> None:
        self.floor = f
        self.presence = Presence(f.store.conn, f.store.keys.event)
        self.tick = tick
        self.lock = threading.Lock()
        self.connections: dict[str, str] = {}  # sid -> moderator
        self.running = False
        self.sent_presence: Any = None
        self.sent_health: Any = None

    def add(self, sid: str, moderator: str) -> None:
        self.presence.join(moderator, sid)
        with self.lock:
            self.connections[sid] = moderator
            start = not self.running
            self.running = True
        if start:
            socketio.start_background_task(self._run, socketio.server)

    def remove(self, sid: str) -> tuple[str | None, list[str]]:
        with self.lock:
            moderator = self.connections.pop(sid, None)
        if moderator is None:
            return None, []
        return moderator, self.presence.leave(moderator, sid)

    def push_presence(self, server: Any) -> None:
        state = self.presence.state()
        self.sent_presence = state
        server.emit(EVENTS["presence"], state, namespace=NAMESPACE, to=ROOM)

    def _run(self, server: Any) -> None:
        """Refresh presence, push presence and health when they change; end with the last
        console (or when a new app replaces this server, as in tests)."""
        while True:
            socketio.sleep(self.tick)
            with self.lock:
                if not self.connections or socketio.server is not server:
                    self.running = False
                    return
                mine = [(m, s) for s, m in self.connections.items()]
            try:
                self.presence.refresh(mine)
                state = self.presence.state()
                if state != self.sent_presence:
                    self.sent_presence = state
                    server.emit(EVENTS["presence"], state, namespace=NAMESPACE, to=ROOM)
                health = _health(self.floor)
                if health["sources"] != self.sent_health:
                    self.sent_health = health["sources"]
                    server.emit(EVENTS["health"], health, namespace=NAMESPACE, to=ROOM)
            except redis.RedisError as exc:
                log.warning("console: cannot refresh presence or health (%s)", exc)
            except Exception:  # noqa: BLE001 - the task must outlive one bad tick
                log.exception("console: presence/health tick failed")


def _consoles() -> _Consoles:
    consoles = current_app.extensions.get("floor.consoles")
    if consoles is None:
        tick = float(current_app.config.get("FLOOR_CONSOLE_TICK", TICK_SECONDS))
        consoles = current_app.extensions.setdefault("floor.consoles", _Consoles(floor(), tick))
    return consoles  # type: ignore[no-any-return]


def _moderator() -> str:
    return current_moderator() or ""


@bp.record_once
def _relay_log(state: BlueprintSetupState) -> None:
    state.app.extensions["floor"].feed.on_entry(_relay)


def _relay(server: Any, entry: LogEntry) -> None:
    server.emit(EVENTS["entry"], entry.to_dict(), namespace=NAMESPACE, to=ROOM)


# -- the namespace ----------------------------------------------------------------------------

@socketio.on("connect", namespace=NAMESPACE)
def connect(auth: Any = None) -> None:
    """Refuse strangers; send a snapshot, unless the console says it has state and will ask
    for what it missed (``auth = {"after": id}``); then presence and health."""
    moderator = _moderator()
    if not moderator:
        raise ConnectionRefusedError("log in as a moderator first")
    f = floor()
    try:
        f.feed.start()  # before the snapshot: the tail starts where the snapshot is
        join_room(ROOM)
        resuming = isinstance(auth, dict) and isinstance(auth.get("after"), str)
        if not resuming:
            emit(EVENTS["snapshot"], f.store.snapshot().to_dict())
        consoles = _consoles()
        consoles.add(request.sid, moderator)  # type: ignore[attr-defined]
        consoles.push_presence(socketio.server)
        emit(EVENTS["health"], _health(f))
    except redis.RedisError as exc:
        # Refused with a reason, not dropped silently: the page says so and tries again.
        raise ConnectionRefusedError(f"the event's store is unavailable ({exc}); "
                                     "retrying") from exc


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(reason: Any = None) -> None:
    consoles = _consoles()
    moderator, released = consoles.remove(request.sid)  # type: ignore[attr-defined]
    if moderator is None:
        return
    for qid in released:
        socketio.emit(EVENTS["editing_done"], {"qid": qid, "moderator": moderator},
                      namespace=NAMESPACE, to=ROOM)
    consoles.push_presence(socketio.server)


@socketio.on(EVENTS["catch_up"], namespace=NAMESPACE)
def catch_up(data: Any) -> dict[str, Any]:
    after = str((data or {}).get("after") or "0-0") if isinstance(data, dict) else "0-0"
    try:
        entries = floor().store.log_after(after, count=CATCH_UP_LIMIT + 1)
    except redis.ResponseError:
        return {"reload": True}  # not a stream id: start again from a snapshot
    if len(entries) > CATCH_UP_LIMIT:
        return {"reload": True}
    return {"entries": [e.to_dict() for e in entries]}


@socketio.on(EVENTS["act"], namespace=NAMESPACE)
def act(data: Any) -> dict[str, Any]:
    """One moderator action; the answer says whether it was applied, or why not."""
    if not isinstance(data, dict):
        return {"ok": False, "error": "malformed action"}
    moderator = _moderator()
    f = floor()
    if not moderator:
        return {"ok": False, "error": "your moderator account was removed; log in again"}
    try:
        if data.get("action") == "clear":
            entry_id = f.moderation.clear_screen(moderator)
        else:
            version = data.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                return {"ok": False, "error": "the action must name the version you saw"}
            params = data.get("params")
            if not isinstance(params, dict):
                params = {}
            entry_id = f.moderation.apply(str(data.get("action")), str(data.get("qid")), version,
                                          moderator, **params)
    except Refused as exc:
        return {"ok": False, "error": str(exc)}
    except TypeError:
        return {"ok": False, "error": f"unexpected details for {data.get('action')}"}
    if data.get("action") == "edit":
        _stop_editing(str(data.get("qid")), moderator)
    return {"ok": True, "id": entry_id}


def _qid(data: Any) -> str | None:
    qid = data.get("qid") if isinstance(data, dict) else None
    return qid if isinstance(qid, str) and 0 < len(qid) <= 300 else None


@socketio.on(EVENTS["editing"], namespace=NAMESPACE)
def editing(data: Any) -> dict[str, Any]:
    """A soft lock: tell the other consoles this moderator is editing a card."""
    qid = _qid(data)
    if qid is None:
        return {"ok": False, "error": "which question?"}
    moderator = _moderator()
    _consoles().presence.start_editing(qid, moderator, request.sid)  # type: ignore[attr-defined]
    emit(EVENTS["editing"], {"qid": qid, "moderator": moderator}, to=ROOM, include_self=False)
    others = [m for m in _consoles().presence.editing().get(qid, []) if m != moderator]
    return {"ok": True, "others": others}


def _stop_editing(qid: str, moderator: str) -> None:
    _consoles().presence.stop_editing(qid, request.sid)  # type: ignore[attr-defined]
    emit(EVENTS["editing_done"], {"qid": qid, "moderator": moderator}, to=ROOM,
         include_self=False, namespace=NAMESPACE)


@socketio.on(EVENTS["editing_done"], namespace=NAMESPACE)
def editing_done(data: Any) -> dict[str, Any]:
    qid = _qid(data)
    if qid is None:
        return {"ok": False, "error": "which question?"}
    _stop_editing(qid, _moderator())
    return {"ok": True}


@socketio.on(EVENTS["health"], namespace=NAMESPACE)
def health(data: Any = None) -> dict[str, Any]:
    """The sources' health now (consoles also get it pushed when it changes)."""
    return _health(floor())
