"""The one loop of the log's followers (aggregator/followers/loop.py): it waits out Redis errors,
stops cleanly with a last line, and keeps a heartbeat that the console's health panel reads; a
follower process killed with SIGKILL shows dead there within its heartbeat's TTL."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from aggregator.base.keys import Keys
from aggregator.base.settings import EventSettings, Settings, TriageSettings
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers import loop as follower_module
from aggregator.followers.loop import HEARTBEAT_TTL, follow
from aggregator.ingest.health import Health
from tests.moderators import MODERATOR
from tests.waiting import wait_until
from web.console import assess_follower, follower_report

NS = "/console"


class Scripted:
    """A follower that plays a script: each ``step`` handles the next number of entries, or
    raises the next exception; ``setup`` fails as often as told."""

    name = "scripted"

    def __init__(self, conn: redis.Redis, event: str, script: list[int | Exception],
                 setup_failures: int = 0) -> None:
        self.conn = conn
        self.keys = Keys(event)
        self.script = script
        self.setup_failures = setup_failures
        self.setups = 0
        self.steps = 0
        self.done = threading.Event()

    def setup(self, beat: Callable[[], None]) -> None:
        self.setups += 1
        if self.setup_failures:
            self.setup_failures -= 1
            raise redis.ConnectionError("Connection refused (in setup)")
        beat()

    def step(self, block_ms: int) -> int:
        self.steps += 1
        if not self.script:
            self.done.set()
            threading.Event().wait(block_ms / 1000)
            return 0
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def lag(self) -> int:
        return len(self.script)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Backoff waits of 10 ms; the list gets each call's count of outages in a row."""
    outages: list[int] = []

    def backoff(n: int) -> float:
        outages.append(n)
        return 0.01

    monkeypatch.setattr(follower_module, "backoff", backoff)
    return outages


def test_the_loop_waits_out_redis_errors_and_stops_with_a_last_line(
        conn: redis.Redis, event: str, quick_backoff: list[int],
        caplog: pytest.LogCaptureFixture) -> None:
    scripted = Scripted(conn, event, [3, redis.ConnectionError("Connection reset by peer"),
                                      redis.TimeoutError("Timeout reading from socket"), 4, 5],
                        setup_failures=1)
    stop = threading.Event()
    result: list[int] = []
    caplog.set_level(logging.INFO, logger="floor.follower")
    thread = threading.Thread(target=lambda: result.append(follow(scripted, stop, block_ms=20)))
    thread.start()
    health = Health(conn, event)
    try:
        assert scripted.done.wait(10), "the loop died on a Redis error"
        record = wait_until(lambda: health.followers().get("scripted", {}).get("entries") == 12
                            and health.followers()["scripted"], timeout=10)
        assert record["alive"] is True and record["state"] == "following"
        assert "last_error" not in record  # cleared once Redis answered again
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive() and result == [12]
    assert scripted.setups == 2  # set up again after the error inside it, once done never again
    assert quick_backoff == [1, 1, 2]  # the count of outages in a row, reset by a good step
    record = health.followers()["scripted"]
    assert (record["state"], record["alive"], record["entries"]) == ("offline", False, 12)
    assert "follower scripted: Redis unavailable (Connection reset by peer)" in caplog.text
    assert caplog.records[-1].getMessage() == "follower scripted: stopped after 12 entries"


def test_any_other_error_ends_the_loop_marked_offline(conn: redis.Redis, event: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="floor.follower")
    scripted = Scripted(conn, event, [2, ValueError("a bug")])
    with pytest.raises(ValueError, match="a bug"):
        follow(scripted, threading.Event(), block_ms=20)
    assert Health(conn, event).followers()["scripted"]["state"] == "offline"
    assert caplog.records[-1].getMessage() == "follower scripted: stopped after 2 entries"


def test_a_follower_whose_redis_is_away_keeps_trying(conn: redis.Redis, event: str,
                                                     quick_backoff: list[int]) -> None:
    """Its own connection points at a closed port: the heartbeat fails too, and the loop
    waits; given its Redis back, it follows."""
    away = redis.Redis(port=1, decode_responses=True, retry=Retry(NoBackoff(), 0))
    scripted = Scripted(away, event, [1, 1])
    stop = threading.Event()
    thread = threading.Thread(target=follow, args=(scripted, stop), kwargs={"block_ms": 20})
    thread.start()
    try:
        wait_until(lambda: len(quick_backoff) >= 3)
        assert thread.is_alive() and scripted.steps == 0
        away.connection_pool = conn.connection_pool  # Redis is back
        assert scripted.done.wait(10)
        assert Health(conn, event).followers()["scripted"]["alive"] is True
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


# -- the verdicts on the console ------------------------------------------------------------------

@pytest.mark.parametrize(("record", "enabled", "verdict", "words"), [
    ({"state": "following", "alive": True}, True, "ok", "following the log"),
    ({"state": "starting", "alive": True}, True, "starting", "getting ready to follow the log"),
    ({"state": "following", "alive": False}, True, "failing", "it is not running (no heartbeat)"),
    ({"state": "offline", "alive": False}, True, "failing", "it was shut down"),
    ({"state": "retrying", "alive": True, "last_error": "Redis unavailable: Timeout"}, True,
     "failing", "Redis unavailable: Timeout"),
    ({"state": "following", "alive": False}, False, "off", "turned off in the settings"),
    ({"state": "offline", "alive": False}, False, "off", "turned off in the settings"),
])
def test_follower_verdicts(record: dict[str, Any], enabled: bool, verdict: str,
                           words: str) -> None:
    assert assess_follower(record, enabled) == (verdict, words)


def test_follower_rows_name_each_and_a_disabled_one_raises_no_alarm() -> None:
    rows = follower_report({
        "ledger": {"state": "following", "alive": True, "entries": 40, "lag": 2,
                   "beat": "2026-11-25T12:00:00.000Z"},  # not shown: a push at every beat
        "triage": {"state": "offline", "alive": False, "entries": 7},
    }, ("ledger",))
    assert [(r["label"], r["verdict"], r["entries"], r["lag"]) for r in rows] == [
        ("Ledger writer", "ok", 40, 2), ("Triage worker", "off", 7, None)]
    assert "beat" not in rows[0]


def test_floor_run_starts_the_followers_the_settings_expect() -> None:
    on = Settings(event=EventSettings(slug="e"))
    off = Settings(event=EventSettings(slug="e"), triage=TriageSettings(enabled=False))
    assert follower_module.expected(on) == ("ledger", "triage")
    assert follower_module.expected(off) == ("ledger",)


# -- real processes -------------------------------------------------------------------------------

@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _start(command: str, env: dict[str, str], started: list[subprocess.Popen[str]],
           stderr: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "cli", command], env=env,
                               stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    started.append(process)
    return process


def _row(socket_client: Any, name: str) -> dict[str, Any] | None:
    """The console's health row of follower ``name``, as a console asks for it."""
    report = socket_client.emit("health", {}, namespace=NS, callback=True)
    return next((row for row in report["followers"] if row["name"] == name), None)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ledger", "triage"])
def test_a_follower_killed_with_sigkill_raises_the_alarm_within_its_heartbeat(
        command: str, floor_env: dict[str, str], store: Store, app: Flask,
        socket_client: Any, processes: list[subprocess.Popen[str]]) -> None:
    store.ingest("rehearsal", [(normalise(Post("x", str(i), f"Question {i}?", "Viewer")), {})
                               for i in range(5)])
    health = Health(store.conn, store.keys.event)
    process = _start(command, floor_env, processes)
    # Up: the heartbeat is fresh, it has read what the log held, and the console says ok. (The
    # interpreter's start-up, and triage's model, take their time on a loaded machine.)
    wait_until(lambda: health.followers().get(command, {}).get("alive")
               and health.followers()[command].get("lag") == 0, timeout=120)
    row = wait_until(lambda: (r := _row(socket_client, command)) and r["verdict"] == "ok" and r)
    assert row["label"] in ("Ledger writer", "Triage worker") and row["entries"] >= 5
    process.send_signal(signal.SIGKILL)
    process.wait()
    # No goodbye from a killed process: the heartbeat runs out, and the console says so.
    wait_until(lambda: not health.followers()[command]["alive"], timeout=HEARTBEAT_TTL + 5)
    row = _row(socket_client, command)
    assert row is not None
    assert (row["verdict"], row["summary"]) == ("failing", "it is not running (no heartbeat)")
    assert health.followers()[command]["state"] == "following"  # it never said it stopped


@pytest.mark.slow
def test_sigterm_stops_a_follower_cleanly_with_its_last_line(
        floor_env: dict[str, str], store: Store, socket_client: Any,
        processes: list[subprocess.Popen[str]]) -> None:
    health = Health(store.conn, store.keys.event)
    process = _start("ledger", floor_env, processes, stderr=subprocess.PIPE)
    wait_until(lambda: health.followers().get("ledger", {}).get("alive"), timeout=120)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stderr.strip().splitlines()[-1].endswith("follower ledger: stopped after 0 entries")
    record = health.followers()["ledger"]
    assert (record["state"], record["alive"]) == ("offline", False)
    row = _row(socket_client, "ledger")
    assert row is not None and (row["verdict"], row["summary"]) == ("failing", "it was shut down")


def test_a_disabled_follower_raises_no_alarm_on_the_console(
        conn: redis.Redis, event: str, settings: Settings, socket_client: Any) -> None:
    health = Health(conn, event)
    health.follower_beat("ledger", 60, state="following", entries=3)
    health.follower_beat("triage", 60, state="following", entries=3)
    health.follower_gone("triage")
    assert _row(socket_client, "triage")["verdict"] == "failing"  # type: ignore[index]
    settings.triage.enabled = False  # the app's own settings
    rows = socket_client.emit("health", {}, namespace=NS, callback=True)["followers"]
    assert [(r["name"], r["verdict"]) for r in rows] == [("ledger", "ok"), ("triage", "off")]


@pytest.mark.browser
def test_the_console_shows_followers_and_sounds_the_alarm_for_a_dead_one(
        browser: Any, app: Flask, live_server: str, conn: redis.Redis, event: str) -> None:
    """In Chromium: each follower has its block beside the sources; one that goes down turns the
    alarm on, named; with a source down too, the alarm names both."""
    from playwright.sync_api import expect

    app.config["FLOOR_CONSOLE_TICK"] = 0.05
    health = Health(conn, event)
    health.follower_beat("ledger", 60, state="following", entries=12, lag=0)
    health.follower_beat("triage", 60, state="following", entries=5, lag=3)
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.fill("#username", MODERATOR[0])
        page.fill("#password", MODERATOR[1])
        page.click("button[type=submit]")
        page.wait_for_selector('#conn[data-state="live"]', timeout=10_000)
        triage = page.locator('#health section.follower[aria-label="Triage worker"]')
        expect(triage).to_have_class(re.compile(r"\bverdict-ok\b"), timeout=10_000)
        expect(triage.locator(".summary")).to_have_text("following the log")
        expect(triage).to_contain_text("3 entries")  # behind
        expect(page.locator("#health-alarm")).to_be_hidden()
        health.follower_gone("triage")
        expect(triage).to_have_class(re.compile(r"\bverdict-failing\b"), timeout=10_000)
        expect(page.locator("#health-alarm")).to_have_text("⚠ Triage worker is failing")
        health.record("x", state="offline")
        expect(page.locator("#health-alarm")).to_have_text("⚠ 2 failing: X, Triage worker",
                                                           timeout=10_000)
        expect(page.locator('#health section.follower[aria-label="Ledger writer"]')) \
            .to_have_class(re.compile(r"\bverdict-ok\b"))
    finally:
        context.close()
