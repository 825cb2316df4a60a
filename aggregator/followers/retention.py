"""Retention: personal data deleted from Redis once ``purge_after_days`` have passed.

A purge deletes askers' names, handles and links, the platforms' raw payloads, dead letters'
payloads, and the text of withheld questions (those the record shows as a fact only), from the
projections, their undo stacks and every log entry; masks the personal data that triage's rules
find (``aggregator/base/personal.py``: phone, NHS numbers, emails...) in every text it
keeps (questions, their originals and undo stacks, the text before an edit, notes to the chair, dead
letters' reasons); and deletes the salts of those values' commitments, so not even a guess can
be confirmed against the ledger. It never touches a ledger link, so the chain still verifies.
The ledger is caught up first, so every entry is chained before its values go. The log is
rewritten entry by entry into a new stream under the same ids, and swapped in by one script
that also copies whatever arrived meanwhile. Last, the embedded Redis rewrites its files (the
append-only file keeps every write ever made) and the purge waits until they are on disk.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis

from aggregator.base import personal
from aggregator.base.keys import Keys
from aggregator.base.redis_server import RewriteFailed, embedded_data_dir, rewrite_persistence
from aggregator.base.settings import Settings
from aggregator.core.notes import note_of
from aggregator.core.question import utc_now
from aggregator.followers.ledger import PERSONAL, PERSONAL_ENTRY, Ledger, salt_field
from aggregator.followers.record.build import publishes_text

log = logging.getLogger("floor.retention")

# Always deleted: who asked and where to find them.
IDENTITY = ("author_name", "author_handle", "url")
# Deleted too when the question is withheld: its words.
WORDS = tuple(name for name in PERSONAL if name not in IDENTITY)
CHUNK = 1_000
# How often the automatic purge looks at the calendar while Floor runs.
CHECK_EVERY = 24 * 3600.0

# Copies the log entries written since the rewrite began, then puts the rewritten log in place.
# A RENAME would drop the log's consumer groups (the triage worker's): each is made again on the
# new log, from just before its oldest entry delivered but not acknowledged, so what was pending
# is delivered again (the worker passes over what it has already assessed) and nothing is missed.
_SWAP = """
local log, fresh, after = KEYS[1], KEYS[2], ARGV[1]
local rest = redis.call('XRANGE', log, '(' .. after, '+')
for _, entry in ipairs(rest) do
  redis.call('XADD', fresh, entry[1], unpack(entry[2]))
end
if redis.call('EXISTS', fresh) == 0 then
  return #rest
end
local groups = {}
if redis.call('EXISTS', log) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', log)) do
    local group = {}
    for i = 1, #info, 2 do group[info[i]] = info[i + 1] end
    local from = group['last-delivered-id']
    if tonumber(group['pending']) > 0 then
      local oldest = redis.call('XPENDING', log, group['name'], '-', '+', 1)[1][1]
      local ms, seq = string.match(oldest, '^(%d+)-(%d+)$')
      if seq ~= '0' then
        from = ms .. '-' .. string.format('%.0f', tonumber(seq) - 1)
      elseif ms ~= '0' then
        from = string.format('%.0f', tonumber(ms) - 1) .. '-18446744073709551615'
      else
        from = '0'
      end
    end
    groups[#groups + 1] = {group['name'], from}
  end
end
redis.call('RENAME', fresh, log)
for _, group in ipairs(groups) do
  redis.call('XGROUP', 'CREATE', log, group[1], group[2])
end
return #rest
"""


@dataclass
class PurgeReport:
    counts: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        if not +self.counts:
            return ["nothing: no personal data is left"]
        return [f"{n} {what}" for what, n in sorted(self.counts.items()) if n]


class Retention:
    def __init__(self, conn: redis.Redis, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.keys = Keys(settings.event.slug)
        self._swap = conn.register_script(_SWAP)

    def meeting_day(self) -> date | None:
        """The configured day, else the day of the log's last entry that is not a purge."""
        if self.settings.retention.meeting_date:
            return date.fromisoformat(self.settings.retention.meeting_date)
        last = "+"
        while chunk := self.conn.xrevrange(self.keys.log, max=last, count=100):
            for entry_id, fields in chunk:
                if fields.get("type") != "purge":
                    ms = int(entry_id.split("-")[0])
                    return datetime.fromtimestamp(ms / 1000, UTC).date()
            last = "(" + chunk[-1][0]
        return None

    def due(self) -> date | None:
        day, days = self.meeting_day(), self.settings.retention.purge_after_days
        return None if day is None else day + timedelta(days=days)

    def is_due(self, today: date | None = None) -> bool:
        due = self.due()
        return due is not None and (today or datetime.now(UTC).date()) >= due

    # -- the purge ---------------------------------------------------------------------------

    def _withheld(self, question: dict[str, Any]) -> bool:
        return not publishes_text(self.settings.record, question.get("state", ""),
                                  question.get("reject_reason", ""))

    def _redact(self, question: dict[str, Any], withheld: bool, counts: Counter[str]) -> bool:
        changed = False
        for name in IDENTITY + (WORDS if withheld else ()):
            if question.get(name):
                question[name] = ""
                counts[{"author_name": "names", "author_handle": "handles",
                        "url": "links"}.get(name, "withheld texts")] += 1
                changed = True
        return changed

    def _mask(self, record: dict[str, Any], qid: str, names: tuple[str, ...],
              masked: set[str]) -> bool:
        """Mask the personal data in ``record``'s texts ``names``; each masked one's salt is
        noted in ``masked`` (a commitment to a text this short of being known could be guessed
        by trying every number in the masked span)."""
        changed = False
        for name in names:
            value = record.get(name)
            if isinstance(value, str) and (hidden := personal.mask(value)) != value:
                record[name] = hidden
                masked.add(salt_field(qid, name))
                changed = True
        return changed

    def purge(self, dry_run: bool = False, rewrite_files: bool = False,
              say: Callable[[str], None] | None = None) -> PurgeReport:
        """Delete the personal data (or, with ``dry_run``, count what would go). Then the
        server rewrites its files, waited for, if it is the embedded one or ``rewrite_files``
        asks (``say`` gets each step; raises RewriteFailed)."""
        report = PurgeReport()
        counts = report.counts
        if not dry_run:
            Ledger(self.conn, self.settings.event.slug).catch_up()
        masked: set[str] = set()
        withheld = self._projections(dry_run, counts, masked)
        self._dead_letters(dry_run, counts)
        self._notes(dry_run, counts)
        self._muted(dry_run, counts)
        self._log(withheld, dry_run, counts, masked)
        self._salts(withheld, masked, dry_run, counts)
        if not dry_run and +counts:
            self.conn.xadd(self.keys.log, {"type": "purge", "qid": "", "actor": "retention",
                                           "at": utc_now(), "qs": "[]",
                                           "purged": json.dumps(dict(counts), sort_keys=True)})
            self.conn.set(self.keys.purged, utc_now())
            log.info("retention: purged %s", dict(counts))
        if not dry_run and (rewrite_files or embedded_data_dir(self.conn)):
            rewrite_persistence(self.conn, say or (lambda step: log.info("retention: %s", step)))
        return report

    def _projections(self, dry_run: bool, counts: Counter[str], masked: set[str]) -> set[str]:
        withheld: set[str] = set()
        qids = list(self.conn.zrange(self.keys.questions, 0, -1))
        for start in range(0, len(qids), CHUNK):
            for qid in qids[start:start + CHUNK]:
                key = self.keys.question(qid)

                def redact(pipe: redis.client.Pipeline, qid: str = qid, key: str = key) -> None:
                    data, undo, raw = pipe.hmget(key, "data", "undo", "raw")
                    if data is None:
                        return
                    question = json.loads(data)
                    hidden = self._withheld(question)
                    if hidden:
                        withheld.add(qid)
                    local: Counter[str] = Counter()
                    changed = self._redact(question, hidden, local)
                    stack = json.loads(undo) if undo else []
                    if hidden:
                        for before in stack:
                            changed |= bool(before.get("text"))
                            before["text"] = ""
                    else:
                        found = self._mask(question, qid, WORDS, masked)
                        for before in stack:
                            found |= self._mask(before, qid, WORDS, masked)
                        if found:
                            local["question texts masked"] += 1
                            changed = True
                    if raw is not None:
                        local["raw payloads"] += 1
                    if dry_run or not (changed or raw is not None):
                        counts.update(local)
                        return
                    pipe.multi()
                    pipe.hset(key, mapping={"data": json.dumps(question, ensure_ascii=False),
                                            "undo": json.dumps(stack, ensure_ascii=False)})
                    pipe.hdel(key, "raw")
                    pipe.execute()
                    counts.update(local)

                self.conn.transaction(redact, key)
        return withheld

    def _salts(self, withheld: set[str], masked: set[str], dry_run: bool,
               counts: Counter[str]) -> None:
        doomed = []
        for name, _ in self.conn.hscan_iter(self.keys.salts, count=CHUNK):
            qid, _, what = str(name).rpartition(" ")
            if what in IDENTITY or name in masked or (qid in withheld and (
                    what in WORDS or what in PERSONAL_ENTRY)):
                doomed.append(name)
        counts["salts"] += len(doomed)
        if not dry_run:
            for start in range(0, len(doomed), CHUNK):
                self.conn.hdel(self.keys.salts, *doomed[start:start + CHUNK])

    def _dead_letters(self, dry_run: bool, counts: Counter[str]) -> None:
        letters = self.conn.hgetall(self.keys.dead_letters)
        kept = {}
        for letter_id, text in letters.items():
            record = json.loads(text)
            changed = False
            if record.get("raw") not in (None, ""):
                record["raw"] = ""
                counts["dead-letter payloads"] += 1
                changed = True
            if self._mask(record, "", ("reason",), set()):
                counts["dead-letter reasons masked"] += 1
                changed = True
            if changed:
                kept[letter_id] = json.dumps(record, ensure_ascii=False)
        if kept and not dry_run:
            self.conn.hset(self.keys.dead_letters, mapping=kept)

    def _notes(self, dry_run: bool, counts: Counter[str]) -> None:
        """Notes to the chair (written unmasked before notes were masked when sent)."""
        kept = {}
        for note_id, text in self.conn.hgetall(self.keys.notes).items():
            note = json.loads(text)
            if self._mask(note, "", ("text",), set()):
                kept[note_id] = json.dumps(note, ensure_ascii=False)
        counts["notes masked"] += len(kept)
        if kept and not dry_run:
            self.conn.hset(self.keys.notes, mapping=kept)

    def _muted(self, dry_run: bool, counts: Counter[str]) -> None:
        """Muted authors (platform and handle) and the lists of their posts set aside."""
        authors = list(self.conn.smembers(self.keys.muted))
        if authors:
            counts["muted authors"] += len(authors)
        if authors and not dry_run:
            self.conn.delete(self.keys.muted, *(self.keys.muted_posts(a) for a in authors))

    def _log(self, withheld: set[str], dry_run: bool, counts: Counter[str],
             masked: set[str]) -> None:
        fresh = self.keys.prefix + "log-purging"
        if not dry_run:
            self.conn.delete(fresh)
        last = "0-0"
        rewritten = 0
        while chunk := self.conn.xrange(self.keys.log, min="(" + last, count=CHUNK):
            pipe = self.conn.pipeline(transaction=False)
            for entry_id, fields in chunk:
                if self._redact_entry(fields, withheld, masked):
                    rewritten += 1
                if not dry_run:
                    pipe.xadd(fresh, fields, id=entry_id)
            if not dry_run:
                pipe.execute()
            last = chunk[-1][0]
        counts["log entries rewritten"] += rewritten
        if not dry_run and rewritten:
            self._swap(keys=[self.keys.log, fresh], args=[last])
        elif not dry_run:
            self.conn.delete(fresh)

    def _redact_entry(self, fields: dict[str, str], withheld: set[str],
                      masked: set[str]) -> bool:
        changed = False
        if "qs" in fields:
            questions = json.loads(fields["qs"])
            scratch: Counter[str] = Counter()
            for question in questions:
                qid = question.get("id", "")
                changed |= self._redact(question, qid in withheld, scratch)
                if qid not in withheld:
                    changed |= self._mask(question, qid, WORDS, masked)
            if changed:
                fields["qs"] = json.dumps(questions, ensure_ascii=False)
        qid = fields.get("qid", "")
        if qid in withheld:
            for name in PERSONAL_ENTRY:
                if fields.get(name):
                    fields[name] = ""
                    changed = True
        else:
            changed |= self._mask(fields, qid, PERSONAL_ENTRY, masked)
        note = note_of(fields) if "note" in fields else None
        if note is not None:
            if self._mask(note, "", ("text",), set()):
                fields["note"] = json.dumps(note, ensure_ascii=False)
                changed = True
        return changed


class AutoPurge:
    """The daily check while Floor runs (in the ``floor ledger`` process)."""

    def __init__(self, conn: redis.Redis, settings: Settings) -> None:
        self.retention = Retention(conn, settings)
        self.enabled = settings.retention.automatic

    def check(self) -> PurgeReport | None:
        if not self.enabled or not self.retention.is_due():
            return None
        if not +self.retention.purge(dry_run=True).counts:
            return None
        return self.retention.purge()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except (redis.RedisError, RewriteFailed) as exc:
                log.warning("retention: the daily check failed (%s); trying again tomorrow", exc)
            stop.wait(CHECK_EVERY)
