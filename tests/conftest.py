"""Shared fixtures: a real Redis (REDIS_URL, else an embedded one) and a fresh event per test.

Each test gets its own event slug, so its keys never meet another test's, even when several
test runs share one server; the keys are deleted afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from aggregator.base.keys import Keys
from aggregator.base.redis_server import client_from_url, connect, url_of
from aggregator.base.settings import EventSettings, Settings
from aggregator.core.moderation import Moderation
from aggregator.core.store import Store
from tests.moderators import MODERATOR
from web import create_app
from web.accounts import Accounts
from web.extensions import NoDelayRequestHandler, limiter, socketio

# Fixtures more than one test module needs, beside the ones below (docs/testing.md).
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.consoles", "tests.fixtures.screens"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            client_from_url(url).ping()  # redis+cluster:// too (tests/test_cluster.py)
        except redis.RedisError as exc:
            pytest.fail(f"REDIS_URL={url} is set but does not answer: {exc}")
        yield url
        return
    client = connect(url="", data_dir=tmp_path_factory.mktemp("redis"))
    yield url_of(client)
    client.connection_pool.disconnect()


@pytest.fixture
def conn(redis_url: str) -> Iterator[redis.Redis]:
    client = client_from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def event(conn: redis.Redis) -> Iterator[str]:
    slug = "t-" + uuid.uuid4().hex[:12]
    yield slug
    keys = list(conn.scan_iter(Keys(slug).pattern, count=1000))
    if keys:
        conn.delete(*keys)


@pytest.fixture
def store(conn: redis.Redis, event: str) -> Store:
    return Store(conn, event)


@pytest.fixture
def moderation(conn: redis.Redis, event: str) -> Moderation:
    return Moderation(conn, event)


@pytest.fixture
def floor_env(redis_url: str, event: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a ``floor`` subprocess that uses this test's Redis and event."""
    config = tmp_path / "event.toml"
    config.write_text(f'[event]\nslug = "{event}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOOR_")}
    env.update(REDIS_URL=redis_url, FLOOR_CONFIG=str(config), FLOOR_DATA_DIR=str(tmp_path / "data"),
               FLOOR_SECRET_KEY="test-secret-key", PYTHONUNBUFFERED="1")
    return env


# -- the web app ------------------------------------------------------------------------------

@pytest.fixture
def settings(event: str) -> Settings:
    return Settings(event=EventSettings(slug=event))


@pytest.fixture
def app(settings: Settings, conn: redis.Redis) -> Iterator[Flask]:
    app = create_app(settings, conn, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                                  "RATELIMIT_ENABLED": False})
    Accounts(conn, settings.event.slug).add(*MODERATOR)
    yield app
    app.extensions["floor"].feed.stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def strict_app(settings: Settings, conn: redis.Redis) -> Iterator[Flask]:
    """The app as it runs for real: CSRF checked, rate limits on."""
    # The limiter is one object for every app: its storage is made anew by each app that turns
    # it on, and whether it is on outlives the app, so put that back afterwards.
    was_enabled = limiter.enabled
    app = create_app(settings, conn, test_config={"TESTING": True, "RATELIMIT_ENABLED": True})
    yield app
    limiter.enabled = was_enabled
    app.extensions["floor"].feed.stop()


@pytest.fixture
def moderator(client: FlaskClient) -> FlaskClient:
    """The test client, logged in as a moderator."""
    response = client.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def socket_client(app: Flask, moderator: FlaskClient) -> Iterator[Any]:
    """A Flask-SocketIO test client on /console sharing the moderator's HTTP session."""
    sock = socketio.test_client(app, namespace="/console", flask_test_client=moderator)
    assert sock.is_connected("/console")
    yield sock
    if sock.is_connected("/console"):
        sock.disconnect("/console")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served for real (threads, WebSocket) on a free port: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=NoDelayRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
