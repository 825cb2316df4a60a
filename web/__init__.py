"""Floor's web app: the moderators' console (and, later, the board screen) over Socket.IO."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

# Nothing heavy at import: every `floor` command lives in this package (web.cli), and a poller
# or `floor --help` must not pay for Flask. create_app imports the web stack when it runs.
if TYPE_CHECKING:
    import redis
    from flask import Flask

    from aggregator.base.settings import Settings
    from aggregator.core.moderation import Moderation
    from aggregator.core.store import Store
    from aggregator.ingest.health import Health
    from web.accounts import Accounts
    from web.live import LiveFeed

log = logging.getLogger("floor.web")

# The largest request body taken, over HTTP and Socket.IO alike. The biggest honest one is the
# question form: 1,000 characters, up to 12 bytes each once UTF-8 and percent-encoded.
REQUEST_LIMIT = 64 * 1024


@dataclass
class Floor:
    """The app's handles on its event, kept in ``app.extensions["floor"]``."""

    settings: Settings
    store: Store
    moderation: Moderation
    health: Health
    accounts: Accounts
    feed: LiveFeed


def floor() -> Floor:
    from flask import current_app

    return current_app.extensions["floor"]  # type: ignore[no-any-return]


def create_app(settings: Settings | None = None, conn: redis.Redis | None = None,
               test_config: dict[str, Any] | None = None) -> Flask:
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from aggregator.base.redis_server import connect
    from aggregator.base.settings import load
    from aggregator.core.moderation import Moderation
    from aggregator.core.store import Store
    from aggregator.ingest.health import Health
    from web.accounts import Accounts
    from web.extensions import csrf, limiter, socketio
    from web.live import LiveFeed
    from web.rate_limits import STORAGE_URI

    settings = settings or load()
    conn = conn if conn is not None else connect()
    app = Flask(__name__)
    secret = os.environ.get("FLOOR_SECRET_KEY")
    if not secret:
        secret = secrets.token_hex(32)
        log.warning("web: FLOOR_SECRET_KEY is not set; logins end when this process restarts")
    app.config.from_mapping(
        SECRET_KEY=secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        FLOOR_HTTPS=os.environ.get("FLOOR_HTTPS") == "1",
        SESSION_COOKIE_SECURE=os.environ.get("FLOOR_HTTPS") == "1",
        # How many proxies in front of us to believe about the client's address (X-Forwarded-For)
        # and scheme: the rate limits of /login and /ask count per address.
        FLOOR_TRUSTED_PROXIES=os.environ.get("FLOOR_TRUSTED_PROXIES", "0"),
        MAX_CONTENT_LENGTH=REQUEST_LIMIT,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,
        # The limiter counts in the event's Redis through this very client (web/rate_limits.py).
        RATELIMIT_STORAGE_URI=STORAGE_URI,
        RATELIMIT_STORAGE_OPTIONS={"client": conn},
        # Said outright: the one Limiter keeps the last app's setting when a key is absent.
        RATELIMIT_ENABLED=True,
    )
    app.config.update(test_config or {})
    proxies = _trusted_proxies(app.config["FLOOR_TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    event = settings.event.slug
    store = Store(conn, event)
    app.extensions["floor"] = Floor(
        settings=settings, store=store, moderation=Moderation(conn, event),
        health=Health(conn, event), accounts=Accounts(conn, event),
        feed=LiveFeed(socketio, store),
    )
    # Socket.IO handlers must be declared before the first init_app binds a server: only those
    # declared unbound are carried over to the server of every later app (tests make many).
    from web import ask, auth, chair, console, control, metrics, public, screen, site

    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=REQUEST_LIMIT)
    app.register_blueprint(site.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(screen.bp)
    app.register_blueprint(chair.bp)
    app.register_blueprint(ask.bp)
    app.register_blueprint(control.bp)
    app.extensions["floor.metrics"] = metrics.registry_for(conn, event)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(public.bp)
    return app


def _trusted_proxies(value: Any) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if not 0 <= count <= 5:
        raise ValueError(f"FLOOR_TRUSTED_PROXIES must be a count of proxies from 0 to 5, "
                         f"not {value!r}")
    return count
