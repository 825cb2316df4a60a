"""Each source's checkpoint is one pydantic model: what it stores reads back the same, and a
stored checkpoint it cannot read is handled the one way that source can afford."""

from __future__ import annotations

import json

import pytest

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.ingest.sources import Checkpoint, SourceStopped
from aggregator.ingest.sources.facebook import FacebookCheckpoint
from aggregator.ingest.sources.instagram import InstagramCheckpoint
from aggregator.ingest.sources.x import XCheckpoint
from aggregator.ingest.sources.youtube import YouTubeCheckpoint, YouTubeSource
from tests.sources import Clock


@pytest.mark.parametrize("model, data", [
    (FacebookCheckpoint, {"since": {"5566778899": 1778752931}}),
    (InstagramCheckpoint, {"graph": {"media": {"1789": {"ids": ["1", "2"]}}}}),
    (XCheckpoint, {"since_id": "1790000000000000003", "posts_read": 5, "users_read": 2,
                   "spend_usd": 0.025}),
    (YouTubeCheckpoint, {"video_id": "abcdefghijk", "chat_id": "Kic", "page_token": "GOj",
                         "quota_day": "2026-05-14", "quota_used": 6}),
])
def test_a_checkpoint_reads_back_what_it_stored(model: type[Checkpoint], data: dict) -> None:
    stored = model.parse(json.dumps(data)).dump()
    assert json.loads(stored) == data


@pytest.mark.parametrize("model, text", [
    (FacebookCheckpoint, '{"since": {"5566778899": "yesterday"}}'),
    (FacebookCheckpoint, "[1, 2]"),
    (InstagramCheckpoint, '{"graph": 7}'),
    (YouTubeCheckpoint, '{"quota_used": "lots", "quota_day": "2026-05-14"}'),
    (YouTubeCheckpoint, "not json"),
])
def test_an_unreadable_checkpoint_starts_afresh_where_ids_make_that_harmless(
        model: type[Checkpoint], text: str, caplog: pytest.LogCaptureFixture) -> None:
    assert model.read(text, "test") == model()
    assert "unreadable checkpoint" in caplog.text


@pytest.mark.parametrize("text", ['{"since_id": "12a"}', '{"spend_usd": "free"}', "{not json",
                                  '{"posts_read": -3}'])
def test_an_unreadable_x_checkpoint_stops_rather_than_forget_the_spend(text: str) -> None:
    with pytest.raises(SourceStopped, match="the stored X checkpoint cannot be read"):
        XCheckpoint.load(text)
    assert XCheckpoint.load("1790000000000000003").since_id == "1790000000000000003"


def test_a_youtube_checkpoint_of_the_wrong_type_does_not_stop_the_source() -> None:
    """The hand-written reader did int(state["quota_used"]) unguarded: a ValueError on every
    poll, for the rest of the meeting."""
    source = YouTubeSource(SourceSettings.model_validate({"video_id": "abcdefghijk"}),
                           EventSettings(),
                           clock=Clock())
    state = source._load('{"quota_used": "lots", "quota_day": "2026-05-14"}')
    assert state == YouTubeCheckpoint()
