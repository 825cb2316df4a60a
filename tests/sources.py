"""Helpers for the source tests (tests/test_source_*.py): running a poll cycle at a fixed time,
and reading back what it left in Redis in the shapes those tests compare; and a source
that plays a script, for the poller's own tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.question import Post, Question
from aggregator.core.store import Store
from aggregator.ingest.health import Health
from aggregator.ingest.poller import Poller, PollResult
from aggregator.ingest.sources import Batch, Source

REPO = Path(__file__).resolve().parent.parent
NOW = 1778753000.0  # 2026-05-14T10:03:20Z: "now" in every source test


class Clock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(**options: Any) -> SourceSettings:
    """A ``[sources.*]`` table as the config file gives it (unknown keys kept, to be refused)."""
    return SourceSettings.model_validate(options)


def poller(source: Source, store: Store, clock: Clock | None = None) -> Poller:
    return Poller(source, store, clock=clock or Clock())


def poll(source: Source, store: Store, clock: Clock | None = None) -> PollResult:
    """One poll cycle."""
    return poller(source, store, clock).poll_once()


def params(call: Any) -> dict[str, str]:
    """The query parameters of one request that ``responses`` served."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def health(store: Store, source: str) -> dict[str, Any]:
    return Health(store.conn, store.keys.event).all()[source]


def checkpoint(store: Store, source: str) -> Any:
    """The source's stored checkpoint, parsed (None when there is none)."""
    saved = store.checkpoint(source)
    return None if saved is None else json.loads(saved)


def _stored(store: Store) -> list[Question]:
    found = [store.question(qid) for qid in store.question_ids()]
    assert all(q is not None for q in found)
    return [q for q in found if q is not None]


def questions(store: Store) -> list[dict[str, str]]:
    """The stored questions in order, each the fields a source decides (flags aside)."""
    return [{"id": q.id, "text": q.text, "author_name": q.author_name,
             "author_handle": q.author_handle, "url": q.url, "posted_at": q.posted_at}
            for q in _stored(store)]


def question_rows(store: Store) -> list[tuple[str, ...]]:
    """The stored questions in order as tuples: id, text, author name, author handle, url, time
    and flags (comma-separated)."""
    return [(q.id, q.text, q.author_name, q.author_handle, q.url, q.posted_at, ",".join(q.flags))
            for q in _stored(store)]


class ScriptedSource(Source):
    """A source that plays a list of outcomes: Batches to return or exceptions to raise."""

    name = "scripted"

    def __init__(self, outcomes: list[Any]) -> None:
        super().__init__(SourceSettings(interval=10), EventSettings())
        self.outcomes = outcomes
        self.seen: list[str | None] = []

    def fetch(self, checkpoint: str | None) -> Batch:
        self.seen.append(checkpoint)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def parse(self, item: dict[str, Any]) -> Post | None:
        if item.get("skip"):
            return None
        return Post("x", item["id"], item["text"], item.get("name", ""))
