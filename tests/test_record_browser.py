"""The published record of the bundled rehearsal, opened from disk in Chromium: readable with no
script, its charts drawn, no serious or critical axe finding, and it prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from aggregator.base.settings import EventSettings, Settings
from aggregator.followers.record.build import build
from tests.fixtures.browser import serious
from tests.rehearsed import rehearse

pytestmark = pytest.mark.browser


def test_the_record_page_is_accessible_offline(browser: Any, conn: redis.Redis, event: str,
                                               tmp_path: Path) -> None:
    rehearse(conn, event)
    build(conn, Settings(event=EventSettings(slug=event)), tmp_path)
    context = browser.new_context(java_script_enabled=True, offline=True,
                                  viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((tmp_path / "index.html").as_uri())
        assert page.get_by_role("heading", name="Published record of questions").is_visible()
        sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(sizes) == 5 and all(sizes)
        assert all(url.startswith("file://") for url in requests)
        assert serious(page) == []
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    finally:
        context.close()


def test_the_live_page_is_accessible_and_refreshes_itself(browser: Any, live_server: str,
                                                          conn: redis.Redis, event: str) -> None:
    from aggregator.core.moderation import Moderation
    from aggregator.core.store import Store

    meeting = rehearse(conn, event, limit=40)
    context = browser.new_context(viewport={"width": 800, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/record")
        assert page.get_by_role("heading", name="Questions, live").is_visible()
        assert serious(page) == []
        qid = next(q for q in meeting.qids if meeting.states[q] == "approved")
        question = Store(conn, event).question(qid)
        assert question is not None
        Moderation(conn, event).apply("screen", qid, question.version, "sam", then="answered")
        page.locator(".now").wait_for(timeout=10_000)  # the page's own refresh brings it
        assert page.locator(".now").inner_text().startswith(question.text)
    finally:
        context.close()
