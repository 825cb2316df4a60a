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
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis
from flask import (
    Blueprint,
    Flask,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_socketio import ConnectionRefusedError, emit, join_room

from aggregator.base.platforms import SOURCE_LABELS
from aggregator.core.actions import ACTIONS, ENTRY_WORDS, MANY_MAX, MUTED
from aggregator.core.actions import as_config as actions_config
from aggregator.core.agenda import MAX_TITLE
from aggregator.core.columns import PAGE, PageError
from aggregator.core.filters import FilterError
from aggregator.core.filters import parse as parse_filters
from aggregator.core.moderation import Refused
from aggregator.core.notes import NOTE_MAX
from aggregator.core.question import PLATFORMS, STATE_WORDS
from aggregator.core.search_index import TextIndex
from aggregator.core.store import LogEntry
from aggregator.followers.loop import LABELS as FOLLOWER_LABELS
from aggregator.followers.loop import expected as expected_followers
from web import REQUEST_LIMIT, Floor, floor
from web.auth import current_moderator, login_required, private_headers, session_of_moderator
from web.capacity import CONSOLE_RESERVE, refuse_if_full
from web.extensions import socketio
from web.live import LiveFeed
from web.presence import Presence
from web.record_panel import RecordPanel
from web.replies import BadRequest, answering, failure, refusing

log = logging.getLogger("floor.console")
bp = Blueprint("console", __name__)
Handler = TypeVar("Handler", bound=Callable[[str, Any], Any])

NAMESPACE = "/console"
ROOM = "moderators"
# Socket.IO event names, shared with the page's script through the template.
EVENTS = {"snapshot": "snapshot", "entry": "entry", "catch_up": "catch_up", "act": "act",
          "presence": "presence", "editing": "editing", "editing_done": "editing_done",
          "health": "health", "page": "page", "record": "record", "places": "places"}
# Entries sent in answer to one catch-up request; a console further behind reloads instead.
CATCH_UP_LIMIT = 5_000
# How often each web process refreshes its moderators' presence and looks at the sources'
# health. Both are a couple of Redis round trips; a push goes out only when something changed.
TICK_SECONDS = 3.0
# How often each web process checks that its consoles' sessions are still valid: a moderator
# logged out, removed or given a new password is cut off within this (plus the disconnect),
# well inside the second we promise. One pipelined round trip, only while consoles are connected.
SWEEP_SECONDS = 0.5
# A source that has not polled for this many of its intervals is failing.
STALE_INTERVALS = 3
DEFAULT_INTERVAL = 15.0


@bp.get("/")
def home() -> Any:
    return redirect(url_for("console.index"))


@bp.get("/console")
@login_required
def index() -> Any:
    settings = floor().settings
    # max_message: the longest message the socket takes (engine.io closes the connection on a
    # longer one without a word), so the console refuses to send one and says why.
    config = {"namespace": NAMESPACE, "events": EVENTS, "moderator": session["moderator"],
              "max_message": REQUEST_LIMIT,
              "reject_reasons": settings.moderation.reject_reasons[:9],
              "queue_length": settings.screen.queue_length,
              "board_max_chars": settings.screen.board_max_chars,
              "anonymise": settings.screen.anonymise, "platforms": PLATFORMS,
              "actions": actions_config(), "entry_words": ENTRY_WORDS, "states": STATE_WORDS,
              "muted_reason": MUTED,
              "chair": {"soft_limit_seconds": settings.chair.soft_limit_seconds,
                        "note_max": NOTE_MAX, "title_max": MAX_TITLE,
                        "board_members": settings.chair.board_members,
                        "events": {"note": "note", "notes": "notes", "agenda": "agenda",
                                   "agenda_change": "agenda_change"}},
              # "On the board now" asks for the board itself (web/screen.py, board_preview)
              "preview": {"event": "board"}}
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


def assess_follower(record: dict[str, Any], enabled: bool) -> tuple[str, str]:
    """One follower's verdict (ok, starting, failing, off) and why: a dead one fails as a
    silent source does; one the settings turn off raises no alarm."""
    state = str(record.get("state") or "starting")
    error = str(record.get("last_error") or "").strip()
    if not enabled:
        return "off", "turned off in the settings"
    if state == "offline":
        return "failing", "it was shut down"
    if not record.get("alive"):
        return "failing", "it is not running (no heartbeat)"
    if state == "retrying":
        return "failing", error or "Redis unavailable"
    if state == "starting":
        return "starting", "getting ready to follow the log"
    return "ok", "following the log"


def follower_report(records: dict[str, dict[str, Any]],
                    expected: tuple[str, ...]) -> list[dict[str, Any]]:
    """The panel's rows for the log's followers that have reported, ``expected`` (the settings
    run them) or not. The heartbeat's time is left out: it changes every few seconds, and a
    push goes out only when a row changes."""
    rows = []
    for name, record in sorted(records.items()):
        verdict, summary = assess_follower(record, name in expected)
        lag = record.get("lag")
        rows.append({
            "name": name, "label": FOLLOWER_LABELS.get(name, name), "verdict": verdict,
            "state": record.get("state") or "starting", "summary": summary,
            "started_at": record.get("started_at") or "",
            "entries": record.get("entries") or 0, "lag": lag if isinstance(lag, int) else None,
            "last_error": record.get("last_error") or "",
        })
    return rows


def _health(f: Floor) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"now": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sources": health_report(f.health.all(), now),
            "followers": follower_report(f.health.followers(), expected_followers(f.settings))}


# -- this process's consoles ------------------------------------------------------------------

class _Consoles:
    """The consoles connected to this process, and the task that keeps them told and cuts off
    those whose session has ended."""

    def __init__(self, f: Floor, tick: float) -> None:
        self.floor = f
        self.presence = Presence(f.store.conn, f.store.keys.event)
        self.tick = tick
        self.lock = threading.Lock()
        self.connections: dict[str, tuple[str, str]] = {}  # sid -> (moderator, generation)
        self.running = False
        self.sent_presence: Any = None
        self.sent_health: Any = None

    def add(self, sid: str, moderator: str, generation: str) -> None:
        self.presence.join(moderator, sid)
        with self.lock:
            self.connections[sid] = (moderator, generation)
            start = not self.running
            self.running = True
        if start:
            socketio.start_background_task(self._run, socketio.server)

    def remove(self, sid: str) -> tuple[str | None, list[str]]:
        with self.lock:
            moderator, _ = self.connections.pop(sid, (None, None))
        if moderator is None:
            return None, []
        return moderator, self.presence.leave(moderator, sid)

    def push_presence(self, server: Any) -> None:
        state = self.presence.state()
        self.sent_presence = state
        server.emit(EVENTS["presence"], state, namespace=NAMESPACE, to=ROOM)

    def sweep(self, server: Any) -> list[str]:
        """Disconnect the consoles whose session has ended; returns their sids."""
        with self.lock:
            using = dict(self.connections)
        if not using:
            return []
        live = self.floor.accounts.live(using.values())
        cut = [sid for sid, held in using.items() if held not in live]
        for sid in cut:
            log.info("console: the session of %s has ended; disconnecting it", using[sid][0])
            server.disconnect(sid, namespace=NAMESPACE)
        return cut

    def _run(self, server: Any) -> None:
        """Cut off ended sessions every SWEEP_SECONDS; every tick, refresh presence and push
        presence and health when they change. Ends with the last console (or when a new app
        replaces this server, as in tests)."""
        next_tick = time.monotonic() + self.tick
        while True:
            socketio.sleep(min(self.tick, SWEEP_SECONDS))
            with self.lock:
                if not self.connections or socketio.server is not server:
                    self.running = False
                    return
                mine = [(m, s) for s, (m, _) in self.connections.items()]
            try:
                self.sweep(server)
                self.floor.record_panel.push(server, EVENTS["record"], NAMESPACE, ROOM)
                if time.monotonic() < next_tick:
                    continue
                next_tick = time.monotonic() + self.tick
                self.presence.refresh(mine)
                state = self.presence.state()
                if state != self.sent_presence:
                    self.sent_presence = state
                    server.emit(EVENTS["presence"], state, namespace=NAMESPACE, to=ROOM)
                health = _health(self.floor)
                rows = (health["sources"], health["followers"])
                if rows != self.sent_health:
                    self.sent_health = rows
                    server.emit(EVENTS["health"], health, namespace=NAMESPACE, to=ROOM)
            except redis.RedisError as exc:
                log.warning("console: cannot check sessions, presence or health (%s)", exc)
            except Exception:  # noqa: BLE001 - the task must outlive one bad tick
                log.exception("console: sessions/presence/health tick failed")


def _consoles() -> _Consoles:
    consoles = current_app.extensions.get("floor.consoles")
    if consoles is None:
        tick = float(current_app.config.get("FLOOR_CONSOLE_TICK", TICK_SECONDS))
        consoles = current_app.extensions.setdefault("floor.consoles", _Consoles(floor(), tick))
    return consoles  # type: ignore[no-any-return]


class Relay:
    """Log entries to this process's consoles, in log order, each naming the entry before it in
    the log (``prev``), so a console that finds its last applied id is not that asks to catch
    up. The tail of the log (web/live.py) may run behind Redis: a snapshot or a catch-up read
    in a handler thread can be ahead of it, and the tail would then send that console entries
    it already holds, after the newer state. So each console given state up to a log id is
    skipped by the relay until the tail passes that id, and the two are serialised by a lock:
    nothing older than what a console was given reaches it afterwards."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self.lock = threading.Lock()
        self.given: dict[str, tuple[int, int]] = {}  # sid -> the log position it holds up to

    def on_entry(self, server: Any, entry: LogEntry) -> None:
        at = _position(entry.id)
        with self.lock:
            holding = [sid for sid, upto in self.given.items() if upto >= at]
            self.given = {sid: self.given[sid] for sid in holding}
            server.emit(EVENTS["entry"], {**entry.to_dict(), "prev": self.feed.before},
                        namespace=NAMESPACE, to=ROOM, skip_sid=holding or None)

    def give(self, sid: str, upto: str, send: Callable[[], Any]) -> Any:
        """``send`` the console ``sid`` the state up to log id ``upto`` (a snapshot, a
        catch-up); from then on the relay sends it only entries after ``upto``."""
        with self.lock:
            self.given[sid] = _position(upto)
            return send()

    def forget(self, sid: str) -> None:
        with self.lock:
            self.given.pop(sid, None)


def _position(entry_id: str) -> tuple[int, int]:
    """A stream id ("milliseconds-sequence") as a pair that sorts in log order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def init_app(app: Flask, f: Floor) -> None:
    """The console's page and socket; the log relayed to the consoles, and the record panel
    (the ledger's head and the fairness summary, web/record_panel.py) fed by it."""
    f.relay = Relay(f.feed)
    f.record_panel = RecordPanel(f.store)
    f.texts = TextIndex()
    f.feed.on_entry(f.relay.on_entry)
    f.feed.on_entry(f.record_panel.on_entry)
    f.feed.on_entry(lambda server, entry: f.texts.take(entry.id, entry.qs))
    app.register_blueprint(bp)


# -- the namespace ---------------------------------------------------------------------------

LOGGED_OUT = "your session has ended (logged out, removed or a new password); log in again"
MAX_QID = 300
PLACES_MAX = 200


def moderators_only(event: str, **on_failure: Any) -> Callable[[Handler], Handler]:
    """Register a handler of the console namespace that is given the moderator, and answers
    (see ``web.replies``): a socket whose session has ended is refused at every event, and
    the sweep in ``_Consoles`` cuts it off within a second."""

    def register(handler: Handler) -> Handler:
        @answering(event, **on_failure)
        def checked(data: Any) -> Any:
            moderator = current_moderator()
            if moderator is None:
                return failure(LOGGED_OUT, logged_out=True, **on_failure)
            return handler(moderator, data)

        socketio.on(event, namespace=NAMESPACE)(checked)
        return handler

    return register


@socketio.on("connect", namespace=NAMESPACE)
@refusing(NAMESPACE)
def connect(auth: Any = None) -> None:
    """Refuse strangers; send a snapshot, unless the console says it has state and will ask
    for what it missed (``auth = {"after": id}``); then presence and health."""
    moderator = session_of_moderator()
    if moderator is None:
        raise ConnectionRefusedError("log in as a moderator first")
    refuse_if_full(CONSOLE_RESERVE)
    f = floor()
    f.feed.start()  # before the snapshot: the tail starts where the snapshot is
    join_room(ROOM)
    resuming = isinstance(auth, dict) and isinstance(auth.get("after"), str)
    if not resuming:
        snapshot = f.store.columns.snapshot()
        f.relay.give(request.sid, snapshot["last_id"],  # type: ignore[attr-defined]
                     lambda: emit(EVENTS["snapshot"], snapshot))
    consoles = _consoles()
    consoles.add(request.sid, *moderator)  # type: ignore[attr-defined]
    consoles.push_presence(socketio.server)
    emit(EVENTS["health"], _health(f))
    panel = f.record_panel
    if panel.loaded:  # else the presence loop loads it (a whole snapshot) and pushes it soon
        emit(EVENTS["record"], panel.state())


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(reason: Any = None) -> None:
    floor().relay.forget(request.sid)  # type: ignore[attr-defined]
    consoles = _consoles()
    try:
        moderator, released = consoles.remove(request.sid)  # type: ignore[attr-defined]
        if moderator is None:
            return
        for qid in released:
            socketio.emit(EVENTS["editing_done"], {"qid": qid, "moderator": moderator},
                          namespace=NAMESPACE, to=ROOM)
        consoles.push_presence(socketio.server)
    except redis.RedisError as exc:
        log.warning("console: cannot update presence after a disconnect (%s)", exc)


@moderators_only(EVENTS["catch_up"], reload=True)
def catch_up(moderator: str, data: Any) -> dict[str, Any]:
    after = data.get("after") if isinstance(data, dict) else None
    if not isinstance(after, str):
        raise BadRequest("catch_up needs the last log id the console saw")
    try:
        entries = floor().store.log_after(after, count=CATCH_UP_LIMIT + 1)
    except redis.ResponseError:
        return {"reload": True}  # not a stream id: start again from a snapshot
    if len(entries) > CATCH_UP_LIMIT:
        return {"reload": True}
    if entries:  # the tail may still be behind these: it is not to send them again
        floor().relay.give(request.sid, entries[-1].id, lambda: None)  # type: ignore[attr-defined]
    before = [after, *(e.id for e in entries)]
    return {"entries": [{**e.to_dict(), "prev": prev} for e, prev in zip(entries, before,
                                                                          strict=False)]}


@moderators_only(EVENTS["page"])
def page(moderator: str, data: Any) -> dict[str, Any]:
    """The next part of one list, as the moderator scrolls or walks past what the console
    holds: ``{list, after, limit}`` (see ``aggregator.core.columns.Columns.page``). With
    ``filters`` (search and the toolbar's filters, ``aggregator.core.filters``), the next questions
    that pass them, the cursor the server scanned to and how far that is into the list
    (``Columns.search``)."""
    if not isinstance(data, dict) or not isinstance(data.get("list"), str):
        raise BadRequest("page needs the list to read: {list, after, limit, filters}")
    limit = data.get("limit", PAGE)
    f = floor()
    columns = f.store.columns
    try:
        filters = parse_filters(data.get("filters"))
        if filters.active:
            if filters.text and f.texts.claim_build():  # the tail keeps it from then on
                socketio.start_background_task(f.texts.build, f.store.conn, f.store.keys)
            return {"ok": True, **columns.search(data["list"], data.get("after"), filters,
                                                 limit, index=f.texts)}
        return {"ok": True, **columns.page(data["list"], data.get("after"), limit)}
    except (PageError, FilterError) as exc:
        raise BadRequest(str(exc)) from exc


@moderators_only(EVENTS["places"])
def places(moderator: str, data: Any) -> dict[str, Any]:
    """The arrival numbers of ``{qids}``: where questions a console learnt of from log entries
    go in Incoming, so a search can show them in their place."""
    qids = data.get("qids") if isinstance(data, dict) else None
    if not isinstance(qids, list) or not 0 < len(qids) <= PLACES_MAX or not all(
            isinstance(qid, str) and 0 < len(qid) <= MAX_QID for qid in qids):
        raise BadRequest(f"places needs 1 to {PLACES_MAX} question ids: {{qids}}")
    return {"ok": True, "places": floor().store.columns.arrivals(qids)}


def _action(data: Any) -> tuple[str, str, int, dict[str, Any]]:
    """(action, qid, version, params) of an ``act`` payload, or BadRequest saying what is
    wrong."""
    if not isinstance(data, dict):
        raise BadRequest("malformed action")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise BadRequest("the action must be named")
    qid = data.get("qid")
    if not isinstance(qid, str) or not 0 < len(qid) <= MAX_QID:
        raise BadRequest("the action must name its question")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest("the action must name the version you saw")
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadRequest(f"unexpected details for {action}")
    # An action may carry the params its row in the table names; anything else is refused.
    spec = ACTIONS.get(action)
    unexpected = set(params) - (spec.param_names if spec else set())
    if unexpected:
        raise BadRequest(f"unexpected details for {action}: {', '.join(sorted(unexpected))}")
    return action, qid, version, params


def _targets(data: dict[str, Any]) -> list[tuple[str, int]]:
    """The (qid, version) pairs of an action on several questions, or BadRequest."""
    targets = data.get("targets")
    if not isinstance(targets, list) or not 0 < len(targets) <= MANY_MAX:
        raise BadRequest(f"name 1 to {MANY_MAX} questions")
    pairs = []
    for target in targets:
        qid = target.get("qid") if isinstance(target, dict) else None
        version = target.get("version") if isinstance(target, dict) else None
        if not isinstance(qid, str) or not 0 < len(qid) <= MAX_QID or not isinstance(
                version, int) or isinstance(version, bool):
            raise BadRequest("each question needs its id and the version you saw")
        pairs.append((qid, version))
    return pairs


@moderators_only(EVENTS["act"])
def act(moderator: str, data: Any) -> dict[str, Any]:
    """One moderator action; the answer says whether it was applied, or why not. With
    ``targets`` (qid and version each) it acts on several questions in one step, and says
    which it skipped and why."""
    f = floor()
    try:
        if isinstance(data, dict) and "targets" in data:
            targets = _targets(data)
            action, _, _, params = _action({**data, "qid": targets[0][0],
                                            "version": targets[0][1]})
            more = 0
            if action == "reject_like":  # the whole cluster, not only the cards this console holds
                named = {qid for qid, _ in targets}
                targets += [t for t in f.moderation.cluster(str(params.get("like") or ""))
                            if t[0] not in named]
                more, targets = max(0, len(targets) - MANY_MAX), targets[:MANY_MAX]
            ids, skipped = f.moderation.apply_many(action, targets, moderator, **params)
            return {"ok": True, "id": ids[0], "ids": ids, "more": more,
                    "skipped": [{"qid": qid, "error": why} for qid, why in skipped]}
        if isinstance(data, dict) and data.get("action") == "clear":
            entry_id = f.moderation.clear_screen(moderator)
        else:
            action, qid, version, params = _action(data)
            members = f.settings.chair.board_members
            if action == "direct" and params.get("to", "") not in ["", *members]:
                raise Refused("direct a question to one of the board members in the settings "
                              f"([chair] board_members): {', '.join(members) or 'none yet'}")
            entry_id = f.moderation.apply(action, qid, version, moderator, **params)
            if action == "edit":
                _stop_editing(qid, moderator)
    except Refused as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "id": entry_id}


def _qid(data: Any) -> str:
    qid = data.get("qid") if isinstance(data, dict) else None
    if not isinstance(qid, str) or not 0 < len(qid) <= MAX_QID:
        raise BadRequest("which question?")
    return qid


@moderators_only(EVENTS["editing"])
def editing(moderator: str, data: Any) -> dict[str, Any]:
    """A soft lock: tell the other consoles this moderator is editing a card."""
    qid = _qid(data)
    _consoles().presence.start_editing(qid, moderator, request.sid)  # type: ignore[attr-defined]
    emit(EVENTS["editing"], {"qid": qid, "moderator": moderator}, to=ROOM, include_self=False)
    others = [m for m in _consoles().presence.editing().get(qid, []) if m != moderator]
    return {"ok": True, "others": others}


def _stop_editing(qid: str, moderator: str) -> None:
    _consoles().presence.stop_editing(qid, request.sid)  # type: ignore[attr-defined]
    emit(EVENTS["editing_done"], {"qid": qid, "moderator": moderator}, to=ROOM,
         include_self=False, namespace=NAMESPACE)


@moderators_only(EVENTS["editing_done"])
def editing_done(moderator: str, data: Any) -> dict[str, Any]:
    _stop_editing(_qid(data), moderator)
    return {"ok": True}


@moderators_only(EVENTS["health"])
def health(moderator: str, data: Any) -> dict[str, Any]:
    """The health of the sources and of the log's followers now (consoles also get it pushed
    when it changes)."""
    return _health(floor())
