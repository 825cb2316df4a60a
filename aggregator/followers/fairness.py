"""Fairness, live: whether one platform or one voice is taking the meeting.

For the moderators, during the meeting: per platform, how many questions were received,
answered, are still waiting (new, approved or held) and were rejected, and the oldest one
waiting; and the repeat askers (one author, several questions), most questions first.

``Fairness`` is fed every question's newest state (from a snapshot, then from each log entry's
``qs``) and keeps its counts up to date as it goes, so a summary costs the platforms and the few
repeat askers shown, not the questions: the console can hold only a page of the questions, and
this is computed once per web process for all its consoles. Pure: no Redis, no Flask.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

# A question that can still be answered: not reviewed yet, in the queue, or set aside.
WAITING = frozenset({"new", "approved", "held"})
# The repeat askers a summary lists (the total count is given too).
REPEAT_SHOWN = 5
# Characters of the oldest waiting question's text sent along, so it can be found.
TEXT_SHOWN = 100


class _Question(NamedTuple):  # a tuple: made 50,000 times, compared on every change
    platform: str
    state: str
    author: tuple[str, str] | None  # (platform, handle or name); None when anonymous
    received_at: str
    text: str


def author_of(question: Mapping[str, Any]) -> tuple[str, str] | None:
    """Who asked, as far as the platform says: the handle, else the name, per platform (the
    same handle on two platforms may be two people). None for an anonymous question."""
    platform = str(question.get("platform", ""))
    for name in ("author_handle", "author_name"):
        value = str(question.get(name) or "").strip()
        if value:
            return platform, value.casefold() if name == "author_handle" else value
    return None


class Fairness:
    """Every question's platform, state and author, with the counts kept current."""

    def __init__(self) -> None:
        self.questions: dict[str, _Question] = {}
        self.versions: dict[str, int] = {}
        self.states: dict[str, Counter[str]] = defaultdict(Counter)  # platform -> state -> n
        self.asked: dict[tuple[str, str], set[str]] = defaultdict(set)  # author -> qids
        self.repeat: set[tuple[str, str]] = set()  # authors with two questions or more
        # platform -> heap of (received_at, qid) of waiting questions; an entry whose question
        # has left WAITING since is dropped when it reaches the top (lazy deletion).
        self.oldest: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.changes = 0  # bumped on every change, so a pusher can tell nothing moved

    def take(self, question: Mapping[str, Any]) -> bool:
        """Record a question's newest state (an older version than the one held is ignored).
        Returns whether anything changed."""
        qid = question.get("id")
        if not isinstance(qid, str):
            return False
        version = int(question.get("version") or 0)
        if version < self.versions.get(qid, -1):
            return False
        self.versions[qid] = version
        new = _Question(str(question.get("platform", "")), str(question.get("state", "")),
                        author_of(question), str(question.get("received_at") or ""),
                        str(question.get("text") or "")[:TEXT_SHOWN])
        old = self.questions.get(qid)
        if old == new:
            return False
        if old is not None:
            self.states[old.platform][old.state] -= 1
            if old.author is not None and old.author != new.author:
                self._unask(old.author, qid)
        self.questions[qid] = new
        self.states[new.platform][new.state] += 1
        if new.author is not None:
            self.asked[new.author].add(qid)
            if len(self.asked[new.author]) > 1:
                self.repeat.add(new.author)
        if new.state in WAITING and (old is None or old.state not in WAITING
                                     or old.received_at != new.received_at):
            heapq.heappush(self.oldest[new.platform], (new.received_at, qid))
        self.changes += 1
        return True

    def take_all(self, questions: Iterable[Mapping[str, Any]]) -> None:
        for question in questions:
            self.take(question)

    def _unask(self, author: tuple[str, str], qid: str) -> None:
        asked = self.asked[author]
        asked.discard(qid)
        if len(asked) < 2:
            self.repeat.discard(author)
        if not asked:
            del self.asked[author]

    def _oldest_waiting(self, platform: str) -> dict[str, str] | None:
        heap = self.oldest.get(platform, [])
        while heap:
            received_at, qid = heap[0]
            question = self.questions.get(qid)
            if (question is not None and question.state in WAITING
                    and question.received_at == received_at and question.platform == platform):
                return {"qid": qid, "received_at": received_at, "state": question.state,
                        "text": question.text}
            heapq.heappop(heap)
        return None

    def summary(self) -> dict[str, Any]:
        """What the console's panel shows, as JSON-ready data (ages are the browser's to
        compute, so the summary changes only when the questions do)."""
        platforms = []
        for platform in sorted(p for p, counts in self.states.items() if +counts):
            counts = self.states[platform]
            platforms.append({
                "platform": platform, "received": sum(counts.values()),
                "answered": counts["answered"], "on_screen": counts["on_screen"],
                "waiting": sum(counts[s] for s in WAITING), "rejected": counts["rejected"],
                "grouped": counts["grouped"], "oldest_waiting": self._oldest_waiting(platform)})
        top = heapq.nsmallest(REPEAT_SHOWN, self.repeat,
                              key=lambda a: (-len(self.asked[a]), a))
        repeat = []
        for author in top:
            states = Counter(self.questions[qid].state for qid in self.asked[author])
            repeat.append({"platform": author[0], "author": author[1],
                           "questions": sum(states.values()), "answered": states["answered"],
                           "waiting": sum(states[s] for s in WAITING)})
        return {"total": len(self.questions), "platforms": platforms,
                "repeat_askers": repeat, "repeat_count": len(self.repeat)}
