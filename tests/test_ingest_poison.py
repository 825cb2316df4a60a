"""Poison posts: text that UTF-8 cannot carry, payloads JSON cannot hold, items that break the
source's own helpers. Each hurts its own item at most, never its batch or its source."""

from __future__ import annotations

import json
from typing import Any

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.question import Post
from aggregator.core.store import DeadLetter, Store
from aggregator.followers.export import export_lines
from aggregator.ingest.health import Health
from aggregator.ingest.poller import Poller
from aggregator.ingest.sources import Batch, Source

HALF_EMOJI = "\ud83d"  # the first half of U+1F600, alone: what a platform cut mid-emoji sends


class PoisonSource(Source):
    """Plays Batches of raw dicts: ``{"id", "text", "name", "url", "raw"}``."""

    name = "poison"

    def __init__(self, batches: list[Batch], describe_fails: bool = False) -> None:
        super().__init__(SourceSettings(interval=10), EventSettings())
        self.batches = batches
        self.describe_fails = describe_fails

    def fetch(self, checkpoint: str | None) -> Batch:
        return self.batches.pop(0)

    def parse(self, item: dict[str, Any]) -> Post | None:
        if "explode" in item:
            raise item["explode"]
        return Post("yt", item["id"], item["text"], item.get("name", ""),
                    url=item.get("url", ""), raw=item.get("raw"))

    def describe(self, item: Any) -> str:
        if self.describe_fails:
            raise KeyError("describe broke")
        return f"message {item.get('id')!r}" if isinstance(item, dict) else ""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no words for this")


def test_a_lone_surrogate_is_repaired_and_flagged_and_the_batch_lands(store: Store) -> None:
    batch = Batch([
        {"id": "a", "text": "Before: is the budget published?"},
        {"id": "b", "text": f"Half an emoji {HALF_EMOJI} here?", "name": f"Ann {HALF_EMOJI}",
         "url": f"https://www.youtube.com/watch?v=x{HALF_EMOJI}"},
        {"id": "c", "text": "After: when is the next meeting?",
         "raw": {"note": f"the payload too {HALF_EMOJI}"}},
        # A pair split into two code points is joined, not replaced.
        {"id": "d", "text": "Split pair \ud83d\ude00 ok?"},
    ], checkpoint="page-2")
    result = Poller(PoisonSource([batch]), store).poll_once()

    assert (result.stored, result.dead, result.error) == (4, 0, "")
    assert store.question_ids() == ["yt:a", "yt:b", "yt:c", "yt:d"]
    assert store.checkpoint("poison") == "page-2"
    repaired = store.question("yt:b")
    assert repaired is not None
    assert repaired.text == "Half an emoji \ufffd here?"
    assert repaired.original == "Half an emoji \ufffd here?"
    assert repaired.author_name == "Ann \ufffd"
    assert "repaired" in repaired.flags
    assert store.raw("yt:c") == {"note": "the payload too \ufffd"}
    joined = store.question("yt:d")
    assert joined is not None and joined.text == "Split pair \U0001f600 ok?"
    assert "repaired" in joined.flags
    clean = store.question("yt:a")
    assert clean is not None and "repaired" not in clean.flags
    assert len(list(export_lines(store))) == 4  # the record can be written out too


def test_an_item_that_cannot_be_read_is_a_dead_letter_even_with_surrogates_in_it(
        store: Store) -> None:
    batch = Batch([
        {"id": f"bad{HALF_EMOJI}", "text": f"id cut {HALF_EMOJI}"},  # an id is never repaired
        {"id": "ok", "text": "Still stored?"},
        {"explode": Unprintable(), "text": HALF_EMOJI},
        {"id": "ctl\x07", "text": "A bell in the id"},
    ], checkpoint="c1")
    result = Poller(PoisonSource([batch]), store).poll_once()

    assert (result.stored, result.dead) == (1, 3)
    assert store.question_ids() == ["yt:ok"]
    assert store.checkpoint("poison") == "c1"
    letters = store.dead_letters()
    reasons = sorted(letter["reason"] for letter in letters)
    assert any("field 'id': not a usable id" in r and "\\x07" in r for r in reasons)
    assert any(r.endswith("Unprintable") for r in reasons)
    raws = [json.loads(letter["raw"]) for letter in letters]
    assert {"id": "bad\ufffd", "text": "id cut \ufffd"} in raws
    assert Health(store.conn, store.keys.event).all()["poison"]["state"] == "ok"


def test_a_source_whose_describe_breaks_still_dead_letters_the_item(store: Store) -> None:
    batch = Batch([{"id": "1", "text": 42}, {"id": "2", "text": "Fine?"}], checkpoint="c")
    result = Poller(PoisonSource([batch], describe_fails=True), store).poll_once()
    assert (result.stored, result.dead) == (1, 1)
    (letter,) = store.dead_letters()
    assert letter["reason"].startswith("an item that cannot be described (KeyError")
    assert store.checkpoint("poison") == "c"


def test_a_dead_letter_is_written_whatever_its_payload_holds(store: Store) -> None:
    looped: dict[str, Any] = {"text": HALF_EMOJI}
    looped["self"] = looped
    letters = [
        DeadLetter("yt", f"reason {HALF_EMOJI}", {"text": f"raw {HALF_EMOJI}", HALF_EMOJI: 1}),
        DeadLetter("yt", "a loop", looped),
        DeadLetter("yt", "odd keys", {(1, 2): "tuple key", 3: object()}),
    ]
    store.ingest("yt", [], letters, checkpoint="7")
    assert store.checkpoint("yt") == "7"
    records = store.dead_letters()
    assert len(records) == 3
    first = next(r for r in records if r["reason"].startswith("reason"))
    assert first["reason"] == "reason \ufffd"
    assert json.loads(first["raw"]) == {"text": "raw \ufffd", "\ufffd": 1}


def test_surrogates_in_a_checkpoint_or_the_health_detail_fail_nothing(store: Store) -> None:
    batch = Batch([{"id": "1", "text": "Fine?"}], checkpoint=f"token{HALF_EMOJI}",
                  health={"detail": f"the stream went offline at {HALF_EMOJI}"})
    result = Poller(PoisonSource([batch]), store).poll_once()
    assert (result.stored, result.error) == (1, "")
    assert store.checkpoint("poison") == "token\ufffd"
    record = Health(store.conn, store.keys.event).all()["poison"]
    assert record["state"] == "ok" and record["detail"].endswith("\ufffd")
