"""Login limits that keep guessing slow and lock no moderator out.

Failed logins count per browser (a remembered one's own failures, else one address's for one
name), per name and per address (both only from browsers the name has not logged in on).
Successes never count. The attacks from the field test: one address's typos or guesses must not
shut out the rest of a desk behind the same address, and guesses at a name from many addresses
must not shut out that moderator's own browser. Addresses are simulated with REMOTE_ADDR (and
X-Forwarded-For behind a trusted proxy).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.settings import Settings
from tests.moderators import KIM, MODERATOR
from web import accounts as accounts_module
from web import create_app
from web.accounts import Accounts
from web.auth import PER_ADDRESS, PER_BROWSER, PER_NAME
from web.devices import COOKIE
from web.extensions import limiter

LEE = ("lee", "a third horse battery")


def _figures(limit: str) -> tuple[int, int]:
    """(per minute, per hour) of a limit such as "10 per minute;30 per hour"."""
    minute, hour = limit.split(";")
    assert minute.endswith("per minute") and hour.endswith("per hour")
    return int(minute.split()[0]), int(hour.split()[0])


PER_BROWSER_MINUTE = _figures(PER_BROWSER)[0]
PER_NAME_MINUTE = _figures(PER_NAME)[0]
PER_ADDRESS_MINUTE = _figures(PER_ADDRESS)[0]


@pytest.fixture
def limited(settings: Settings, conn: redis.Redis,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    """Apps as served, rate limits on (CSRF off: the forms here are posted by hand). Passwords
    are hashed cheaply here: the counts are what these tests try, and 60 attempts at a real
    argon2 cost can outlast a minute's window on a busy machine, emptying the count."""
    monkeypatch.setattr(accounts_module, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts_module._dummy_hash.cache_clear()
    was_enabled = limiter.enabled
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app(settings, conn, test_config={
            "TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, **config})
        made.append(app)
        return app

    accounts = Accounts(conn, settings.event.slug)
    for name, password in (MODERATOR, KIM, LEE):
        accounts.add(name, password)
    yield make
    limiter.enabled = was_enabled
    accounts_module._dummy_hash.cache_clear()
    for app in made:
        app.extensions["floor"].feed.stop()


def _attempt(app: Flask, username: str, password: str, address: str = "192.0.2.1",
             forwarded: str | None = None, browser: FlaskClient | None = None) -> int:
    """One login attempt: from a browser that has never logged in here, unless one is given."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return (browser or app.test_client()).post(
        "/login", data={"username": username, "password": password}, headers=headers,
        environ_base={"REMOTE_ADDR": address}).status_code


def _guess_from_many_addresses(app: Flask, username: str, count: int) -> None:
    """Wrong passwords for one name, each from an address of its own and a browser without
    cookies: what an attacker who knows the name can send."""
    tries = [_attempt(app, username, f"guess {i}", address=f"198.51.100.{i}")
             for i in range(count)]
    assert tries == [401] * count


def _own_browser(app: Flask, moderator: tuple[str, str] = MODERATOR) -> FlaskClient:
    """A moderator's laptop, logged in once at home and logged out again."""
    laptop = app.test_client()
    assert _attempt(app, *moderator, address="203.0.113.80", browser=laptop) == 302
    assert laptop.post("/logout", environ_base={"REMOTE_ADDR": "203.0.113.80"}).status_code == 302
    return laptop


# -- a shared address -----------------------------------------------------------------------------

def test_successful_logins_are_not_counted(limited: Callable[..., Flask]) -> None:
    """A room whose moderators share one address logs in as often as it needs."""
    app = limited()
    assert [_attempt(app, *MODERATOR) for _ in range(PER_ADDRESS_MINUTE + 5)] \
        == [302] * (PER_ADDRESS_MINUTE + 5)


def test_one_mistyping_volunteer_does_not_lock_the_desk_out(limited: Callable[..., Flask]) -> None:
    """Behind the venue's one address, a volunteer mistypes their password until refused and
    tries names that do not exist: the rest of the desk, on browsers that have never logged in
    here, still gets in (and may mistype too)."""
    app = limited()
    venue = "192.0.2.10"
    typos = [_attempt(app, KIM[0], "another horse batery", address=venue)
             for _ in range(PER_BROWSER_MINUTE)]
    assert typos == [401] * PER_BROWSER_MINUTE
    assert _attempt(app, *KIM, address=venue) == 429  # only the name they typed, from there
    assert [_attempt(app, f"kimm{i}", "x", address=venue) for i in range(PER_BROWSER_MINUTE)] \
        == [401] * PER_BROWSER_MINUTE
    assert _attempt(app, LEE[0], "a typo", address=venue) == 401
    assert _attempt(app, *LEE, address=venue) == 302
    assert _attempt(app, *MODERATOR, address=venue) == 302
    assert _attempt(app, *KIM, address="192.0.2.99") == 302  # kim, on the phone's network


def test_one_address_guessing_many_names_is_capped_far_above_a_desk(
        limited: Callable[..., Flask]) -> None:
    """Password spraying from one address: a new name each time dodges the per-name counts, so
    the address's failures are capped, at a figure no desk's typos reach. A moderator's own
    browser behind that address is not held back by it."""
    app = limited()
    laptop = _own_browser(app)
    address = "192.0.2.20"
    tries = [_attempt(app, f"user{i}", "guess", address=address)
             for i in range(PER_ADDRESS_MINUTE)]
    assert tries == [401] * PER_ADDRESS_MINUTE
    assert _attempt(app, "someone", "guess", address=address) == 429
    refused = app.test_client().post("/login", data={"username": "sam", "password": "x"},
                                     environ_base={"REMOTE_ADDR": address})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text
    assert _attempt(app, *MODERATOR, address=address, browser=laptop) == 302
    assert _attempt(app, *KIM, address="192.0.2.21") == 302  # elsewhere, all is well


# -- one name from many addresses -----------------------------------------------------------------

def test_guessing_one_name_from_many_addresses_is_capped(limited: Callable[..., Flask]) -> None:
    """However many addresses guess, a name takes the figure the README states, then 429 for
    every browser it has not logged in on, even with the right password."""
    app = limited()
    _guess_from_many_addresses(app, "SAM", PER_NAME_MINUTE)
    assert _attempt(app, "sam", "one more guess", address="203.0.113.5") == 429
    assert _attempt(app, *MODERATOR, address="203.0.113.6") == 429  # a brand-new laptop
    assert _attempt(app, KIM[0], "wrong", address="203.0.113.5") == 401  # other names unaffected
    assert _attempt(app, *KIM, address="203.0.113.5") == 302


def test_a_moderators_own_browser_gets_in_while_their_name_is_attacked(
        limited: Callable[..., Flask]) -> None:
    """Sam logged in on her laptop before the meeting and logged out. While her name is guessed
    from many addresses, the laptop gets in with the right password from a new address (and
    a typo of hers there is a 401, not a lock-out)."""
    app = limited()
    laptop = _own_browser(app)
    _guess_from_many_addresses(app, MODERATOR[0], PER_NAME_MINUTE)
    assert _attempt(app, *MODERATOR, address="192.0.2.30") == 429  # any other browser
    assert _attempt(app, MODERATOR[0], "correct horse batery", address="192.0.2.30",
                    browser=laptop) == 401
    assert _attempt(app, *MODERATOR, address="192.0.2.30", browser=laptop) == 302
    assert laptop.get("/console", environ_base={"REMOTE_ADDR": "192.0.2.30"}).status_code == 200


def test_a_remembered_browser_counts_its_own_failures(limited: Callable[..., Flask]) -> None:
    """Whoever holds a remembered browser's cookie guesses no faster than the per-browser
    figure, however many addresses they use."""
    app = limited()
    laptop = _own_browser(app)
    tries = [_attempt(app, MODERATOR[0], f"guess {i}", address=f"198.51.100.{i}", browser=laptop)
             for i in range(PER_BROWSER_MINUTE)]
    assert tries == [401] * PER_BROWSER_MINUTE
    assert _attempt(app, *MODERATOR, address="192.0.2.40", browser=laptop) == 429
    assert _attempt(app, *MODERATOR, address="192.0.2.40") == 302  # not the name for others


# -- the device cookie ----------------------------------------------------------------------------

def _set_cookie(response: Any) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    return header


@pytest.mark.parametrize("https", [False, True])
def test_the_device_cookie_is_httponly_strict_and_secure_under_https(
        limited: Callable[..., Flask], https: bool) -> None:
    app = limited(FLOOR_HTTPS=https)
    browser = app.test_client()
    logged_in = browser.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    header = _set_cookie(logged_in)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/login" in header
    assert ("Secure" in header) is https
    assert MODERATOR[1] not in header
    logged_out = browser.post("/logout")  # ends the session, not the browser's standing
    assert not [h for h in logged_out.headers.getlist("Set-Cookie") if h.startswith(COOKIE)]


def test_a_device_cookie_cannot_be_forged_or_borrowed(limited: Callable[..., Flask]) -> None:
    made_elsewhere = _own_browser(limited(SECRET_KEY="another secret")).get_cookie(
        COOKIE, path="/login")  # by an app with another secret key
    app = limited()
    value = _own_browser(app).get_cookie(COOKIE, path="/login")
    kims = _own_browser(app, KIM).get_cookie(COOKIE, path="/login")
    assert value is not None and made_elsewhere is not None and kims is not None
    _guess_from_many_addresses(app, MODERATOR[0], PER_NAME_MINUTE)

    def with_cookie(cookie: str) -> FlaskClient:
        browser = app.test_client()
        browser.set_cookie(COOKIE, cookie, path="/login")
        return browser

    assert _attempt(app, *MODERATOR, browser=with_cookie(value.value)) == 302  # a copy works
    payload, _, signature = value.value.rpartition(".")
    # Its first character, not its last: the last base64 character of the signature carries
    # padding bits, so "B" -> "A" there could decode to the same bytes and still be valid.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _attempt(app, *MODERATOR, browser=with_cookie(f"{payload}.{flipped}")) == 429
    assert _attempt(app, *MODERATOR, browser=with_cookie(made_elsewhere.value)) == 429
    # Kim's laptop is remembered for kim, not for sam's name.
    assert _attempt(app, *MODERATOR, browser=with_cookie(kims.value)) == 429


def test_a_new_password_or_removal_revokes_the_remembered_browsers(
        limited: Callable[..., Flask], settings: Settings, conn: redis.Redis) -> None:
    app = limited()
    accounts = Accounts(conn, settings.event.slug)
    sams, kims = _own_browser(app), _own_browser(app, KIM)
    _guess_from_many_addresses(app, MODERATOR[0], PER_NAME_MINUTE)
    _guess_from_many_addresses(app, KIM[0], PER_NAME_MINUTE)
    assert _attempt(app, *MODERATOR, browser=sams) == 302
    assert _attempt(app, *KIM, browser=kims) == 302

    accounts.add(MODERATOR[0], "a brand new passphrase")
    assert _attempt(app, MODERATOR[0], "a brand new passphrase", browser=sams) == 429
    accounts.remove(KIM[0])
    assert _attempt(app, *KIM, browser=kims) == 429  # not a 401: the browser is not exempt
    accounts.add(*KIM)  # the same name and password again: a new account
    assert _attempt(app, *KIM, browser=kims) == 429


# -- proxies, the form, the README ----------------------------------------------------------------

def test_trusted_proxies_say_who_the_client_is(limited: Callable[..., Flask]) -> None:
    """Behind one trusted proxy every request comes from the proxy's address: the client's is
    the last one in X-Forwarded-For. Without the setting, that header is not believed."""
    behind_proxy = limited(FLOOR_TRUSTED_PROXIES="1")
    for _ in range(PER_BROWSER_MINUTE):
        assert _attempt(behind_proxy, "kim", "wrong", address="10.0.0.2",
                        forwarded="192.0.2.50") == 401
    assert _attempt(behind_proxy, "kim", "wrong", address="10.0.0.2",
                    forwarded="192.0.2.50") == 429
    assert _attempt(behind_proxy, "kim", "wrong", address="10.0.0.2",
                    forwarded="192.0.2.51") == 401

    direct = limited()
    for i in range(PER_BROWSER_MINUTE):
        assert _attempt(direct, "lee", "wrong", address="192.0.2.77",
                        forwarded=f"203.0.113.{i}") == 401
    assert _attempt(direct, "lee", "wrong", address="192.0.2.77",
                    forwarded="203.0.113.200") == 429


def test_the_login_form_still_posts_with_the_csrf_token(limited: Callable[..., Flask]) -> None:
    """The limits and headers leave the real form working, CSRF on."""
    app = limited(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post("/login", data={"csrf_token": token[1], "username": MODERATOR[0],
                                           "password": MODERATOR[1]})
    assert response.status_code == 302


def test_the_readme_states_the_figures_the_limits_enforce() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for limit in (PER_BROWSER, PER_NAME, PER_ADDRESS):
        minute, hour = _figures(limit)
        assert f"{minute} a minute, {hour} an hour" in readme, limit
