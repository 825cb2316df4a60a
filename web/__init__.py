"""Floor's web app: ``create_app``, and ``Floor``, the handles on the event its parts share.

Each part is a module with a blueprint (``web/console.py``, ``web/screen.py``...); a part that
keeps state of its own (a hub, a tally) makes it in its ``init_app(app, floor)``, which
``create_app`` calls in the order written there."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

# Nothing heavy at import: a poller, or `floor --help`, must not pay for Flask. create_app
# imports the web stack when it runs.
if TYPE_CHECKING:
    import redis
    from flask import Flask
    from prometheus_client import CollectorRegistry

    from aggregator.base.environment import Environment
    from aggregator.base.settings import Settings
    from aggregator.core.moderation import Moderation
    from aggregator.core.search_index import TextIndex
    from aggregator.core.store import Store
    from aggregator.ingest.health import Health
    from web.accounts import Accounts
    from web.console import Relay
    from web.live import LiveFeed
    from web.public import Tally
    from web.record_panel import RecordPanel
    from web.screen import ScreenHub

log = logging.getLogger("floor.web")

# The largest request body taken, over HTTP and Socket.IO alike. The biggest honest one is the
# question form: 1,000 characters, up to 12 bytes each once UTF-8 and percent-encoded.
REQUEST_LIMIT = 64 * 1024


@dataclass
class Floor:
    """The app's handles on its event, kept in ``app.extensions["floor"]``: the event's own,
    made by ``create_app``, and those each part makes in its ``init_app``."""

    settings: Settings
    store: Store
    moderation: Moderation
    health: Health
    accounts: Accounts
    feed: LiveFeed
    relay: Relay = field(init=False)  # web/console.py: log entries to the consoles
    record_panel: RecordPanel = field(init=False)  # web/console.py: the ledger and fairness
    texts: TextIndex = field(init=False)  # web/console.py: what searches look in
    screens: ScreenHub = field(init=False)  # web/screen.py, which web/chair.py extends
    metrics: CollectorRegistry = field(init=False)  # web/metrics.py
    tally: Tally = field(init=False)  # web/public.py: the /record page's counts

    @classmethod
    def of_event(cls, settings: Settings, conn: redis.Redis) -> Floor:
        from aggregator.core.moderation import Moderation
        from aggregator.core.store import Store
        from aggregator.ingest.health import Health
        from web.accounts import Accounts
        from web.extensions import socketio
        from web.live import LiveFeed

        event = settings.event.slug
        store = Store(conn, event)
        return cls(settings=settings, store=store, moderation=Moderation(conn, event),
                   health=Health(conn, event), accounts=Accounts(conn, event),
                   feed=LiveFeed(socketio, store))


def floor() -> Floor:
    from flask import current_app

    return current_app.extensions["floor"]  # type: ignore[no-any-return]


def create_app(settings: Settings | None = None, conn: redis.Redis | None = None,
               test_config: dict[str, Any] | None = None) -> Flask:
    """The web app of one event: ``settings`` (default: the settings file), its Redis
    (default: REDIS_URL's), Flask's config from the environment, then ``test_config``."""
    from flask import Flask

    from aggregator.base.environment import read_environment
    from aggregator.base.redis_server import connect
    from aggregator.base.settings import load
    from web.extensions import csrf, limiter, socketio

    settings = settings or load()
    conn = conn if conn is not None else connect()
    app = Flask(__name__)
    app.config.from_mapping(config_of(read_environment(), conn))
    app.config.update(test_config or {})
    trust_proxies(app)
    app.extensions["floor"] = f = Floor.of_event(settings, conn)

    # Socket.IO handlers must be declared before the first init_app binds a server: only those
    # declared unbound are carried over to the server of every later app (tests make many).
    from web import ask, auth, chair, console, control, health, metrics, public, screen, site

    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=REQUEST_LIMIT)
    app.register_blueprint(site.bp)
    app.register_blueprint(auth.bp)
    console.init_app(app, f)
    screen.init_app(app, f)
    chair.init_app(app, f)  # after the screens: the chair's view is one of theirs
    app.register_blueprint(ask.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(health.bp)  # /healthz, /readyz
    metrics.init_app(app, f)
    public.init_app(app, f)  # last: it answers /record in front of everything above
    return app


def config_of(environment: Environment, conn: redis.Redis) -> dict[str, Any]:
    """Flask's config for a web process, from its environment."""
    from web.rate_limits import STORAGE_URI

    secret = environment.token("FLOOR_SECRET_KEY")
    if not secret:
        secret = secrets.token_hex(32)
        log.warning("web: FLOOR_SECRET_KEY is not set; logins end when this process restarts")
    return {
        "SECRET_KEY": secret,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "FLOOR_HTTPS": environment.https,
        "SESSION_COOKIE_SECURE": environment.https,
        # How many proxies in front of us to believe about the client's address
        # (X-Forwarded-For) and scheme: the rate limits of /login and /ask count per address.
        "FLOOR_TRUSTED_PROXIES": environment.trusted_proxies,
        # Most sockets this process holds (web/capacity.py); None: from the server's threads.
        "FLOOR_SOCKETS": environment.sockets,
        "MAX_CONTENT_LENGTH": REQUEST_LIMIT,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": None,
        # The limiter counts in the event's Redis through this very client (web/rate_limits.py).
        "RATELIMIT_STORAGE_URI": STORAGE_URI,
        "RATELIMIT_STORAGE_OPTIONS": {"client": conn},
        # Said outright: the one Limiter keeps the last app's setting when a key is absent.
        "RATELIMIT_ENABLED": True,
    }


def trust_proxies(app: Flask) -> None:
    """Believe FLOOR_TRUSTED_PROXIES proxies about the client's address and scheme."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    proxies = int(app.config["FLOOR_TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies,  # type: ignore[method-assign]
                                x_proto=proxies)
