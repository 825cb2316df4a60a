"""Questions for tests: texts ingested as a platform's poller would store them, and acted on as
a moderator would."""

from __future__ import annotations

import time
from typing import Any

from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store


def ingest(store: Store, *texts: str, platform: str = "x", author: str = "Ann Hughes",
           handle: str = "ann") -> list[str]:
    """Each text a new post by the same author (ids unique in the run): their question ids."""
    posts = [Post(platform, f"{time.monotonic_ns()}{i}", text, author, handle)
             for i, text in enumerate(texts)]
    return store.ingest(platform, [(normalise(p), {"id": p.native_id}) for p in posts])


def ingest_tweets(store: Store, *texts: str, start: int = 7000) -> list[str]:
    """Each text a post on X by an author of its own ("Author 0", ...), with its link, native
    ids counting from ``start``: their question ids."""
    posts = [Post("x", str(start + i), text, f"Author {i}", f"author{i}",
                  url=f"https://x.com/author{i}/status/{start + i}")
             for i, text in enumerate(texts)]
    return store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])


def act(moderation: Moderation, store: Store, action: str, qid: str, **params: Any) -> str:
    """Apply ``action`` as moderator "sam" with the version of the question stored now."""
    question = store.question(qid)
    assert question is not None
    return moderation.apply(action, qid, question.version, "sam", **params)
