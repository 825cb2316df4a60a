"""The meeting's agenda items, which one the meeting is on, and which item a question suggests.

The items start from ``[agenda] items`` in the config (``seed``, which never overwrites what the
moderators changed since) and live in the ``agenda`` hash; the item the meeting is on is the
``agenda-current`` key (absent: all questions). Every change (add, rename, remove, move) is one
MULTI with its ``agenda`` log entry, which carries the whole agenda after the change, so a
console or a screen applies it without another read.

A question names its item in its projection (``item``), set by the ``tag`` action
(``aggregator/core/actions.py``). Removing an item leaves its questions where they are, tagged to
an id that no longer names an item: they count as having no item (the console shows them under
"no item"; the board shows them whenever no item is chosen). If the meeting was on the removed
item, it goes back to all questions in the same step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from aggregator.base.keys import Keys
from aggregator.base.settings import ITEM_ID, AgendaItemSettings
from aggregator.core.actions import Refused, capped
from aggregator.core.normalise import clean_text
from aggregator.core.notes import UNCAPPED
from aggregator.core.question import utc_now

AGENDA = "agenda"
MAX_TITLE = 80
MAX_ITEMS = 40
_WORD = re.compile(r"\w+")


@dataclass
class AgendaItem:
    id: str
    title: str
    keywords: list[str] = field(default_factory=list)
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def suggest(text: str, items: Iterable[AgendaItem]) -> str:
    """The item whose keywords the text mentions most (whole words, any case); "" if none."""
    words = {w.casefold() for w in _WORD.findall(text)}
    best, hits = "", 0
    for item in items:
        found = sum(1 for k in item.keywords if k.casefold() in words)
        if found > hits:
            best, hits = item.id, found
    return best


def _title(title: str) -> str:
    cleaned, _ = clean_text(str(title), limit=UNCAPPED)  # capped below, in words
    if not cleaned:
        raise Refused("an agenda item needs a title")
    return capped(cleaned, MAX_TITLE, "an agenda item's title", "so the board shows it whole")


class Agenda:
    """The event's agenda. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def seed(self, items: list[AgendaItemSettings]) -> None:
        """Add the config's items the event has never had (a restart keeps live renames)."""
        if not items or self.conn.exists(self.keys.agenda):
            return
        pipe = self.conn.pipeline(transaction=True)
        for position, item in enumerate(items):
            record = AgendaItem(item.id, item.title, list(item.keywords), position)
            pipe.hsetnx(self.keys.agenda, item.id, json.dumps(record.to_dict()))
        pipe.execute()

    def items(self) -> list[AgendaItem]:
        records = self.conn.hvals(self.keys.agenda)
        return sorted((AgendaItem(**json.loads(r)) for r in records),
                      key=lambda i: (i.position, i.id))

    def state(self) -> dict[str, Any]:
        """{items, current}: what consoles and log entries carry."""
        pipe = self.conn.pipeline(transaction=False)
        pipe.hvals(self.keys.agenda)
        pipe.get(self.keys.agenda_current)
        records, current = pipe.execute()
        return _state(records, current)

    # -- changes, each one step with its log entry ------------------------------------------------

    def add(self, title: str, actor: str, keywords: Iterable[str] = ()) -> str:
        """A new item at the end; returns its id (made from the title)."""
        title = _title(title)
        made: list[str] = []
        base = re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:30] or "item"

        def change(items: dict[str, AgendaItem], current: str) -> tuple[str, str]:
            if len(items) >= MAX_ITEMS:
                raise Refused(f"the agenda has {MAX_ITEMS} items already")
            new, n = base, 1
            while new in items or not ITEM_ID.match(new):
                n += 1
                new = f"{base}-{n}"
            position = max((i.position for i in items.values()), default=-1) + 1
            items[new] = AgendaItem(new, title, [k for k in keywords if k], position)
            made[:] = [new]
            return current, f"added {title}"

        self._change(actor, change)
        return made[0]

    def rename(self, item_id: str, title: str, actor: str) -> str:
        title = _title(title)

        def change(items: dict[str, AgendaItem], current: str) -> tuple[str, str]:
            old = self._known(items, item_id)
            words = f"renamed {old.title} to {title}"
            old.title = title
            return current, words

        return self._change(actor, change)

    def remove(self, item_id: str, actor: str) -> str:
        def change(items: dict[str, AgendaItem], current: str) -> tuple[str, str]:
            old = self._known(items, item_id)
            del items[item_id]
            return ("" if current == item_id else current), f"removed {old.title}"

        return self._change(actor, change)

    def move(self, item_id: str, actor: str) -> str:
        """The meeting moves to an item ("" for all questions)."""

        def change(items: dict[str, AgendaItem], current: str) -> tuple[str, str]:
            if not item_id:
                return "", "back to all questions"
            return item_id, f"moved to {self._known(items, item_id).title}"

        return self._change(actor, change)

    @staticmethod
    def _known(items: dict[str, AgendaItem], item_id: str) -> AgendaItem:
        if item_id not in items:
            raise Refused("there is no such agenda item (someone may have removed it)")
        return items[item_id]

    def _change(self, actor: str,
                change: Callable[[dict[str, AgendaItem], str], tuple[str, str]]) -> str:
        k = self.keys

        def attempt(pipe: redis.client.Pipeline) -> str:
            records = pipe.hgetall(k.agenda)
            items = {i: AgendaItem(**json.loads(r)) for i, r in records.items()}
            before = dict(records)
            current = str(pipe.get(k.agenda_current) or "")
            try:
                new_current, words = change(items, current)
            except Refused:
                pipe.multi()
                pipe.execute()  # confirm the reads: a refusal from a stale read is retried
                raise
            pipe.multi()
            for item_id in set(before) - set(items):
                pipe.hdel(k.agenda, item_id)
            for item in items.values():
                record = json.dumps(item.to_dict(), ensure_ascii=False)
                if before.get(item.id) != record:
                    pipe.hset(k.agenda, item.id, record)
            if new_current:
                pipe.set(k.agenda_current, new_current)
            else:
                pipe.delete(k.agenda_current)
            state = _state([json.dumps(i.to_dict(), ensure_ascii=False)
                            for i in items.values()], new_current)
            pipe.xadd(k.log, {"type": AGENDA, "qid": "", "actor": actor, "at": utc_now(),
                              "qs": "[]", "change": words,
                              "agenda": json.dumps(state, ensure_ascii=False)})
            return str(pipe.execute()[-1])

        return str(self.conn.transaction(attempt, k.agenda, k.agenda_current,
                                         value_from_callable=True))


def _state(records: Iterable[str], current: str | None) -> dict[str, Any]:
    items = sorted((AgendaItem(**json.loads(r)) for r in records),
                   key=lambda i: (i.position, i.id))
    return {"items": [i.to_dict() for i in items], "current": current or ""}
