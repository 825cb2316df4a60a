"""What browsers are sent, typed in one place: a question, the console's snapshot, a log entry,
and the board that screens show.

The console's script and the screens' script read exactly these keys; mypy checks that the
server builds them whole, and ``tests/test_payloads.py`` that they match the projection.
"""

# No "from __future__ import annotations": TypedDict reads NotRequired[...] only from evaluated
# annotations, and the tests compare these keys with what is sent.
from typing import Any, NotRequired, TypedDict

from aggregator.core.queue_edit import QueueEdit


class QuestionPayload(TypedDict):
    """One question's projection (``aggregator.core.question.Question``), as consoles get it."""

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
    triage: dict[str, Any]  # the triage worker's findings (aggregator/followers/triage/assess.py)
    asked_on: dict[str, int]  # platform -> askers, once others are grouped under it
    answer_note: str
    in_writing: bool
    on_screen_since: str
    item: str
    directed_to: str
    aside_reason: str  # why a held question was set aside ("muted author", a moderator's words)


class SnapshotPayload(TypedDict):
    """Everything a console starts from, as of log entry ``last_id``."""

    last_id: str
    questions: list[QuestionPayload]
    queue: list[str]
    screen: str | None


class ListPage(TypedDict):
    """The part of one console list sent: ids in the list's order, each one's index score
    (arrival number for Incoming, Unix ms of its last change for the others; none for the
    queue, which is paged by position), and whether the list goes on past them."""

    ids: list[str]
    scores: list[float | int]
    more: bool


class ConsoleSnapshotPayload(TypedDict):
    """What a console starts from at volume (``aggregator.core.columns``), as of ``last_id``: every
    list's count, the whole queue's order, the screen, the first page of each list, and the
    projections of the questions named there."""

    last_id: str
    queue: list[str]
    screen: str | None
    counts: dict[str, int]
    lists: dict[str, ListPage]
    questions: list[QuestionPayload]


class PagePayload(TypedDict):
    """The answer to a console's ``page`` request: the next part of one list."""

    list: str
    count: int
    page: ListPage
    questions: list[QuestionPayload]


class SearchPayload(PagePayload):
    """The answer to a ``page`` request with filters: the matches found past the cursor, the
    cursor the scan reached (``edge``: [score, id], or a position in the queue; the request's
    own cursor when it scanned nothing), and how many of the list lie up to it (``scanned``)."""

    edge: Any
    scanned: int


class LogEntryPayload(TypedDict):
    """One change. ``queue_edit`` (``aggregator.core.queue_edit``; logs written before it carry the
    whole ``queue``) and ``screen`` come only when the change moved them; an action's own
    details (``reason``, ``previous``, ``flag``...) ride along as further string fields."""

    id: str
    type: str
    qid: str
    actor: str
    at: str
    qs: list[QuestionPayload]
    queue: NotRequired[list[str]]
    queue_edit: NotRequired[QueueEdit]
    screen: NotRequired[str]
    was: NotRequired[dict[str, str]]  # qid -> the state it left, for each question that moved
    seq: NotRequired[dict[str, int]]  # qid -> arrival number, for each one that (re)entered new
    arrival: NotRequired[str]  # a received question's arrival number (a plain string: cheap)


class BoardQuestion(TypedDict):
    """What a screen may know of one question: never its platform id, its author only when
    the board is not anonymised; its text, direction and "asked by" words are the public
    text's (``aggregator.core.public_text``)."""

    id: str
    text: str
    dir: str
    platform: str
    asked_by: int
    platforms: NotRequired[int]  # on how many platforms it was asked, when more than one
    asked: NotRequired[str]  # "asked by 3 people on 2 platforms" (aggregator/core/public_text.py)
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
