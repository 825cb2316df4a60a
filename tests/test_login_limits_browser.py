"""A remembered browser in real Chromium: the device cookie a login sets is sent back by the
login form (SameSite=Strict, Path=/login) and gets its moderator in while her name is guessed
from many addresses; a browser that has never logged in is refused. Addresses are simulated
with X-Forwarded-For behind one trusted proxy; CSRF is on, as served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from flask import Flask

from aggregator.base.settings import Settings
from tests.fixtures.browser import log_in
from tests.moderators import MODERATOR
from web import create_app
from web.accounts import Accounts
from web.auth import PER_NAME
from web.extensions import limiter

pytestmark = pytest.mark.browser

CONSOLE = re.compile(r"^http://[^/?]+/console$")  # not /login?next=/console
PER_NAME_MINUTE = int(PER_NAME.split()[0])


@pytest.fixture
def app(settings: Settings, conn: redis.Redis) -> Iterator[Flask]:
    """The app as served behind one proxy: limits and CSRF on (live_server serves this one)."""
    was_enabled = limiter.enabled
    app = create_app(settings, conn, test_config={"TESTING": True, "RATELIMIT_ENABLED": True,
                                                  "FLOOR_TRUSTED_PROXIES": "1"})
    Accounts(conn, settings.event.slug).add(*MODERATOR)
    yield app
    limiter.enabled = was_enabled
    app.extensions["floor"].feed.stop()


def _guess(base: str, address: str, password: str) -> int:
    """An attacker's try at sam's password, through the form as a browser would send it."""
    with requests.Session() as http:
        http.headers["X-Forwarded-For"] = address
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          http.get(f"{base}/login", timeout=10).text)
        assert token
        return http.post(f"{base}/login", timeout=30, allow_redirects=False, data={
            "csrf_token": token[1], "username": MODERATOR[0], "password": password}).status_code


def test_her_own_browser_gets_in_while_her_name_is_guessed(browser: Any,
                                                           live_server: str) -> None:
    laptop = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.80"})
    stranger = browser.new_context(extra_http_headers={"X-Forwarded-For": "192.0.2.30"})
    try:
        page = log_in(laptop, live_server)  # at home, before the meeting
        page.wait_for_url(CONSOLE)
        page.click("text=Log out")
        page.wait_for_url(re.compile(r"^http://[^/?]+/login$"))

        tries = [_guess(live_server, f"198.51.100.{i}", f"guess {i}")
                 for i in range(PER_NAME_MINUTE)]
        assert tries == [401] * PER_NAME_MINUTE

        refused = log_in(stranger, live_server)  # a brand-new laptop, the right password
        refused.locator(".error").wait_for()
        assert "Too many failed attempts" in (refused.locator(".error").text_content() or "")

        laptop.set_extra_http_headers({"X-Forwarded-For": "192.0.2.30"})  # at the venue
        page = log_in(laptop, live_server)
        page.wait_for_url(CONSOLE)
        page.wait_for_selector('#conn[data-state="live"]')
    finally:
        laptop.close()
        stranger.close()
