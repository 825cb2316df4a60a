"""What a source hands over (a Post) and what Floor keeps (a Question)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aggregator.base.platforms import PLATFORMS as PLATFORMS  # code -> label, from the catalogue
from aggregator.base.platforms import question_id
from aggregator.core.payloads import QuestionPayload

# A question's life (see design.md), in the moderators' words. "grouped" is a duplicate folded
# under another question; "held" is set aside for later, neither queued nor rejected.
STATE_WORDS = {"new": "new", "approved": "approved", "on_screen": "on screen",
               "answered": "answered", "rejected": "rejected", "grouped": "grouped",
               "held": "held for later"}
STATES = tuple(STATE_WORDS)


@dataclass
class Post:
    """One post as a source read it: fields pulled out of the platform's payload, text untouched."""

    platform: str
    native_id: str
    text: str
    author_name: str = ""
    author_handle: str = ""
    url: str = ""
    posted_at: str = ""
    raw: Any = None
    flags: list[str] = field(default_factory=list)

    @property
    def qid(self) -> str:
        return question_id(self.platform, self.native_id)


@dataclass
class Question:
    """The projection of one question: what consoles and screens are sent.

    ``text`` is what the board shows (cleaned, capped, maybe edited by a moderator);
    ``original`` is the post's text as received, never changed.
    """

    id: str
    platform: str
    text: str
    original: str
    author_name: str = ""
    author_handle: str = ""
    url: str = ""
    posted_at: str = ""
    received_at: str = ""
    flags: list[str] = field(default_factory=list)
    state: str = "new"
    version: int = 1
    starred: bool = False
    parent: str = ""
    asked_by: int = 1
    # Platform -> how many of those who asked it came from there (this question and the ones
    # grouped under it); empty: only this question, from its own platform.
    asked_on: dict[str, int] = field(default_factory=dict)
    reject_reason: str = ""
    last_actor: str = ""
    last_action: str = "received"
    updated_at: str = ""
    undo_depth: int = 0  # how many steps Undo can take back, so a console need not guess
    # The triage worker's findings (aggregator/followers/triage): question score and reason, abuse,
    # masked personal data, the open question this one repeats. Empty until it has run.
    triage: dict[str, Any] = field(default_factory=dict)
    answer_note: str = ""  # a short summary of the answer, for the published record
    in_writing: bool = False  # to be answered in writing (awaiting while there is no answer_note)
    on_screen_since: str = ""  # when it last went on screen; empty when it is not there
    item: str = ""  # the agenda item it is tagged to (aggregator/core/agenda.py); empty: none
    directed_to: str = ""  # the board member it is for ([chair] board_members); empty: anyone
    # Why a held question was set aside: a rule's reason ("muted author": its author is muted)
    # or the moderator's (set_aside); empty after a plain hold. Cleared when it leaves "held".
    aside_reason: str = ""

    @property
    def author_key(self) -> str:
        """Who a mute names: ``platform:handle`` (the name where a platform gives no handle);
        empty when the post has no author to mute (the web form's anonymous questions)."""
        who = self.author_handle or self.author_name
        return f"{self.platform}:{who}" if who else ""

    def to_dict(self) -> QuestionPayload:
        # Shallow on purpose: dataclasses.asdict deep-copies and is the slowest step of ingest.
        data = dict(self.__dict__)
        data["flags"] = list(self.flags)
        data["triage"] = dict(self.triage)
        data["asked_on"] = dict(self.asked_on)
        return cast(QuestionPayload, data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Question:
        return cls(**data)


# The triage worker's name as an actor: it writes each question once (its findings, the text
# masked), after moderators may have seen it (``Moderation.run``).
TRIAGE_ACTOR = "triage"


def utc_now(timestamp: float | None = None) -> str:
    """Now (or a Unix time) as ISO 8601 UTC with milliseconds: 2026-05-14T10:00:05.123Z."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
