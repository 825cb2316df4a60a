"""The moderators' console: the page, and the ``/console`` Socket.IO namespace.

A console loads a snapshot (with the log id it is at), then applies every log entry after it;
after a dropped connection it asks for the entries after the last id it saw.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, session, url_for
from flask_socketio import ConnectionRefusedError, emit, join_room

from aggregator.moderation import Refused
from aggregator.store import LogEntry
from web import floor
from web.auth import login_required
from web.extensions import socketio

bp = Blueprint("console", __name__)

NAMESPACE = "/console"
ROOM = "moderators"
# Socket.IO event names, shared with the page's script through the template.
EVENTS = {"snapshot": "snapshot", "entry": "entry", "catch_up": "catch_up", "act": "act"}
# Entries sent in answer to one catch-up request; a console further behind reloads instead.
CATCH_UP_LIMIT = 5_000


@bp.get("/")
def home() -> Any:
    return redirect(url_for("console.index"))


@bp.get("/console")
@login_required
def index() -> Any:
    settings = floor().settings
    return render_template("console.html", title=settings.event.title, events=EVENTS,
                           namespace=NAMESPACE, moderator=session["moderator"],
                           reject_reasons=settings.moderation.reject_reasons)


def _relay(server: Any, entry: LogEntry) -> None:
    server.emit(EVENTS["entry"], entry.to_dict(), namespace=NAMESPACE, to=ROOM)


@socketio.on("connect", namespace=NAMESPACE)
def connect(auth: Any = None) -> None:
    if not session.get("moderator"):
        raise ConnectionRefusedError("log in as a moderator first")
    f = floor()
    if _relay not in f.feed.listeners:
        f.feed.on_entry(_relay)
    f.feed.start()
    join_room(ROOM)
    emit(EVENTS["snapshot"], f.store.snapshot().to_dict())


@socketio.on(EVENTS["catch_up"], namespace=NAMESPACE)
def catch_up(data: Any) -> dict[str, Any]:
    after = str((data or {}).get("after") or "0-0")
    entries = floor().store.log_after(after, count=CATCH_UP_LIMIT + 1)
    if len(entries) > CATCH_UP_LIMIT:
        return {"reload": True}
    return {"entries": [e.to_dict() for e in entries]}


@socketio.on(EVENTS["act"], namespace=NAMESPACE)
def act(data: Any) -> dict[str, Any]:
    """One moderator action; the answer says whether it was applied, or why not."""
    if not isinstance(data, dict):
        return {"ok": False, "error": "malformed action"}
    moderator = session.get("moderator") or ""
    f = floor()
    try:
        if data.get("action") == "clear":
            entry_id = f.moderation.clear_screen(moderator)
        else:
            version = data.get("version")
            if not isinstance(version, int):
                return {"ok": False, "error": "the action must name the version you saw"}
            params = data.get("params") if isinstance(data.get("params"), dict) else {}
            entry_id = f.moderation.apply(str(data.get("action")), str(data.get("qid")), version,
                                          moderator, **params)
    except Refused as exc:
        return {"ok": False, "error": str(exc)}
    except TypeError:
        return {"ok": False, "error": f"unexpected details for {data.get('action')}"}
    return {"ok": True, "id": entry_id}
