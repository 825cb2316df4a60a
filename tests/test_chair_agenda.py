"""Agenda items: seeded from the config, changed live through the log, questions tagged with the
`tag` action, the board's queue following the item the meeting is on, and an item removed
while questions are tagged to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aggregator.base.settings import AgendaItemSettings, AgendaSettings, Settings
from aggregator.core.actions import Refused
from aggregator.core.agenda import Agenda, AgendaItem, suggest
from aggregator.core.moderation import Moderation
from aggregator.core.store import Store
from tests.fixtures.screens import Screen
from tests.posts import act, ingest
from web.screen_links import ScreenLinks

ITEMS = [AgendaItemSettings(id="finance", title="Finance", keywords=["budget", "cost"]),
         AgendaItemSettings(id="ambulances", title="Ambulances", keywords=["ambulance"])]


@pytest.fixture
def agenda(store: Store) -> Agenda:
    agenda = Agenda(store.conn, store.keys.event)
    agenda.seed(ITEMS)
    return agenda


@pytest.fixture
def open_link(live_server: str, store: Store) -> Iterator[Callable[..., Screen]]:
    links = ScreenLinks(store.conn, store.keys.event)
    opened: list[Screen] = []

    def open_(kind: str) -> Screen:
        opened.append(Screen(live_server, links.create(kind, kind)[0]))
        return opened[-1]

    yield open_
    for screen in opened:
        screen.close()


def _tag(moderation: Moderation, store: Store, qid: str, item: str) -> str:
    return act(moderation, store, "tag", qid, item=item)


def test_the_config_seeds_the_agenda_once(agenda: Agenda, store: Store) -> None:
    assert [(i.id, i.title) for i in agenda.items()] == [("finance", "Finance"),
                                                          ("ambulances", "Ambulances")]
    agenda.rename("finance", "Money matters", "sam")
    agenda.seed(ITEMS)  # a restart: the live rename stays
    assert agenda.items()[0].title == "Money matters"
    assert [e.type for e in store.log_after()] == ["agenda"]


def test_the_config_refuses_duplicate_or_malformed_item_ids() -> None:
    with pytest.raises(ValueError, match="finance appear twice"):
        AgendaSettings.model_validate({"items": [{"id": "finance", "title": "A"},
                                                 {"id": "finance", "title": "B"}]})
    with pytest.raises(ValueError, match="lower-case letters"):
        AgendaSettings.model_validate({"items": [{"id": "Finance!", "title": "A"}]})


def test_every_change_is_one_log_entry_carrying_the_whole_agenda(agenda: Agenda,
                                                                 store: Store) -> None:
    new = agenda.add("Any other business", "sam")
    assert new == "any-other-business"
    assert agenda.add("Any other business", "kim") == "any-other-business-2"
    agenda.move("finance", "sam")
    agenda.rename("finance", "Finance and audit", "kim")
    with pytest.raises(Refused, match="needs a title"):
        agenda.rename("finance", "  <b></b> ", "kim")
    with pytest.raises(Refused, match="no such agenda item"):
        agenda.move("nope", "kim")
    entries = store.log_after()
    assert [e.extra["change"] for e in entries] == [
        "added Any other business", "added Any other business", "moved to Finance",
        "renamed Finance to Finance and audit"]
    last = json.loads(entries[-1].extra["agenda"])
    assert last["current"] == "finance" and last == agenda.state()
    assert [i["title"] for i in last["items"]] == [
        "Finance and audit", "Ambulances", "Any other business", "Any other business"]


def test_suggest_counts_whole_keywords_in_any_case() -> None:
    items = [AgendaItem(s.id, s.title, s.keywords) for s in ITEMS]
    assert suggest("What does the BUDGET say about the cost of ambulances?", items) == "finance"
    assert suggest("Ambulance waits?", items) == "ambulances"
    assert suggest("Budgeting is not a keyword", items) == ""


def test_tagging_a_question(agenda: Agenda, store: Store, moderation: Moderation) -> None:
    (qid,) = ingest(store, "What does the budget say?")
    _tag(moderation, store, qid, "finance")
    question = store.question(qid)
    assert question is not None and question.item == "finance"
    entry = store.log_after()[-1]
    assert entry.type == "tag" and entry.extra["item"] == "finance"
    assert entry.extra["previous"] == ""
    with pytest.raises(Refused, match="already on that item"):
        _tag(moderation, store, qid, "finance")
    with pytest.raises(Refused, match="no such agenda item"):
        _tag(moderation, store, qid, "sport")
    _tag(moderation, store, qid, "")
    assert store.question(qid).item == ""  # type: ignore[union-attr]


def test_the_board_lists_the_items_questions_and_names_it(
        open_link: Callable[..., Screen], agenda: Agenda, store: Store,
        moderation: Moderation, settings: Settings) -> None:
    ids = ingest(store, "Budget one?", "Ambulance one?", "Budget two?", "Untagged?")
    for qid in ids:
        act(moderation, store, "approve", qid)
    _tag(moderation, store, ids[0], "finance")
    _tag(moderation, store, ids[1], "ambulances")
    screen, overlay, chair = open_link("screen"), open_link("overlay"), open_link("chair")
    board = screen.wait_for(lambda b: len(b["next"]) == 3)
    assert board["item"] is None
    agenda.move("finance", "sam")
    board = screen.wait_for(lambda b: b["item"] is not None)
    assert board["item"] == {"id": "finance", "title": "Finance"}
    assert [q["text"] for q in board["next"]] == ["Budget one?"]
    _tag(moderation, store, ids[2], "finance")  # joins the board, though it moved no queue
    screen.wait_for(lambda b: [q["text"] for q in b["next"]] == ["Budget one?", "Budget two?"])
    view = chair.wait_for(lambda v: v["waiting_item"] == 2)
    assert view["waiting"] == 4 and view["item"] == {"id": "finance", "title": "Finance"}
    assert [q["text"] for q in view["next"]] == ["Budget one?", "Budget two?"]
    assert all(b["item"] is None and b["next"] == [] for b in overlay.boards)
    agenda.move("", "sam")
    board = screen.wait_for(lambda b: b["item"] is None and len(b["next"]) == 3)
    assert [q["text"] for q in board["next"]] == ["Budget one?", "Ambulance one?",
                                                  "Budget two?"]


def test_removing_an_item_with_tagged_questions(
        open_link: Callable[..., Screen], agenda: Agenda, store: Store,
        moderation: Moderation) -> None:
    """Its questions keep the old id, which names nothing: they count as having no item, and
    show whenever no item is chosen. The meeting, if it was on the item, goes back to all
    questions in the same step; tagging to the removed item is refused."""
    ids = ingest(store, "Budget one?", "Ambulance one?")
    for qid in ids:
        act(moderation, store, "approve", qid)
    _tag(moderation, store, ids[0], "finance")
    agenda.move("finance", "sam")
    screen = open_link("screen")
    screen.wait_for(lambda b: b["item"] is not None and len(b["next"]) == 1)
    agenda.remove("finance", "kim")
    board = screen.wait_for(lambda b: b["item"] is None)
    assert [q["text"] for q in board["next"]] == ["Budget one?", "Ambulance one?"]
    assert agenda.state()["current"] == ""
    entry = store.log_after()[-1]
    assert entry.extra["change"] == "removed Finance"
    assert json.loads(entry.extra["agenda"])["current"] == ""
    assert store.question(ids[0]).item == "finance"  # type: ignore[union-attr]
    with pytest.raises(Refused, match="no such agenda item"):
        _tag(moderation, store, ids[1], "finance")
    _tag(moderation, store, ids[0], "ambulances")  # it can be tagged again
    with pytest.raises(Refused, match="no such agenda item"):
        agenda.remove("finance", "kim")


def test_moderators_change_the_agenda_over_the_socket(socket_client: Any, agenda: Agenda
                                                      ) -> None:
    def change(**payload: Any) -> dict[str, Any]:
        return socket_client.emit("agenda_change", payload, namespace="/console",  # type: ignore[no-any-return]
                                  callback=True)

    assert change(op="add", title="Any other business")["ok"] is True
    assert change(op="rename", item="finance", title="Money")["ok"] is True
    assert change(op="move", item="finance")["ok"] is True
    assert change(op="remove", item="nope") == {
        "ok": False, "error": "there is no such agenda item (someone may have removed it)"}
    assert change(op="explode")["ok"] is False
    assert change(op="move", item=["finance"])["ok"] is False
    state = socket_client.emit("agenda", {}, namespace="/console", callback=True)["agenda"]
    assert state["current"] == "finance"
    assert [i["title"] for i in state["items"]] == ["Money", "Ambulances", "Any other business"]
    tagged = socket_client.emit("act", {"action": "tag", "qid": "x:none", "version": 1,
                                        "params": {"item": "finance"}},
                                namespace="/console", callback=True)
    assert tagged == {"ok": False, "error": "there is no question x:none"}


def test_the_chair_moves_the_meeting_to_an_item(open_link: Callable[..., Screen], agenda: Agenda,
                                                store: Store) -> None:
    screen, chair = open_link("screen"), open_link("chair")
    view = chair.wait_for(lambda v: True)
    assert view["agenda"] == [{"id": "finance", "title": "Finance"},
                              {"id": "ambulances", "title": "Ambulances"}]
    refused = screen.client.call("move", {"item": "finance"}, namespace="/screen")
    assert refused == {"ok": False, "error": "only the chair's view moves the agenda"}
    assert chair.client.call("move", {"item": "sport"}, namespace="/screen") == {
        "ok": False, "error": "there is no such agenda item (someone may have removed it)"}
    assert chair.client.call("move", {"item": "finance"}, namespace="/screen")["ok"] is True
    screen.wait_for(lambda b: b["item"] == {"id": "finance", "title": "Finance"})
    assert store.log_after()[-1].actor == "chair (chair)"
    assert chair.client.call("move", {"item": ""}, namespace="/screen")["ok"] is True
    screen.wait_for(lambda b: b["item"] is None)
