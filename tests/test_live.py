"""The log's tail in each web process (web/live.py): what a listener's failure does."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from web import live
from web.live import LiveFeed


def test_an_entry_is_delivered_again_after_redis_comes_back_and_a_broken_listener_is_passed(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A screen's push reads Redis; during a failover that read is refused. It used to log a
    # traceback and drop the entry, so the board missed it until the next one.
    monkeypatch.setattr(live, "RETRY_SECONDS", 0.0)
    feed = LiveFeed(socketio=None, store=None)  # type: ignore[arg-type]
    seen: list[str] = []
    failures = iter([redis.ConnectionError("Connection refused"), None])

    def pushes(server: Any, entry: Any) -> None:
        failure = next(failures)
        if failure is not None:
            raise failure
        seen.append(entry.id)

    def broken(server: Any, entry: Any) -> None:
        raise KeyError("a bug")

    with caplog.at_level(logging.WARNING, logger=live.log.name):
        feed._deliver(pushes, None, SimpleNamespace(id="1-0"))
        feed._deliver(broken, None, SimpleNamespace(id="2-0"))
    assert seen == ["1-0"]
    assert "cannot reach Redis for entry 1-0" in caplog.text
    assert "listener failed on entry 2-0" in caplog.text
