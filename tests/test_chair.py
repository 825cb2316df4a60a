"""The chair's view and the notes channel: what a chair link sees, notes and their
acknowledgement through the log, the length rule for notes, revocation, and time on screen."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.core.actions import Refused
from aggregator.core.moderation import Moderation, seconds_between
from aggregator.core.notes import NOTE_MAX, Notes
from aggregator.core.store import Store
from tests.fixtures.screens import Screen
from tests.posts import act, ingest
from tests.waiting import wait_until
from web import screen as screen_module
from web.extensions import socketio
from web.screen import ScreenHub, screen_id
from web.screen_links import ScreenLinks


@pytest.fixture
def notes(store: Store) -> Notes:
    return Notes(store.conn, store.keys.event)


@pytest.fixture
def open_link(live_server: str, links: ScreenLinks) -> Iterator[Callable[..., Screen]]:
    opened: list[Screen] = []

    def open_(kind: str = "chair", label: str = "top table") -> Screen:
        secret, _ = links.create(label, kind)
        opened.append(Screen(live_server, secret))
        return opened[-1]

    yield open_
    for screen in opened:
        screen.close()


# -- notes ------------------------------------------------------------------------------------

def test_a_note_longer_than_the_view_shows_is_refused_with_its_length(
        notes: Notes, store: Store) -> None:
    before = store.last_log_id()
    with pytest.raises(Refused, match=f"at most {NOTE_MAX} characters.*this one has "
                                      f"{NOTE_MAX + 1}"):
        notes.send("x" * (NOTE_MAX + 1), "sam")
    with pytest.raises(Refused, match="write the note first"):
        notes.send("  \u200b ", "sam")
    assert store.last_log_id() == before and notes.all() == []
    assert notes.send("y" * NOTE_MAX, "sam").text == "y" * NOTE_MAX


def test_notes_and_acknowledgements_are_log_entries(notes: Notes, store: Store) -> None:
    note = notes.send("This one is for the <b>Chief Executive</b>", "sam")
    assert note.text == "This one is for the Chief Executive"  # markup is text, cleaned
    seen = notes.acknowledge(note.id, "chair (top table)")
    again = notes.acknowledge(note.id, "chair (top table)")
    entries = store.log_after()
    assert [e.type for e in entries] == ["note", "note_seen"]  # seeing twice logs once
    assert [e.actor for e in entries] == ["sam", "chair (top table)"]
    logged = json.loads(entries[1].extra["note"])
    assert logged["seen_by"] == "chair (top table)" and logged["seen_at"] == seen.seen_at
    assert again.seen_at == seen.seen_at
    assert [n.to_dict() for n in notes.all()] == [logged]
    with pytest.raises(Refused, match="no such note"):
        notes.acknowledge("nope", "chair")


# -- time on screen -----------------------------------------------------------------------------

def test_time_on_screen_is_on_the_projection_and_on_the_entry_that_ends_it(
        store: Store, moderation: Moderation) -> None:
    a, b = ingest(store, "First question?", "Second question?")
    act(moderation, store, "screen", a)
    on = store.question(a)
    assert on is not None and on.on_screen_since
    act(moderation, store, "edit", a, text="First question, edited?")
    assert store.question(a).on_screen_since == on.on_screen_since  # type: ignore[union-attr]
    act(moderation, store, "screen", b)  # displaces a to answered
    shown_b = store.question(b)
    assert shown_b is not None
    entries = store.log_after()
    displaced = entries[-1]
    assert displaced.extra["off_screen"] == a
    assert float(displaced.extra["seconds_on_screen"]) == pytest.approx(
        seconds_between(on.on_screen_since, shown_b.on_screen_since), abs=0.05)
    assert store.question(a).on_screen_since == ""  # type: ignore[union-attr]
    act(moderation, store, "answer", b)
    last = store.log_after()[-1]
    assert last.type == "answer" and last.extra["off_screen"] == b
    assert float(last.extra["seconds_on_screen"]) >= 0
    assert not any("seconds_on_screen" in e.extra for e in entries
                   if e.type in ("received", "edit") or (e.type == "screen" and e.qid == a))


def test_seconds_between_an_unknown_start_is_zero() -> None:
    assert seconds_between("", "2026-05-14T10:00:05.123Z") == 0.0
    assert seconds_between("2026-05-14T10:00:00.000Z", "2026-05-14T10:01:05.500Z") == 65.5


# -- the chair's view -------------------------------------------------------------------------

def test_the_chair_page_needs_a_chair_link(client: FlaskClient, links: ScreenLinks) -> None:
    chair, _ = links.create("top table", "chair")
    board, _ = links.create("hall", "screen")
    page = client.get(f"/chair/{chair}")
    assert page.status_code == 200 and "Question now" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get(f"/chair/{board}").status_code == 404
    assert client.get(f"/screen/{chair}").status_code == 404


def test_the_chair_sees_now_next_waiting_and_time(
        open_link: Callable[..., Screen], store: Store, moderation: Moderation) -> None:
    ids = ingest(store, "Now?", "One?", "Two?", "Three?", "Four?", author="Dot Hemsworth")
    for qid in ids[1:]:
        act(moderation, store, "approve", qid)
    act(moderation, store, "screen", ids[0])
    chair = open_link("chair")
    view = chair.wait_for(lambda v: v["current"] is not None)
    since = store.question(ids[0]).on_screen_since  # type: ignore[union-attr]
    assert view["current"] == {"id": screen_id(ids[0]), "text": "Now?", "dir": "ltr",
                               "asked": "", "author": "Dot Hemsworth", "platform": "X",
                               "asked_by": 1,
                               "on_screen_since": since, "item": "", "to": "",
                               "platforms": 1}
    assert [q["text"] for q in view["next"]] == ["One?", "Two?", "Three?"]
    assert view["waiting"] == 4 and view["notes"] == [] and view["now"]
    act(moderation, store, "answer", ids[0])
    view = chair.wait_for(lambda v: v["current"] is None)
    assert view["waiting"] == 4


def test_the_chair_never_sees_personal_data_the_board_masks(
        open_link: Callable[..., Screen], store: Store, moderation: Moderation) -> None:
    """The chair reads questions aloud, on the stream: a phone number approved before triage
    reached it is masked in the chair's view as on the board."""
    now, later = ingest(store, "Ring me on 07911 123456 about it?", "Or mail ann@example.org?")
    act(moderation, store, "approve", later)
    act(moderation, store, "screen", now)
    view = open_link("chair").wait_for(lambda v: v["current"] is not None and bool(v["next"]))
    shown = view["current"]["text"] + " " + view["next"][0]["text"]
    assert "07911" not in shown and "123456" not in shown and "ann@example.org" not in shown
    assert "Ring me on" in shown and "Or mail" in shown


def test_a_screen_link_never_gets_the_chairs_view(
        open_link: Callable[..., Screen], store: Store, moderation: Moderation,
        notes: Notes) -> None:
    notes.send("Answer this one in writing", "sam")
    screen = open_link("screen", "hall")
    board = screen.wait_for(lambda b: True)
    assert set(board) == {"id", "current", "next", "item"}
    reply = screen.client.call("acknowledge", {"note": notes.all()[0].id}, namespace="/screen")
    assert reply == {"ok": False, "error": "only the chair's view acknowledges notes"}
    assert not notes.all()[0].seen_at


def test_moderators_send_notes_and_are_relayed_both_entries(socket_client: Any,
                                                           notes: Notes) -> None:
    too_long = socket_client.emit("note", {"text": "n" * (NOTE_MAX + 1)}, namespace="/console",
                                  callback=True)
    assert too_long["ok"] is False and f"at most {NOTE_MAX}" in too_long["error"]
    assert socket_client.emit("note", {"words": 1}, namespace="/console",
                              callback=True)["ok"] is False
    sent = socket_client.emit("note", {"text": "This one is for the Chief Executive"},
                              namespace="/console", callback=True)
    assert sent["ok"] is True and sent["note"]["by"] == "sam"
    notes.acknowledge(sent["note"]["id"], "chair (top table)")  # as the chair's tap does
    entries: list[dict[str, Any]] = []

    def relayed() -> bool:
        entries.extend(m["args"][0] for m in socket_client.get_received("/console")
                       if m["name"] == "entry")
        return len(entries) >= 2

    wait_until(relayed)
    assert [e["type"] for e in entries] == ["note", "note_seen"]
    assert json.loads(entries[1]["note"])["seen_by"] == "chair (top table)"
    listed = socket_client.emit("notes", {}, namespace="/console", callback=True)
    assert [n["seen_by"] for n in listed["notes"]] == ["chair (top table)"]
    assert listed["note_max"] == NOTE_MAX


def test_a_note_reaches_the_chair_and_the_chair_acknowledges_it(
        open_link: Callable[..., Screen], notes: Notes) -> None:
    chair = open_link("chair")
    chair.wait_for(lambda v: True)
    notes.send("This one is for the Chief Executive", "sam")
    view = chair.wait_for(lambda v: bool(v["notes"]))
    (shown,) = view["notes"]
    assert shown["text"] == "This one is for the Chief Executive" and shown["by"] == "sam"
    assert shown["seen_at"] == ""
    assert chair.client.call("acknowledge", {"note": 5}, namespace="/screen") == {
        "ok": False, "error": "which note?"}
    reply = chair.client.call("acknowledge", {"note": shown["id"]}, namespace="/screen")
    assert reply["ok"] is True and reply["note"]["seen_by"] == "chair (top table)"
    chair.wait_for(lambda v: bool(v["notes"]) and bool(v["notes"][0]["seen_at"]))


def test_the_chair_sees_every_open_note_and_the_last_seen_ones(
        open_link: Callable[..., Screen], notes: Notes) -> None:
    sent = [notes.send(f"Note {i}", "sam") for i in range(6)]
    for note in sent[:4]:
        notes.acknowledge(note.id, "chair")
    view = open_link("chair").wait_for(lambda v: True)
    # Open ones first, in order; then the three last seen, newest first.
    assert [n["text"] for n in view["notes"]] == ["Note 4", "Note 5", "Note 3", "Note 2",
                                                  "Note 1"]


def test_a_revoked_chair_link_is_cut_off_by_the_sweep(
        open_link: Callable[..., Screen], links: ScreenLinks, hub: ScreenHub,
        notes: Notes) -> None:
    assert screen_module.SWEEP_SECONDS <= 1.0  # the promise: cut off within a second
    chair = open_link("chair")
    chair.wait_for(lambda v: True)
    note = notes.send("Please take the next question from the floor", "sam")
    (link,) = [link for link in links.all() if link.kind == "chair"]
    links.revoke(link)
    # The socket that is still open until the sweep cannot acknowledge any more.
    reply = chair.client.call("acknowledge", {"note": note.id}, namespace="/screen")
    assert reply == {"ok": False, "error": "this link was revoked", "revoked": True}
    assert chair.revoked.wait(5)
    wait_until(lambda: not chair.client.connected)
    assert hub.sids == {} and not notes.all()[0].seen_at


def test_the_sweep_cuts_off_chairs_as_screens(app: Flask, hub: ScreenHub,
                                              links: ScreenLinks) -> None:
    """The sweep itself, without waiting for its tick: a chair's socket whose link is gone."""
    _, link = links.create("top table", "chair")
    hub.sids["sid-1"], hub.kinds["sid-1"] = link.digest, "chair"
    links.revoke(link)

    class Server:
        def __init__(self) -> None:
            self.cut: list[str] = []

        def emit(self, *args: Any, **kwargs: Any) -> None:
            pass

        def disconnect(self, sid: str, namespace: str) -> None:
            self.cut.append(sid)

    server = Server()
    assert hub.sweep(server) == ["sid-1"] and server.cut == ["sid-1"]
    assert socketio is not None


# -- directed questions -------------------------------------------------------------------------

def test_a_question_directed_to_a_board_member_shows_on_the_board_and_the_chairs_view(
        open_link: Callable[..., Screen], store: Store, moderation: Moderation) -> None:
    now, later = ingest(store, "Who signs off the budget?", "And the audit?")
    act(moderation, store, "approve", later)
    act(moderation, store, "screen", now)
    screen, chair = open_link("screen", "hall"), open_link("chair")
    act(moderation, store, "direct", now, to="the Chief Executive")
    act(moderation, store, "direct", later, to="the Finance Director")
    board = screen.wait_for(lambda b: bool(b["next"]) and "to" in b["next"][0])
    assert board["current"]["to"] == "the Chief Executive"
    assert board["next"][0]["to"] == "the Finance Director"
    view = chair.wait_for(lambda v: bool(v["next"]) and v["next"][0]["to"] != "")
    assert view["current"]["to"] == "the Chief Executive"
    entry = store.log_after()[-1]
    assert entry.type == "direct" and entry.extra["to"] == "the Finance Director"
    with pytest.raises(Refused, match="already for the Finance Director"):
        act(moderation, store, "direct", later, to="the Finance Director")
    act(moderation, store, "direct", later, to="")
    screen.wait_for(lambda b: bool(b["next"]) and "to" not in b["next"][0])


def test_moderators_direct_only_to_the_configured_board_members(
        socket_client: Any, store: Store, settings: Any) -> None:
    settings.chair.board_members = ["the Chief Executive"]
    (qid,) = ingest(store, "Who signs off the budget?")

    def direct(to: str) -> dict[str, Any]:
        version = store.question(qid).version  # type: ignore[union-attr]
        return socket_client.emit("act", {"action": "direct", "qid": qid, "version": version,  # type: ignore[no-any-return]
                                          "params": {"to": to}},
                                  namespace="/console", callback=True)

    refused = direct("the Pope")
    assert refused["ok"] is False and "board_members" in refused["error"]
    assert direct("the Chief Executive")["ok"] is True
    assert store.question(qid).directed_to == "the Chief Executive"  # type: ignore[union-attr]


def test_the_published_record_says_how_long_each_answer_took(store: Store,
                                                             moderation: Moderation) -> None:
    from aggregator.followers.export import export_lines

    a, b = ingest(store, "First?", "Second?")
    act(moderation, store, "screen", a)
    act(moderation, store, "screen", b)  # a is answered, displaced by b
    act(moderation, store, "answer", b)
    records = {r["question"]["id"]: r for r in map(json.loads, export_lines(store))}
    for qid in (a, b):
        took = [e for e in records[qid]["history"] if e.get("off_screen") == qid]
        assert len(took) == 1 and float(took[0]["seconds_on_screen"]) >= 0, took
