"""What browsers are sent, typed in one place: a question, the console's snapshot, a log entry,
and the board that screens show.

The console's script and the screens' script read exactly these keys; mypy checks that the
server builds them whole, and ``tests/test_payloads.py`` that they match the projection.
"""

# No "from __future__ import annotations": TypedDict reads NotRequired[...] only from evaluated
# annotations, and the tests compare these keys with what is sent.
from typing import Any, NotRequired, TypedDict


class QuestionPayload(TypedDict):
    """One question's projection (``aggregator.question.Question``), as consoles get it."""

    id: str
    platform: str
    text: str
    original: str
    author_name: str
    author_handle: str
    url: str
    posted_at: str
    received_at: str
    flags: list[str]
    state: str
    version: int
    starred: bool
    parent: str
    asked_by: int
    reject_reason: str
    last_actor: str
    last_action: str
    updated_at: str
    undo_depth: int
    triage: dict[str, Any]  # the triage worker's findings (aggregator/triage/assess.py)
    asked_on: dict[str, int]  # platform -> askers, once others are grouped under it
    answer_note: str
    in_writing: bool
    on_screen_since: str
    item: str
    directed_to: str
    aside_reason: str  # why a rule set a held question aside ("muted author"), else ""


class SnapshotPayload(TypedDict):
    """Everything a console starts from, as of log entry ``last_id``."""

    last_id: str
    questions: list[QuestionPayload]
    queue: list[str]
    screen: str | None


class LogEntryPayload(TypedDict):
    """One change. ``queue`` and ``screen`` come only when the change moved them; an action's
    own details (``reason``, ``previous``, ``flag``...) ride along as further string fields."""

    id: str
    type: str
    qid: str
    actor: str
    at: str
    qs: list[QuestionPayload]
    queue: NotRequired[list[str]]
    screen: NotRequired[str]


class BoardQuestion(TypedDict):
    """What a screen may know of one question: never its platform id, its author only when
    the board is not anonymised."""

    id: str
    text: str
    dir: str
    platform: str
    asked_by: int
    platforms: NotRequired[int]  # on how many platforms it was asked, when more than one
    author: NotRequired[str]
    to: NotRequired[str]  # the board member it is directed to


class BoardItem(TypedDict):
    """The agenda item the meeting is on, as the board names it."""

    id: str
    title: str


class Board(TypedDict):
    """The board as of log entry ``id``: the question on screen and the next ones."""

    id: str
    current: BoardQuestion | None
    next: list[BoardQuestion]
    item: BoardItem | None
