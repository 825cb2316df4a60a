"""The chair's view: a calm page for a tablet at the top table, and the notes channel to it.

A link of kind ``chair`` (``floor screen-link create --chair``) opens ``/chair/<secret>``. Its
socket lives in the ``/screen`` namespace, so it is refused, swept and cut off on revocation
exactly as screens are (``web/screen.py``); what it is sent is its own view, read here: the
question on screen with its asker and how long it has been there, the next three, how many are
waiting, and the moderators' notes. The chair acknowledges a note with a tap
(``acknowledge``); moderators send notes from the console (``note``) and read them (``notes``).
Notes and acknowledgements are log entries (``aggregator/core/notes.py``), so they reach every
console and chair view through each web process's tail of the log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from flask import Blueprint, Flask, abort, make_response, render_template, request

from aggregator.base.settings import Settings
from aggregator.core.actions import Refused
from aggregator.core.agenda import Agenda
from aggregator.core.notes import NOTE, NOTE_MAX, NOTE_SEEN, Notes
from aggregator.core.public_text import MASKED, Rules, platform_count, shown
from aggregator.core.question import PLATFORMS, utc_now
from aggregator.core.store import Store
from web import Floor, floor
from web.console import moderators_only
from web.extensions import socketio
from web.replies import BadRequest, answering, failure
from web.screen import AGENDA_ENTRIES, HEADERS, NAMESPACE, hub, screen_id
from web.screen import EVENTS as SCREEN_EVENTS
from web.screen_links import ScreenLink

log = logging.getLogger("floor.chair")
bp = Blueprint("chair", __name__)

KIND = "chair"
# The chair's own events on /screen, and the console's on /console.
EVENTS = {**SCREEN_EVENTS, "acknowledge": "acknowledge", "move": "move"}
CONSOLE_EVENTS = {"note": "note", "notes": "notes", "agenda": "agenda",
                  "agenda_change": "agenda_change"}
# The view lists this many questions after the current one: what a chair reads at a glance.
NEXT = 3
# Notes the chair has seen stay on the view, greyed, this many at a time (newest first).
SEEN_SHOWN = 3
MAX_NOTE_ID = 32

# The chair's view in one atomic read: the log id it is exactly as new as, the question on
# screen, how many are queued, the first few on the agenda item the meeting is on and how many
# that item has, every note, the item, and the agenda (to name the current question's item).
_VIEW = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local screen = redis.call('GET', KEYS[2])
local current = screen and (redis.call('HGET', KEYS[4] .. screen, 'data') or '') or ''
local item = redis.call('GET', KEYS[6]) or ''
if item ~= '' and redis.call('HEXISTS', KEYS[7], item) == 0 then item = '' end
local n = tonumber(ARGV[1])
local queued, matching = {}, 0
local waiting = redis.call('ZCARD', KEYS[3])
if item == '' then
  matching = waiting
  for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, n - 1)) do
    queued[#queued + 1] = redis.call('HGET', KEYS[4] .. qid, 'data') or ''
  end
else
  for _, qid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local data = redis.call('HGET', KEYS[4] .. qid, 'data')
    if data then
      local ok, q = pcall(cjson.decode, data)
      if ok and type(q) == 'table' and q.item == item then
        matching = matching + 1
        if #queued < n then queued[#queued + 1] = data end
      end
    end
  end
end
return {last[1] and last[1][1] or '0-0', current, waiting, queued, redis.call('HVALS', KEYS[5]),
        item, matching, redis.call('HVALS', KEYS[7])}
"""


def for_chair(data: str, state: str, titles: dict[str, str],
              rules: Rules = MASKED) -> dict[str, Any] | None:
    """What the chair's view shows of one question, or None if it is not in ``state``. Its
    words are the public text, as on the board (``aggregator.core.public_text``): the chair
    reads questions aloud, on the stream."""
    try:
        q = json.loads(data)
    except ValueError:
        return None
    if not isinstance(q, dict) or q.get("state") != state or not isinstance(q.get("id"), str):
        return None
    public = shown(q, rules)
    return {
        "id": screen_id(q["id"]),
        "text": public.text,
        "dir": public.dir,
        "asked": public.asked,
        "author": str(q.get("author_name") or ""),
        "platform": PLATFORMS.get(q.get("platform", ""), q.get("platform", "")),
        "asked_by": int(q.get("asked_by") or 1),
        "on_screen_since": str(q.get("on_screen_since") or ""),
        "item": titles.get(str(q.get("item") or ""), ""),
        "to": str(q.get("directed_to") or ""),
        "platforms": platform_count(q),
    }


def shown_notes(records: list[str]) -> list[dict[str, Any]]:
    """The notes on the view: every open one (oldest first, so they read in order), then the
    last few the chair has seen (newest first)."""
    notes = []
    for record in records:
        try:
            note = json.loads(record)
        except ValueError:
            continue
        if isinstance(note, dict) and isinstance(note.get("id"), str):
            notes.append(note)
    notes.sort(key=lambda n: str(n["id"]))  # ids sort as the notes were written
    unseen = [n for n in notes if not n.get("seen_at")]
    seen = sorted((n for n in notes if n.get("seen_at")),
                  key=lambda n: (str(n["seen_at"]), n["id"]), reverse=True)[:SEEN_SHOWN]
    return [{key: n.get(key, "") for key in ("id", "text", "by", "at", "seen_at")}
            for n in unseen + seen]


class ChairView:
    """Reads the chair's view from the store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._read = store.conn.register_script(_VIEW)

    def __call__(self) -> dict[str, Any]:
        k = self.store.keys
        last_id, current, waiting, queued, notes, item, matching, agenda = self._read(
            keys=[k.log, k.screen, k.queue, k.question(""), k.notes, k.agenda_current,
                  k.agenda], args=[NEXT])
        items = sorted((json.loads(r) for r in agenda),
                       key=lambda i: (i.get("position", 0), str(i.get("id"))))
        titles = {str(i["id"]): str(i.get("title") or i["id"]) for i in items if i.get("id")}
        rules = Rules.of(self.settings)
        queued_shown = (for_chair(d, "approved", titles, rules) for d in queued if d)
        return {
            "id": last_id,
            "now": utc_now(),  # the tablet's clock may be wrong: the timer counts from ours
            "current": for_chair(current, "on_screen", titles, rules) if current else None,
            "next": [q for q in queued_shown if q is not None],
            "waiting": int(waiting),
            "item": {"id": item, "title": titles[item]} if item in titles else None,
            "waiting_item": int(matching),
            "agenda": [{"id": i, "title": t} for i, t in titles.items()],
            "notes": shown_notes(list(notes)),
        }


def init_app(app: Flask, f: Floor) -> None:
    """The chair's page, and its view among the screens' (after ``web.screen.init_app``);
    the agenda seeded from the settings."""
    try:
        Agenda(f.store.conn, f.store.keys.event).seed(f.settings.agenda.items)
    except redis.RedisError as exc:  # seeded again when a console first asks for the agenda
        log.warning("chair: cannot seed the agenda from the config yet (%s)", exc)
    f.screens.readers[KIND] = ChairView(f.store, f.settings)
    f.screens.triggers[KIND] = frozenset({NOTE, NOTE_SEEN}) | AGENDA_ENTRIES
    app.register_blueprint(bp)


def _notes() -> Notes:
    store = floor().store
    return Notes(store.conn, store.keys.event)


# -- the page -------------------------------------------------------------------------------

@bp.get("/chair/<secret>")
def chair_page(secret: str) -> Any:
    link = hub().links.find(secret)
    if link is None or link.kind != KIND:
        abort(404)
    settings = floor().settings
    config = {"namespace": NAMESPACE, "events": EVENTS, "token": secret, "mode": KIND,
              "soft_limit_seconds": settings.chair.soft_limit_seconds}
    response = make_response(render_template("chair.html", title=settings.event.title,
                                              config=config, slots=NEXT))
    response.headers.update(HEADERS)
    return response


# -- the chair's socket (in /screen) ----------------------------------------------------------

@socketio.on(EVENTS["acknowledge"], namespace=NAMESPACE)
@answering(EVENTS["acknowledge"])
def acknowledge(data: Any) -> dict[str, Any]:
    """The chair saw a note: logged, so the moderators' consoles show it."""
    link = _chair_link("acknowledges notes")
    if isinstance(link, dict):
        return link
    note_id = data.get("note") if isinstance(data, dict) else None
    if not isinstance(note_id, str) or not 0 < len(note_id) <= MAX_NOTE_ID:
        raise BadRequest("which note?")
    try:
        note = _notes().acknowledge(note_id, f"chair ({link.label})")
    except Refused as exc:
        return failure(str(exc))
    return {"ok": True, "note": note.to_dict()}


def _chair_link(doing: str) -> ScreenLink | dict[str, Any]:
    """The live chair link of this socket, or the failure to answer with."""
    screens = hub()
    sid = request.sid  # type: ignore[attr-defined]
    digest, kind = screens.sids.get(sid), screens.kinds.get(sid)
    if digest is None or kind != KIND:
        return failure(f"only the chair's view {doing}")
    link = screens.links.by_digest(digest)
    if link is None:
        return failure("this link was revoked", revoked=True)
    return link


@socketio.on(EVENTS["move"], namespace=NAMESPACE)
@answering(EVENTS["move"])
def move(data: Any) -> dict[str, Any]:
    """The chair moves the meeting to an agenda item ("" for all questions), as moderators can."""
    link = _chair_link("moves the agenda")
    if isinstance(link, dict):
        return link
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, str) or len(item) > 64:
        raise BadRequest("which agenda item?")
    try:
        entry_id = _agenda().move(item, f"chair ({link.label})")
    except Refused as exc:
        return failure(str(exc))
    return {"ok": True, "id": entry_id}


# -- the moderators' side (in /console) --------------------------------------------------------

@moderators_only(CONSOLE_EVENTS["note"])
def send_note(moderator: str, data: Any) -> dict[str, Any]:
    """A note to the chair; refused, with the count, when longer than the view shows whole."""
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise BadRequest("a note needs its text")
    try:
        note = _notes().send(text, moderator)
    except Refused as exc:
        return failure(str(exc))
    return {"ok": True, "note": note.to_dict()}


@moderators_only(CONSOLE_EVENTS["notes"])
def list_notes(moderator: str, data: Any) -> dict[str, Any]:
    """Every note so far (a console that has just connected; later ones come as log entries)."""
    return {"ok": True, "notes": [note.to_dict() for note in _notes().all()],
            "note_max": NOTE_MAX}


def _agenda() -> Agenda:
    store = floor().store
    return Agenda(store.conn, store.keys.event)


@moderators_only(CONSOLE_EVENTS["agenda"])
def agenda_state(moderator: str, data: Any) -> dict[str, Any]:
    """The agenda now (a console that has just connected; changes come as log entries)."""
    agenda = _agenda()
    agenda.seed(floor().settings.agenda.items)
    return {"ok": True, "agenda": agenda.state()}


@moderators_only(CONSOLE_EVENTS["agenda_change"])
def agenda_change(moderator: str, data: Any) -> dict[str, Any]:
    """Add, rename or remove an item, or move the meeting to one ("" for all questions)."""
    if not isinstance(data, dict):
        raise BadRequest("malformed agenda change")
    op, item, title = data.get("op"), data.get("item", ""), data.get("title", "")
    if not isinstance(item, str) or not isinstance(title, str) or len(item) > 64 \
            or len(title) > 1000:
        raise BadRequest("an agenda change names an item id and a title, as text")
    agenda = _agenda()
    changes = {"add": lambda: agenda.add(title, moderator),
               "rename": lambda: agenda.rename(item, title, moderator),
               "remove": lambda: agenda.remove(item, moderator),
               "move": lambda: agenda.move(item, moderator)}
    if op not in changes:
        raise BadRequest(f"an agenda change is one of {', '.join(changes)}")
    try:
        entry_id = changes[op]()
    except Refused as exc:
        return failure(str(exc))
    return {"ok": True, "id": entry_id}
