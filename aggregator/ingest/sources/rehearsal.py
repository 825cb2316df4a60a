"""Rehearsal feed: replays a JSON-lines file of invented posts on the meeting's clock.

Each line is one post: ``{"at": 12.5, "platform": "x", "id": "1890…", "author": "Ann Hughes",
"handle": "ann_h", "text": "…"}`` (``url`` and ``posted_at`` optional). ``at`` is seconds from
the start of the meeting; ``speed`` 10 plays a 90-minute meeting in 9 minutes, 0 as fast as it
can. The checkpoint is the number of lines consumed, so a restarted feed goes on where it was.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

from aggregator.base.platforms import REHEARSAL
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import RehearsalSettings, SourceSettings
from aggregator.core.normalise import InvalidPost
from aggregator.core.question import Post, utc_now
from aggregator.ingest.sources import Batch, Source

BUNDLED = Path(__file__).with_name("rehearsal.jsonl")
# Lines released per poll at most; at speed 0 the whole file goes in batches of this size.
BATCH = 200


class RehearsalSource(Source):
    platform = REHEARSAL
    invented = True

    def __init__(self, settings: SourceSettings, event: EventSettings, *, clock: Any = time.time):
        super().__init__(settings, event)
        self.options = cast(RehearsalSettings, self.settings)
        self.path = Path(self.options.file) if self.options.file else BUNDLED
        self.label = self.path.name
        self.lines = self.path.read_bytes().splitlines()
        self.clock = clock
        self.origin: float | None = None

    def line_at(self, index: int) -> float:
        """The meeting time of line ``index`` (0-based); an unreadable line plays at once."""
        if not 0 <= index < len(self.lines):
            return 0.0
        try:
            data = json.loads(self.lines[index])
        except ValueError:  # not JSON, or not UTF-8
            return 0.0
        at = data.get("at") if isinstance(data, dict) else None
        return float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0

    def fetch(self, checkpoint: str | None) -> Batch:
        start = int(checkpoint or 0)
        speed = self.options.speed
        if self.origin is None:
            resume_at = self.line_at(start) if start < len(self.lines) else 0.0
            self.origin = self.clock() - (resume_at / speed if speed else 0.0)
        now = (self.clock() - self.origin) * speed if speed else float("inf")
        end = start
        while end < len(self.lines) and end - start < BATCH and self.line_at(end) <= now:
            end += 1
        items = [self.item(i) for i in range(start, end) if self.lines[i].strip()]
        left = len(self.lines) - end
        return Batch(items, str(end), health={"detail": f"{self.label}: {left} posts to come"})

    def item(self, index: int) -> dict[str, Any]:
        raw = self.lines[index]
        item: dict[str, Any] = {"file": self.label, "line": index + 1}
        try:
            item["text"] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            item["text"] = raw.decode("utf-8", "backslashreplace")
            item["error"] = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
        return item

    def describe(self, item: dict[str, Any]) -> str:
        return f"{item['file']} line {item['line']}"

    def parse(self, item: dict[str, Any]) -> Post:
        if "error" in item:
            raise InvalidPost(item["error"])
        try:
            data = json.loads(item["text"])
        except ValueError as exc:
            raise InvalidPost(f"not a JSON object: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidPost("not a JSON object")
        for name in ("platform", "id", "text"):
            if name not in data:
                raise InvalidPost(f"field '{name}' is missing")
        if isinstance(data["id"], int) and not isinstance(data["id"], bool):
            data["id"] = str(data["id"])
        fields = {"platform": "platform", "id": "native_id", "text": "text",
                  "author": "author_name", "handle": "author_handle", "url": "url",
                  "posted_at": "posted_at"}
        for name in fields:
            if not isinstance(data.get(name, ""), str):
                raise InvalidPost(f"field '{name}': expected text, "
                                  f"got {type(data[name]).__name__}")
        post = Post(**{ours: data.get(theirs, "") for theirs, ours in fields.items()},
                    raw=data, flags=["rehearsal"])
        post.posted_at = post.posted_at or utc_now()
        return post
