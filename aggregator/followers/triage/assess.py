"""Every triage check on a batch of posts: what the worker writes for each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from threadpoolctl import threadpool_limits

from aggregator.base import personal
from aggregator.followers.triage import questions
from aggregator.followers.triage.abuse import AbuseCheck
from aggregator.followers.triage.duplicates import DuplicateIndex

# How much of a wall of text is scored: enough for any real question, bounded work per post.
SCORE_CHARS = 5_000


@dataclass
class Post:
    qid: str
    text: str
    platform: str = ""


@dataclass
class Finding:
    """What triage found in one post, as stored in its projection's ``triage`` field."""

    score: float
    reason: str
    abuse: str = ""
    personal: list[dict[str, Any]] = field(default_factory=list)
    suggest: dict[str, Any] | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"score": self.score, "reason": self.reason}
        if self.abuse:
            data["abuse"] = self.abuse
        if self.personal:
            data["personal"] = self.personal
            data["masked"] = sorted({personal.KINDS[p["kind"]] for p in self.personal})
        if self.suggest:
            data["suggest"] = self.suggest
        if self.error:
            data["error"] = self.error
        return data

    def flags(self) -> set[str]:
        out = set()
        if self.abuse:
            out.add("abuse")
        if self.personal:
            out.add("personal_data")
        if self.suggest:
            out.add("repeat")
        if self.score >= questions.THRESHOLD:
            out.add("question")
        return out


class Assessor:
    def __init__(self, abuse: AbuseCheck, index: DuplicateIndex,
                 question_threshold: float = questions.THRESHOLD) -> None:
        self.abuse = abuse
        self.index = index
        self.question_threshold = question_threshold

    def assess(self, posts: Sequence[Post]) -> list[Finding]:
        """One finding per post, in order; each question enters the duplicate index after it is
        compared, so a later post in the same batch can repeat an earlier one."""
        # One BLAS thread: its products here are small, and on a busy machine a thread per core
        # spinning for them made the semantic backend's alignment 10x slower (45 ms -> 4 ms).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._assess(posts)

    def _assess(self, posts: Sequence[Post]) -> list[Finding]:
        verdicts = self.abuse.check_many([p.text[:SCORE_CHARS] for p in posts])
        scores = [questions.score(p.text[:SCORE_CHARS]) for p in posts]
        self.index.prepare([p.text[:SCORE_CHARS] for p, s in zip(posts, scores, strict=True)
                            if s.score >= self.question_threshold])
        out = []
        for post, verdict, scored in zip(posts, verdicts, scores, strict=True):
            finding = Finding(round(scored.score, 3), scored.reason,
                              abuse=verdict.reason if verdict.abusive else "")
            finding.personal = [{"start": s.start, "end": s.end, "kind": s.kind}
                                for s in personal.find(post.text)]
            if scored.score >= self.question_threshold:
                best = self.index.suggest(post.text[:SCORE_CHARS], exclude=post.qid)
                if best is not None:
                    finding.suggest = {"qid": best.qid, "score": best.score}
                # A repeat is indexed as an alias: a later repeat is pointed at the original.
                self.index.add(post.qid, post.text[:SCORE_CHARS], best.qid if best else "")
            out.append(finding)
        return out
