"""What browsers are sent has the typed shape of aggregator/core/payloads.py, key for key."""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from aggregator.base.settings import EventSettings, ScreenSettings, Settings
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.payloads import (
    Board,
    BoardQuestion,
    ConsoleSnapshotPayload,
    ListPage,
    LogEntryPayload,
    PagePayload,
    QuestionPayload,
    SnapshotPayload,
)
from aggregator.core.question import Post, Question
from aggregator.core.store import Store
from web.screen import ScreenHub
from web.screen_links import ScreenLinks


def _keys(payload: type) -> tuple[set[str], set[str]]:
    """A TypedDict's (required, optional) keys."""
    return set(payload.__required_keys__), set(payload.__optional_keys__)  # type: ignore[attr-defined]


def _conforms(value: dict[str, Any], payload: type, *, extra: bool = False) -> None:
    required, optional = _keys(payload)
    assert required <= set(value), f"{payload.__name__} lacks {required - set(value)}"
    if not extra:
        assert set(value) <= required | optional, \
            f"{payload.__name__} has untyped {set(value) - required - optional}"


def test_the_question_payload_is_the_projection_field_for_field() -> None:
    fields = {f.name: f.type for f in dataclasses.fields(Question)}
    hints = get_type_hints(QuestionPayload)
    assert set(hints) == set(fields), "Question and QuestionPayload name different fields"


def test_snapshot_and_log_entries_have_their_typed_shape(store: Store, event: str) -> None:
    (qid,) = store.ingest("youtube", [(normalise(Post("yt", "m1", "Why now?", "Ann")), {})])
    moderation = Moderation(store.conn, event)
    moderation.apply("approve", qid, 1, "sam")
    moderation.apply("reject", qid, 2, "sam", reason="off topic")
    snapshot = store.snapshot().to_dict()
    _conforms(dict(snapshot), SnapshotPayload)
    for question in snapshot["questions"]:
        _conforms(dict(question), QuestionPayload)
    entries = [e.to_dict() for e in store.log_after()]
    assert [e["type"] for e in entries] == ["received", "approve", "reject"]
    for entry in entries:
        _conforms(dict(entry), LogEntryPayload, extra=True)  # an action's own details ride along
        for question in entry["qs"]:
            _conforms(dict(question), QuestionPayload)
    assert "queue_edit" in entries[1] and entries[2]["reason"] == "off topic"  # type: ignore[typeddict-item]


def test_the_console_snapshot_and_pages_have_their_typed_shape(store: Store, event: str) -> None:
    qids = store.ingest("youtube", [(normalise(Post("yt", f"m{i}", f"Question {i}?", "Ann")), {})
                                    for i in range(4)])
    moderation = Moderation(store.conn, event)
    moderation.apply("approve", qids[0], 1, "sam")
    moderation.apply("reject", qids[1], 1, "sam", reason="off topic")
    snapshot = store.columns.snapshot(limit=2)
    _conforms(dict(snapshot), ConsoleSnapshotPayload)
    assert set(snapshot["lists"]) == {"incoming", "queue", "answered", "held", "rejected",
                                      "grouped"}
    for page in snapshot["lists"].values():
        _conforms(dict(page), ListPage)
    for question in snapshot["questions"]:
        _conforms(dict(question), QuestionPayload)
    for name, after in (("incoming", None), ("queue", 0), ("rejected", None)):
        reply = store.columns.page(name, after, 2)
        _conforms(dict(reply), PagePayload)
        _conforms(dict(reply["page"]), ListPage)
        for question in reply["questions"]:
            _conforms(dict(question), QuestionPayload)
    entries = [e.to_dict() for e in store.log_after()]
    assert entries[-1]["was"] == {qids[1]: "new"}  # typed as LogEntryPayload's optional keys
    assert entries[0]["arrival"] == "1"


def test_the_board_has_its_typed_shape(store: Store, event: str) -> None:
    qids = store.ingest("youtube", [(normalise(Post("yt", f"m{i}", f"Question {i}?", "Ann")), {})
                                    for i in range(3)])
    moderation = Moderation(store.conn, event)
    for qid in qids:
        moderation.apply("approve", qid, 1, "sam")
    moderation.apply("screen", qids[0], 2, "sam")
    settings = Settings(event=EventSettings(slug=event), screen=ScreenSettings(anonymise=False))
    board = ScreenHub(store, settings, ScreenLinks(store.conn, event)).board()
    _conforms(dict(board), Board)
    assert board["current"] is not None and len(board["next"]) == 2
    for shown in [board["current"], *board["next"]]:
        _conforms(dict(shown), BoardQuestion)
        assert shown.get("author") == "Ann"
