"""The triage worker: reads the event's log through a Redis consumer group, assesses each new
post, and writes its findings as ``triaged`` log entries.

Each batch's findings, the projections they update and the XACK of the batch's entries are one
MULTI/EXEC, taken under WATCH of those questions (so a moderator's action at the same instant is
never undone: the write is retried on the new projection). A worker killed before EXEC has
written nothing and acknowledged nothing: on restart it reads its pending entries again first.
One killed after EXEC has written and acknowledged them together. Either way no finding is lost
or written twice.

The duplicate index lives in memory: on start it is rebuilt from the stored projections (the
open questions already triaged), then kept current from every log entry the group delivers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from aggregator.base import personal
from aggregator.base.keys import Keys
from aggregator.base.settings import TriageSettings
from aggregator.core.question import TRIAGE_ACTOR, Question, utc_now
from aggregator.core.store import LogEntry
from aggregator.followers.triage.abuse import AbuseCheck
from aggregator.followers.triage.assess import Assessor, Finding, Post
from aggregator.followers.triage.duplicates import DuplicateIndex

log = logging.getLogger("floor.triage")

GROUP = "triage"
# A worker's name in the group: a restarted one takes over its own pending entries. A second
# worker process on the same event needs another name (``TriageWorker(consumer=...)``): the two
# share the posts, but each indexes only the questions of the entries delivered to it (its own
# and about half of the other's ``triaged`` entries), so a repeat of a question the other
# worker triaged can be missed (bench/triage.py --keep-up measures the speed of both).
CONSUMER = "worker"
ACTOR = TRIAGE_ACTOR
BATCH = 200
NICENESS = 10  # `floor triage` runs at this nice level: ingest and the web app go first
# States whose questions a new post may be suggested to join: the open ones (an answered,
# rejected or grouped question leaves the duplicate index).
OPEN_STATES = frozenset({"new", "approved", "on_screen", "held"})
# Log entries that may change a question's text: its words are indexed again.
TEXT_CHANGES = frozenset({"edit", "undo"})


@dataclass
class Progress:
    entries: int = 0
    triaged: int = 0


def duplicate_index(settings: TriageSettings) -> DuplicateIndex:
    """The settings' backend; the semantic one loads its model here, once per worker (and
    raises ``semantic.BackendMissing`` when its extra is not installed)."""
    if settings.backend == "semantic":
        from aggregator.followers.triage.semantic import SemanticIndex

        return SemanticIndex(settings.duplicate_threshold or None)
    return DuplicateIndex(settings.duplicate_threshold or None)


class TriageWorker:
    """The triage follower of the log (``aggregator/followers/loop.py`` runs it)."""

    name = "triage"

    def __init__(self, conn: redis.Redis, event: str, settings: TriageSettings | None = None,
                 *, use_model: bool = True, consumer: str = CONSUMER) -> None:
        self.conn = conn
        self.consumer = consumer
        self.keys = Keys(event)
        self.settings = settings or TriageSettings()
        self.index = duplicate_index(self.settings)
        self.assessor = Assessor(AbuseCheck(self.settings.abuse_words, use_model=use_model),
                                 self.index, self.settings.question_threshold)
        self.progress = Progress()
        self.ready = False

    # -- start -------------------------------------------------------------------------------

    def setup(self, beat: Callable[[], None] = lambda: None) -> None:
        """Create the consumer group (from the log's start: posts stored before the worker
        first ran are triaged too) and rebuild the duplicate index from the projections,
        calling ``beat`` as it goes (the semantic backend's index takes a while to fill).
        Once done, done: a bench sets up before its clock starts, then follows."""
        if self.ready:
            return
        try:
            self.conn.xgroup_create(self.keys.log, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        qids = list(self.conn.zrange(self.keys.questions, 0, -1))
        repeats = []
        for start in range(0, len(qids), 1000):
            pipe = self.conn.pipeline(transaction=False)
            for qid in qids[start:start + 1000]:
                pipe.hget(self.keys.question(qid), "data")
            for data in pipe.execute():
                if data is not None:
                    q = json.loads(data)
                    if (q.get("triage") or {}).get("suggest"):
                        repeats.append(q)  # after the questions they repeat
                    else:
                        self._follow(q)
                beat()
        for q in repeats:
            self._follow(q)
            beat()
        self.ready = True

    def _follow(self, q: dict[str, Any], text_changed: bool = False) -> None:
        """Keep the duplicate index to the open questions triage found to be questions: a
        question that leaves the open states leaves the index (its repeats with it), one whose
        text a moderator edited (``text_changed``) is indexed again with its new words, one
        whose suggestion was dismissed is indexed as a question of its own."""
        found = q.get("triage") or {}
        qid = str(q.get("id", ""))
        is_open = q.get("state") in OPEN_STATES
        if not found:
            if not is_open:
                self.index.remove(qid)
            return  # not triaged yet: its received entry adds it
        if not is_open or float(found.get("score", 0)) < self.settings.question_threshold:
            self.index.remove(qid)
            return
        root = str((found.get("suggest") or {}).get("qid", ""))
        now = self.index.indexed(qid)
        if now is not None and not text_changed and now[1] == (root or qid):
            return
        self.index.remove(qid)
        self.index.add(qid, str(q.get("text", "")), root)

    # -- the loop ----------------------------------------------------------------------------

    def step(self, block_ms: int = 0) -> int:
        """Handle this worker's pending entries if any (a crash left them), else wait up to
        ``block_ms`` for new ones. Returns how many entries were handled."""
        pending = self.conn.xreadgroup(GROUP, self.consumer, {self.keys.log: "0"}, count=BATCH)
        batch = pending[0][1] if pending else []
        if not batch:
            fresh = self.conn.xreadgroup(GROUP, self.consumer, {self.keys.log: ">"}, count=BATCH,
                                         block=block_ms or None)
            batch = fresh[0][1] if fresh else []
        if not batch:
            return 0
        entries = [LogEntry.from_stream(i, f) for i, f in batch]
        self.handle(entries)
        return len(entries)

    def drain(self) -> int:
        """Handle everything delivered and new until the log is read (for tests and benches)."""
        total = 0
        while True:
            handled = self.step(0)
            if not handled:
                return total
            total += handled

    def handle(self, entries: list[LogEntry]) -> None:
        posts: list[Post] = []
        for entry in entries:
            if entry.type == "received":
                for q in entry.qs[:1]:
                    posts.append(Post(str(q.get("id", entry.qid)), str(q.get("text", "")),
                                      str(q.get("platform", ""))))
            else:
                for q in entry.qs:
                    if isinstance(q, dict):
                        self._follow(dict(q), entry.type in TEXT_CHANGES)
        findings: dict[str, Finding] = {}
        for post, finding in zip(posts, self._assess(posts), strict=True):
            findings[post.qid] = finding
        self.write([e.id for e in entries], findings)
        self.progress.entries += len(entries)
        self.progress.triaged += len(findings)

    def _assess(self, posts: list[Post]) -> list[Finding]:
        try:
            return self.assessor.assess(posts)
        except Exception:  # noqa: BLE001 - one bad post must not stall the queue: one by one
            log.exception("triage: a batch failed; assessing its posts one by one")
        out = []
        for post in posts:
            try:
                out.extend(self.assessor.assess([post]))
            except Exception as exc:  # noqa: BLE001 - recorded on the card, the queue moves on
                log.exception("triage: cannot assess %s", post.qid)
                out.append(Finding(0.5, "not assessed", error=type(exc).__name__))
        return out

    # -- the atomic write --------------------------------------------------------------------

    def write(self, entry_ids: list[str], findings: dict[str, Finding]) -> None:
        """Write the findings into their questions' projections, each with a ``triaged`` log
        entry, and acknowledge ``entry_ids``, in one MULTI/EXEC. A question already triaged is
        left as it is."""
        k = self.keys
        qids = sorted(findings)

        def write(pipe: redis.client.Pipeline) -> None:
            # The keys are watched already, so one pipelined read on any connection is as safe
            # as reading them one by one through the watching one (and 200x fewer round trips).
            reads = self.conn.pipeline(transaction=False)
            for qid in qids:
                reads.hget(k.question(qid), "data")
            datas = reads.execute()
            now = utc_now()
            pipe.multi()
            for qid, data in zip(qids, datas, strict=True):
                if data is None:
                    continue
                q = Question.from_dict(json.loads(data))
                if q.triage:
                    continue  # already triaged: never written twice
                self._apply(q, findings[qid], now)
                record = json.dumps(q.to_dict(), ensure_ascii=False)
                pipe.hset(k.question(qid), "data", record)
                suggested = (q.triage.get("suggest") or {}).get("qid")
                if suggested:
                    pipe.sadd(k.repeats(str(suggested)), qid)
                pipe.xadd(k.log, {"type": "triaged", "qid": qid, "actor": ACTOR, "at": now,
                                  "qs": f"[{record}]"})
            if entry_ids:
                pipe.xack(k.log, GROUP, *entry_ids)
            pipe.execute()

        if qids:
            self.conn.transaction(write, *[k.question(qid) for qid in qids])
        elif entry_ids:
            self.conn.xack(k.log, GROUP, *entry_ids)

    def _apply(self, q: Question, finding: Finding, now: str) -> None:
        q.triage = finding.to_dict()
        if self.settings.mask_personal:
            q.text = personal.mask(q.text)
        # Triage's score replaces the poller's guess ("?" anywhere) behind "looks like a question".
        q.flags = sorted({*(set(q.flags) - {"question"}), *finding.flags()})
        q.version += 1
        q.last_actor, q.last_action, q.updated_at = ACTOR, "triaged", now

    def lag(self) -> int:
        """Entries in the log not yet handled (pending or not yet delivered)."""
        for group in self.conn.xinfo_groups(self.keys.log):
            if group["name"] == GROUP:
                return int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return 0
