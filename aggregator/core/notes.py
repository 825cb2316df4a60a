"""Notes from the moderators to the chair, and the chair's acknowledgements.

A note is short by rule (``NOTE_MAX`` characters): the chair's view shows every open note whole,
so a longer one is refused when it is sent, with the count, rather than cut or scrolled out of
sight at the top table. Each note and each acknowledgement is a log entry (``note``,
``note_seen``) written with the note's record in one MULTI, so every web process relays it to
its consoles and chair views like any other change, and the record says who told the chair what
and when the chair saw it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from aggregator.base import personal
from aggregator.base.keys import Keys
from aggregator.core.actions import Refused, capped
from aggregator.core.normalise import clean_text
from aggregator.core.question import utc_now

# What the chair's view shows whole, in its smallest type, beside the question: about two
# lines of a tweet. The console counts down to it.
NOTE_MAX = 200
# Cleaning must not cut a long note short: it is refused with its real length instead.
UNCAPPED = 1_000_000
# Log entry types.
NOTE, NOTE_SEEN = "note", "note_seen"


@dataclass
class Note:
    id: str
    text: str
    by: str
    at: str
    seen_at: str = ""
    seen_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Notes:
    """The event's notes to the chair. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def send(self, text: str, actor: str) -> Note:
        """A moderator's note; refused when empty or longer than ``NOTE_MAX``."""
        cleaned, _ = clean_text(str(text), limit=UNCAPPED)
        if not cleaned:
            raise Refused("write the note first")
        capped(cleaned, NOTE_MAX, "a note to the chair", "so the chair sees it whole")
        # Masked as it is written: the log entry, and so the ledger, hold the note in clear, and
        # a purge can delete nothing from the ledger.
        cleaned = personal.mask(cleaned)
        # Ids sort in the order notes were written, even within one millisecond.
        note = Note(f"{time.time_ns():x}{secrets.token_hex(3)}", cleaned, actor, utc_now())
        self._write(note, NOTE, actor)
        return note

    def acknowledge(self, note_id: str, actor: str) -> Note:
        """The chair saw a note. Seeing it twice changes nothing (and logs nothing)."""

        def seen(pipe: redis.client.Pipeline) -> Note:
            record = pipe.hget(self.keys.notes, note_id)
            if record is None:
                raise Refused("there is no such note (it may have been sent to another event)")
            note = Note(**json.loads(record))
            if note.seen_at:
                return note
            note.seen_at, note.seen_by = utc_now(), actor
            pipe.multi()
            self._record(pipe, note, NOTE_SEEN, actor)
            pipe.execute()
            return note

        return self.conn.transaction(seen, self.keys.notes,  # type: ignore[no-any-return]
                                     value_from_callable=True)

    def all(self) -> list[Note]:
        """Every note, oldest first."""
        records = self.conn.hvals(self.keys.notes)
        return sorted((Note(**json.loads(r)) for r in records), key=lambda n: n.id)

    def _write(self, note: Note, entry_type: str, actor: str) -> None:
        pipe = self.conn.pipeline(transaction=True)
        self._record(pipe, note, entry_type, actor)
        pipe.execute()

    def _record(self, pipe: Any, note: Note, entry_type: str, actor: str) -> None:
        record = json.dumps(note.to_dict(), ensure_ascii=False)
        pipe.hset(self.keys.notes, note.id, record)
        pipe.xadd(self.keys.log, {"type": entry_type, "qid": "", "actor": actor,
                                  "at": note.seen_at or note.at, "qs": "[]", "note": record})


def note_of(entry_extra: dict[str, Any]) -> dict[str, Any] | None:
    """The note a ``note``/``note_seen`` log entry carries, as a dict (None if unreadable)."""
    try:
        note = json.loads(entry_extra.get("note", ""))
    except (TypeError, ValueError):
        return None
    return note if isinstance(note, dict) else None
