"""The rehearsal feed: the bundled meeting, its clock, and every kind of bad line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aggregator.base.platforms import PLATFORMS, WEB_FORM
from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.store import Store
from aggregator.ingest.poller import Poller
from aggregator.ingest.sources.rehearsal import BUNDLED, RehearsalSource
from cli.supervisor import EX_CONFIG


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def source(clock: Clock | None = None, **options: object) -> RehearsalSource:
    return RehearsalSource(SourceSettings(**options), EventSettings(), clock=clock or Clock())


def test_the_bundled_meeting() -> None:
    lines = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 300
    # Every platform of the catalogue, so `floor demo` shows each (the form is the web app's).
    assert {line["platform"] for line in lines} == set(PLATFORMS) - {WEB_FORM.code}
    assert max(line["at"] for line in lines) <= 90 * 60
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    assert max(len(line["text"]) for line in lines) > 10_000
    ids = [(line["platform"], line["id"]) for line in lines]
    assert len(ids) == len(set(ids))


def test_plays_on_the_meeting_clock_at_speed(store: Store) -> None:
    clock = Clock()
    feed = source(clock, speed=60)  # a minute of meeting a second
    poller = Poller(feed, store)
    poller.poll_once()
    first = len(store.question_ids())
    clock.now += 60  # an hour of meeting
    while poller.poll_once().stored:  # at most BATCH lines a poll
        pass
    lines = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()]
    due = [line for line in lines if line["at"] <= 3600]
    assert first == sum(1 for line in lines if line["at"] == 0)
    assert len(store.question_ids()) == len(due)
    assert store.checkpoint("rehearsal") == str(len(due))


def test_the_whole_bundle_stores_cleanly_at_speed_zero(store: Store) -> None:
    poller = Poller(source(speed=0), store)
    while poller.poll_once().stored:
        pass
    count = len(BUNDLED.read_text(encoding="utf-8").splitlines())
    assert len(store.question_ids()) == count
    assert store.dead_letters() == []


def test_a_restarted_feed_goes_on_where_it_was(store: Store) -> None:
    clock = Clock()
    Poller(source(clock, speed=60), store).poll_once()
    clock.now += 20
    Poller(source(clock, speed=60), store).poll_once()  # a new process: new origin
    done = int(store.checkpoint("rehearsal") or 0)
    clock.now += 1
    Poller(source(clock, speed=60), store).poll_once()
    assert int(store.checkpoint("rehearsal") or 0) >= done
    assert len(store.question_ids()) == int(store.checkpoint("rehearsal") or 0)


def test_bad_lines_become_dead_letters_naming_file_line_and_field(
        store: Store, tmp_path: Path) -> None:
    good = {"at": 0, "platform": "x", "id": "1", "author": "Ann", "text": "Fine?"}
    lines = [
        json.dumps(good).encode(),
        b'{"at": 1, "platform": "x", "id": "2", "text": "unterminated',
        json.dumps({"at": 2, "platform": "tiktok", "id": "3", "text": "Hi?"}).encode(),
        json.dumps({"at": 3, "platform": "fb", "text": "no id"}).encode(),
        json.dumps({"at": 4, "platform": "fb", "id": "5", "text": ["not", "text"]}).encode(),
        json.dumps({"at": 5, "platform": "fb", "id": "6", "text": "Hi", "author": 5}).encode(),
        b'{"at": 6, "platform": "yt", "id": "7", "text": "caf\xe9?"}',
        b"[1, 2, 3]",
        b"",
        json.dumps({**good, "id": "9", "text": "Also fine?"}).encode(),
    ]
    path = tmp_path / "my-rehearsal.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = Poller(source(speed=0, file=str(path)), store).poll_once()
    assert (result.stored, result.dead) == (2, 7)
    reasons = sorted(letter["reason"] for letter in store.dead_letters())
    assert reasons == sorted([
        "my-rehearsal.jsonl line 2: not a JSON object: Unterminated string starting at: "
        "line 1 column 47 (char 46)",
        "my-rehearsal.jsonl line 3: field 'platform': unknown platform 'tiktok' "
        f"(expected one of {', '.join(PLATFORMS)})",
        "my-rehearsal.jsonl line 4: field 'id' is missing",
        "my-rehearsal.jsonl line 5: field 'text': expected text, got list",
        "my-rehearsal.jsonl line 6: field 'author': expected text, got int",
        "my-rehearsal.jsonl line 7: not valid UTF-8 (invalid continuation byte at byte 51)",
        "my-rehearsal.jsonl line 8: not a JSON object",
    ])
    assert store.checkpoint("rehearsal") == "10"


def _floor_poll(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", "poll", "rehearsal", "--once", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_floor_poll_rehearsal_refuses_unless_enabled_or_forced(floor_env: dict[str, str],
                                                               store: Store) -> None:
    """Invented posts must never land in a real event because someone typed the command."""
    config = Path(floor_env["FLOOR_CONFIG"])
    base = config.read_text()
    config.write_text(base + "[sources.rehearsal]\nspeed = 0\n")
    refused = _floor_poll(floor_env)
    assert refused.returncode == EX_CONFIG  # a configuration problem: floor run stops too
    assert "[sources.rehearsal] is not enabled, and its posts are invented" in refused.stderr
    assert f"stored in event '{store.keys.event}'" in refused.stderr
    assert store.question_ids() == []

    forced = _floor_poll(floor_env, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(store.question_ids()) == 200

    config.write_text(base + "[sources.rehearsal]\nenabled = true\nspeed = 0\n")
    assert _floor_poll(floor_env).returncode == 0
