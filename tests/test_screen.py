"""The board screen's socket: secret links, what a screen may see, and convergence.

Real python-socketio clients over WebSocket against the app served for real, as a screen's
browser connects.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import socketio as sio
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.settings import Settings
from aggregator.core import queue_edit
from aggregator.core.moderation import Moderation
from aggregator.core.public_text import Rules, strip_tags
from aggregator.core.store import Store
from aggregator.ingest.poller import Poller
from aggregator.ingest.sources.rehearsal import BUNDLED, RehearsalSettings, RehearsalSource
from tests.fixtures.screens import Screen
from tests.posts import act, ingest
from tests.waiting import wait_until
from web.screen import ScreenHub, screen_id
from web.screen_links import ScreenLinks

# The only fields a screen may ever be sent about a question.
SCREEN_FIELDS = {"id", "text", "dir", "platform", "author", "asked_by", "platforms", "asked", "to"}


def _content(board: dict[str, Any]) -> dict[str, Any]:
    return {"current": board["current"], "next": board["next"]}


# -- links --------------------------------------------------------------------------------

def test_pages_need_a_live_link_of_their_kind(client: FlaskClient, links: ScreenLinks) -> None:
    screen, _ = links.create("top table")
    overlay, _ = links.create("stream", kind="overlay")
    assert client.get(f"/screen/{screen}").status_code == 200
    assert client.get(f"/overlay/{overlay}").status_code == 200
    assert client.get(f"/overlay/{screen}").status_code == 404
    assert client.get(f"/screen/{overlay}").status_code == 404
    assert client.get("/screen/" + "A" * 43).status_code == 404
    assert client.get("/screen/short").status_code == 404


def test_screen_page_is_private_and_loads_nothing_from_elsewhere(
        client: FlaskClient, screen_token: str) -> None:
    page = client.get(f"/screen/{screen_token}")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "frame-src https://www.youtube-nocookie.com" in page.headers["Content-Security-Policy"]
    assert "<iframe" not in page.text  # no video configured: the question fills the screen
    assert "https://" not in page.text.replace("https://www.youtube-nocookie.com", "")


def test_screen_and_overlay_pages_are_never_framed(client: FlaskClient,
                                                   links: ScreenLinks) -> None:
    """Another site must not frame a board (an OBS browser source is not a frame)."""
    screen, _ = links.create("top table")
    overlay, _ = links.create("stream", kind="overlay")
    for path in (f"/screen/{screen}", f"/overlay/{overlay}"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy.split("; "), path


def test_video_is_embedded_from_youtube_nocookie(app: Flask, client: FlaskClient,
                                                 settings: Settings, screen_token: str) -> None:
    settings.screen.youtube_video_id = "dQw4w9WgXcQ"
    page = client.get(f"/screen/{screen_token}").text
    assert 'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?autoplay=1&amp;mute=1"' in page
    settings.screen.youtube_video_id = "\"><script>alert(1)</script>"
    assert "<iframe" not in client.get(f"/screen/{screen_token}").text


def test_only_the_hash_of_a_link_is_stored(links: ScreenLinks, store: Store) -> None:
    secret, link = links.create("top table")
    stored = store.conn.hgetall(store.keys.screen_links)
    assert list(stored) == [link.digest] and secret not in str(stored)
    assert links.find(secret) == link


def test_a_revoked_link_is_refused(live_server: str, links: ScreenLinks,
                                   client: FlaskClient) -> None:
    secret, link = links.create("top table")
    assert links.revoke(link)
    assert client.get(f"/screen/{secret}").status_code == 404
    refusals: list[Any] = []
    with pytest.raises(sio.exceptions.ConnectionError):
        Screen(live_server, secret, refusals, transport="polling")
    assert refusals == [{"message": "this screen link is unknown or was revoked",
                         "data": {"revoked": True}}]
    with pytest.raises(sio.exceptions.ConnectionError):
        Screen(live_server, "not-a-link-at-all-but-long-enough", transport="polling")


def test_revoking_a_link_disconnects_its_screens_only(
        connect: Callable[[str], Screen], links: ScreenLinks, hub: ScreenHub) -> None:
    doomed_secret, doomed = links.create("lost laptop")
    kept_secret, _ = links.create("top table")
    doomed_screen, kept_screen = connect(doomed_secret), connect(kept_secret)
    links.revoke(doomed)
    assert doomed_screen.revoked.wait(5)
    deadline = time.monotonic() + 5
    while doomed_screen.client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not doomed_screen.client.connected
    assert kept_screen.client.connected and not kept_screen.revoked.is_set()
    assert len(hub.sids) == 1


def test_an_overlay_link_never_receives_the_queue(connect: Callable[[str], Screen],
                                                  links: ScreenLinks, store: Store,
                                                  screen_token: str) -> None:
    """The link's kind, not the page, decides what its socket is sent: an overlay shows the
    question on screen only, so the approved queue never reaches it."""
    overlay_secret, _ = links.create("stream", kind="overlay")
    moderation = Moderation(store.conn, store.keys.event)
    first, second, third = ingest(store, "First?", "Second?", "Third?")
    act(moderation, store, "approve", first)
    overlay, screen = connect(overlay_secret), connect(screen_token)
    act(moderation, store, "approve", second)
    act(moderation, store, "screen", third)
    screen.wait_for(lambda b: b["current"] is not None and len(b["next"]) == 2)
    shown = overlay.wait_for(lambda b: b["current"] is not None)
    assert shown["current"]["text"] == "Third?"
    act(moderation, store, "edit", first, text="First, edited?")
    screen.wait_for(lambda b: b["next"] and b["next"][0]["text"] == "First, edited?")
    act(moderation, store, "answer", third)
    overlay.wait_for(lambda b: b["current"] is None)
    assert all(board["next"] == [] for board in overlay.boards), overlay.boards
    assert "Second?" not in json.dumps(overlay.boards)


def test_a_failure_at_connect_is_a_refusal_with_a_reason(live_server: str, hub: ScreenHub,
                                                         screen_token: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture,
                                                         ) -> None:
    def broken(*args: Any) -> None:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(hub, "join", broken)
    refusals: list[Any] = []
    with pytest.raises(sio.exceptions.ConnectionError):
        Screen(live_server, screen_token, refusals, transport="polling")
    assert refusals and refusals[0]["data"] == {"retry": True}
    assert "a bug of ours" in caplog.text


def test_a_full_server_refuses_a_screen_in_words_and_takes_it_when_there_is_room(
        live_server: str, app: Flask, connect: Callable[[str], Screen], screen_token: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its socket limit a node refuses a screen at once, saying why (the page shows it
    and tries again), so threads are left for HTTP; a place freed is taken again."""
    monkeypatch.setitem(app.config, "FLOOR_SOCKETS", 2)
    connect(screen_token), connect(screen_token)
    server = app.extensions["socketio"].server
    # Transports of earlier tests' screens may still be closing: only the refused one must go.
    before = set(server.eio.sockets)
    refusals: list[Any] = []
    with pytest.raises(sio.exceptions.ConnectionError):
        Screen(live_server, screen_token, refusals, transport="polling")
    assert refusals and refusals[0]["data"] == {"retry": True, "full": True}
    assert "full" in refusals[0]["message"]
    wait_until(lambda: set(server.eio.sockets) <= before, timeout=10)  # its transport is closed
    monkeypatch.setitem(app.config, "FLOOR_SOCKETS", 3)
    connect(screen_token).wait_for(lambda board: True)


def test_an_outsider_cannot_fill_the_node_through_the_default_namespace(
        live_server: str, app: Flask, connect: Callable[[str], Screen], screen_token: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The default namespace needs no login and no link: were its sessions accepted, they
    would count against the limit and turn the board's screens away."""
    monkeypatch.setitem(app.config, "FLOOR_SOCKETS", 1)
    outsiders = [sio.Client(reconnection=False) for _ in range(3)]
    try:
        for outsider in outsiders:
            with pytest.raises(sio.exceptions.ConnectionError):
                outsider.connect(live_server, namespaces=["/"], transports=["polling"],
                                 wait_timeout=10)
        connect(screen_token).wait_for(lambda board: True)
    finally:
        for outsider in outsiders:
            outsider.disconnect()


# -- what a screen sees -------------------------------------------------------------------

def test_a_screen_gets_the_board_on_connect(connect: Callable[[str], Screen], store: Store,
                                            screen_token: str) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    first, second, unseen = ingest(store, "First?", "Second?", "Never approved?")
    act(moderation, store, "approve", first)
    act(moderation, store, "screen", second)
    board = connect(screen_token).wait_for(lambda b: True)
    assert board["current"] == {"id": screen_id(second), "text": "Second?", "dir": "ltr",
                                "platform": "X", "author": "Ann Hughes", "asked_by": 1}
    assert [q["id"] for q in board["next"]] == [screen_id(first)]
    assert board["id"] == store.last_log_id()


def test_anonymised_screens_get_no_names(connect: Callable[[str], Screen], store: Store,
                                         settings: Settings, screen_token: str) -> None:
    settings.screen.anonymise = True
    moderation = Moderation(store.conn, store.keys.event)
    (qid,) = ingest(store, "Who pays?")
    act(moderation, store, "screen", qid)
    board = connect(screen_token).wait_for(lambda b: b["current"] is not None)
    assert board["current"] == {"id": screen_id(qid), "text": "Who pays?", "dir": "ltr",
                                "platform": "X", "asked_by": 1}
    assert qid.split(":")[1] not in json.dumps(board)  # the post's id would name the asker


def test_the_board_leaves_out_the_events_own_hashtags(hub: ScreenHub, store: Store,
                                                     settings: Settings) -> None:
    settings.event.hashtags = ["#APM2026", "#RiversideHealth"]
    moderation = Moderation(store.conn, store.keys.event)
    texts = ["#APM2026 When will the Millbrook unit reopen?",
             "Who decides on beds? #apm2026 #NHS",
             "#ＡＰＭ２０２６ #riversidehealth Is the budget , published?",
             "#APM2026"]
    for qid in ingest(store, *texts):
        act(moderation, store, "approve", qid)
    settings.screen.queue_length = 4
    assert [q["text"] for q in hub.board()["next"]] == [
        "When will the Millbrook unit reopen?", "Who decides on beds? #NHS",
        "Is the budget, published?", "#APM2026"]  # a tag alone stays: nothing else to show
    settings.screen.strip_hashtags = False
    assert [q["text"] for q in hub.board()["next"]] == texts


def test_each_question_has_its_own_text_direction(hub: ScreenHub, store: Store,
                                                  settings: Settings) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    settings.screen.strip_hashtags = False  # the hashtag stays first: still right-to-left
    texts = ["#APM2026 متى سيفتح المركز الجديد؟", "@trust https://x.example/a When, then?",
             "#APM2026 Quand? מתי?", "#APM2026 2026?"]
    for qid in ingest(store, *texts):
        act(moderation, store, "approve", qid)
    settings.screen.queue_length = 4
    assert [q["dir"] for q in hub.board()["next"]] == ["rtl", "ltr", "ltr", "auto"]


def test_boards_are_sent_only_when_they_change(connect: Callable[[str], Screen], store: Store,
                                               screen_token: str) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    on_screen, queued, other = ingest(store, "On screen?", "Queued?", "Somewhere else?")
    act(moderation, store, "screen", on_screen)
    act(moderation, store, "approve", queued)
    screen = connect(screen_token)
    screen.wait_for(lambda b: len(b["next"]) == 1)
    act(moderation, store, "star", on_screen)  # not shown on a screen
    ingest(store, "A new question?")  # not approved
    act(moderation, store, "edit", other, text="Edited, but not on the board")
    act(moderation, store, "edit", queued, text="Queued, and edited?")  # on the board
    board = screen.wait_for(lambda b: b["next"] and b["next"][0]["text"] == "Queued, and edited?")
    # Boards arrive in log order: one wrongly sent for the first three changes would stand
    # between the board on connecting and this one.
    assert screen.boards.index(board) == 1


def test_a_group_shows_how_many_asked(connect: Callable[[str], Screen], store: Store,
                                      screen_token: str) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    parent, duplicate = ingest(store, "Why close the ward?", "why is the ward closing??")
    act(moderation, store, "screen", parent)
    screen = connect(screen_token)
    act(moderation, store, "group", duplicate, parent=parent)
    board = screen.wait_for(lambda b: b["current"]["asked_by"] == 2)
    assert board["next"] == []


def test_a_screen_never_sees_a_rejected_or_unapproved_question(
        connect: Callable[[str], Screen], store: Store, settings: Settings, app: Flask,
        screen_token: str) -> None:
    """A whole rehearsal, ingested at full speed while moderators act: every board a screen
    receives is exactly the board at its log id, which holds approved questions only."""
    screen = connect(screen_token)
    # The hub reads the board as it is when the tail hands it an entry, so a tail behind the
    # moderators (a loaded machine) sends one board for several steps. Each step waits for
    # the tail to pass it on (to this listener, after the hub's) so that every step that
    # changes the board is seen.
    relayed: list[str] = []
    app.extensions["floor"].feed.on_entry(lambda _server, entry: relayed.append(entry.id))

    def passed_on(entry_id: str) -> None:
        wait_until(lambda: relayed and not _after(entry_id, relayed[-1]),
                   what=f"the tail to pass {entry_id} on")

    source = RehearsalSource(RehearsalSettings(enabled=True, speed=0), settings.event)
    poller = Poller(source, store)
    while poller.poll_once().stored:
        pass
    questions = [q for q in store.snapshot().questions if "question" in q["flags"]]
    assert len(questions) > 20, BUNDLED
    qid = [q["id"] for q in questions]
    moderation = Moderation(store.conn, store.keys.event)
    steps: list[tuple[str, int, dict[str, Any]]] = [
        ("approve", 0, {}), ("approve", 1, {}), ("approve", 2, {}), ("approve", 3, {}),
        ("approve", 4, {}), ("reject", 5, {"reason": "abusive"}), ("screen", 0, {}),
        ("edit", 1, {"text": "An edited question for the board?"}),
        ("reject", 2, {"reason": "off topic"}), ("group", 6, {"parent": 1}),
        ("screen", 1, {"then": "queue"}), ("answer", 1, {}), ("screen", 7, {}),
        ("undo", 2, {}), ("reorder", 4, {"index": 0}), ("edit", 7, {"text": "Shown, edited?"}),
        ("screen", 4, {}), ("reject", 3, {"reason": "duplicate"}), ("unscreen", 4, {}),
        ("screen", 2, {}),
    ]
    for action, index, params in steps:
        if "parent" in params:
            params = {"parent": qid[params["parent"]]}
        act(moderation, store, action, qid[index], **params)
        passed_on(store.last_log_id())
    moderation.clear_screen("sam")
    last = store.last_log_id()
    passed_on(last)
    screen.wait_for(lambda b: not _after(last, b["id"]))
    boards = list(screen.boards)

    # Replay the log to know the truth at every id, and check each board against it.
    truth: dict[str, dict[str, Any]] = {}
    queue: list[str] = []
    on_screen: str | None = None
    entries = iter(store.log_after())
    entry = next(entries, None)
    previous: dict[str, Any] | None = None
    for board in boards:
        while entry is not None and not _after(entry.id, board["id"]):
            truth.update({screen_id(q["id"]): q for q in entry.qs})
            if "queue_edit" in entry.extra:
                queue = queue_edit.apply(queue, entry.extra["queue_edit"])
            if "screen" in entry.extra:
                on_screen = entry.extra["screen"] or None
            entry = next(entries, None)
        for shown in ([board["current"]] if board["current"] else []) + board["next"]:
            assert set(shown) <= SCREEN_FIELDS, shown
            assert truth[shown["id"]]["state"] in ("approved", "on_screen"), shown
            assert shown["text"] == strip_tags(truth[shown["id"]]["text"],
                                               Rules.of(settings).tags)
        expected_current = screen_id(on_screen) if on_screen else None
        assert (board["current"] or {}).get("id") == expected_current
        assert [q["id"] for q in board["next"]] == [
            screen_id(qid) for qid in queue[:settings.screen.queue_length]]
        assert _content(board) != previous, "a board was sent that changed nothing"
        previous = _content(board)
    assert len(boards) >= len(steps) // 2
    assert any(q["text"] == "An edited question for the board?"
               for b in boards for q in b["next"])
    assert _content(boards[-1])["current"] is None


def _after(a: str, b: str) -> bool:
    """Stream id ``a`` is later than ``b``."""
    am, asq = (int(x) for x in a.split("-"))
    bm, bsq = (int(x) for x in b.split("-"))
    return (am, asq) > (bm, bsq)


def test_a_reconnecting_screen_converges(connect: Callable[[str], Screen], store: Store,
                                         hub: ScreenHub, screen_token: str) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    first, second, third = ingest(store, "First?", "Second?", "Third?")
    act(moderation, store, "screen", first)
    screen = connect(screen_token)
    screen.wait_for(lambda b: b["current"] is not None)
    # The network drops: the transport dies without a goodbye, and the board moves on.
    dropped = screen.client.eio.ws.sock
    dropped.shutdown(socket.SHUT_RDWR)
    act(moderation, store, "approve", third)
    act(moderation, store, "screen", second)
    act(moderation, store, "edit", second, text="Second, edited?")
    truth = _content(hub.board())
    assert truth["current"]["text"] == "Second, edited?"
    board = screen.wait_for(lambda b: _content(b) == truth, timeout=10)
    deadline = time.monotonic() + 5
    while not screen.client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert screen.client.connected
    dropped.close()
    # A second screen connecting now sees the same board.
    assert _content(connect(screen_token).wait_for(lambda b: True)) == _content(board)
