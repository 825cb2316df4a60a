"""Sessions that end, and the headers every response carries.

Sessions: logging out, removing a moderator or setting a new password ends every session of that
moderator (pages at once, sockets within about a second), and a removed name re-added revives no
old cookie. The login limits are in tests/test_login_limits.py.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.environment import EnvironmentProblem
from aggregator.base.settings import Settings
from tests.moderators import MODERATOR
from tests.waiting import wait_until
from web import REQUEST_LIMIT, create_app
from web.accounts import Accounts
from web.extensions import socketio
from web.site import DEFAULT_HEADERS, HSTS

NS = "/console"


def _login(app: Flask, username: str = MODERATOR[0], password: str = MODERATOR[1],
           **kwargs: Any) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password}, **kwargs)
    assert response.status_code == 302, response.text
    return client


def _get(client: FlaskClient, path: str) -> Any:
    """GET and close at once: a static file's response holds the file open until closed."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    """A new browser holding a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


# -- sessions end ---------------------------------------------------------------------------------

def test_logout_ends_every_session_of_that_moderator(app: Flask) -> None:
    laptop, phone = _login(app), _login(app)
    copied = _cookie(laptop)
    sock = socketio.test_client(app, namespace=NS, flask_test_client=phone)
    assert sock.is_connected(NS)
    assert laptop.post("/logout").status_code == 302
    assert laptop.get("/console").status_code == 302
    assert _with_cookie(app, copied).get("/console").status_code == 302  # the copied cookie
    assert phone.get("/console").status_code == 302  # another device of the same moderator
    wait_until(lambda: not sock.is_connected(NS))  # its open console, by the sweep
    assert _login(app).get("/console").status_code == 200  # logging in again works


def test_a_new_password_ends_the_old_sessions(app: Flask, conn: redis.Redis, event: str) -> None:
    old = _login(app)
    Accounts(conn, event).add(MODERATOR[0], "a brand new passphrase")
    assert old.get("/console").status_code == 302
    assert _login(app, password="a brand new passphrase").get("/console").status_code == 200


def test_a_removed_name_added_again_revives_no_old_cookie(app: Flask, conn: redis.Redis,
                                                          event: str) -> None:
    copied = _cookie(_login(app))
    accounts = Accounts(conn, event)
    accounts.remove(MODERATOR[0])
    accounts.add(*MODERATOR)
    assert _with_cookie(app, copied).get("/console").status_code == 302
    sock = socketio.test_client(app, namespace=NS, flask_test_client=_with_cookie(app, copied))
    assert not sock.is_connected(NS)


def test_another_moderator_is_not_logged_out(app: Flask, conn: redis.Redis, event: str) -> None:
    Accounts(conn, event).add("kim", "another horse battery")
    kim = _login(app, "kim", "another horse battery")
    assert _login(app).post("/logout").status_code == 302
    assert kim.get("/console").status_code == 200


# -- usernames ------------------------------------------------------------------------------------

def test_usernames_are_normalised_alike_when_added_and_at_login(app: Flask, conn: redis.Redis,
                                                                event: str) -> None:
    accounts = Accounts(conn, event)
    assert accounts.add("  KIM ", "another horse battery") == "kim"
    assert accounts.names() == ["kim", "sam"]
    assert _login(app, "Kim", "another horse battery").get("/console").status_code == 200
    assert accounts.remove("KIM") and accounts.names() == ["sam"]


def test_floor_moderator_add_takes_a_capitalised_name(floor_env: dict[str, str],
                                                      conn: redis.Redis, event: str) -> None:
    added = subprocess.run([sys.executable, "-m", "cli", "moderator", "add", "SAM",
                            "--password-stdin"], env=floor_env, input="correct horse battery\n",
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "moderator sam: saved"
    assert Accounts(conn, event).verify("sam", "correct horse battery")


# -- proxies --------------------------------------------------------------------------------------

def test_a_bad_trusted_proxies_setting_is_refused(settings: Settings, conn: redis.Redis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOOR_TRUSTED_PROXIES", "yes")
    with pytest.raises(EnvironmentProblem) as refused:
        create_app(settings, conn)
    assert str(refused.value).startswith("FLOOR_TRUSTED_PROXIES: ")
    assert "\n" not in str(refused.value)


# -- headers, sizes, pages ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/no/such/page", "/screen/not-a-live-link-at-all-0000",
                                  "/static/console.css", "/static/favicon.svg", "/favicon.ico"])
def test_every_response_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    response = _get(client, path)
    for name in DEFAULT_HEADERS:
        assert name in response.headers, (path, name)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_only_when_served_over_https(settings: Settings, conn: redis.Redis,
                                          client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers
    app = create_app(settings, conn, test_config={"TESTING": True, "FLOOR_HTTPS": True,
                                                  "RATELIMIT_ENABLED": False})
    try:
        for path in ("/login", "/nowhere", "/static/floor.css"):
            assert _get(app.test_client(), path).headers["Strict-Transport-Security"] == HSTS
    finally:
        app.extensions["floor"].feed.stop()


def test_the_not_found_page_is_styled(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Nothing here" in response.text and "floor.css" in response.text
    assert "favicon.svg" in response.text


def test_the_favicon_is_served(client: FlaskClient) -> None:
    icon = _get(client, "/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.data.startswith(b"<svg")
    assert "favicon.svg" in client.get("/login").text
    assert "favicon.svg" in client.get("/ask").text


@pytest.mark.parametrize("path", ["/ask", "/login"])
def test_an_oversized_request_is_refused(client: FlaskClient, path: str) -> None:
    response = client.post(path, data={"question": "x" * (REQUEST_LIMIT + 1),
                                       "username": "sam", "password": "y"})
    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"
