"""Flask extensions, made unbound here and bound in ``create_app``; and the request handler the
web server runs them with."""

import socket

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect
from werkzeug.serving import WSGIRequestHandler

from web.devices import attempted_name, trusted_device

socketio = SocketIO()
csrf = CSRFProtect()


def _client_of_event() -> str:
    """Rate limits count per event and client address (the proxy's own, unless
    FLOOR_TRUSTED_PROXIES says how many proxies' X-Forwarded-For to believe)."""
    return f"{current_app.extensions['floor'].settings.event.slug}:{get_remote_address()}"


def username_of_event() -> str:
    """Login failures from strangers' browsers count per event and username, wherever they come
    from."""
    return f"{current_app.extensions['floor'].settings.event.slug}:user:{attempted_name()}"


def browser_of_event() -> str:
    """A remembered browser's login failures count per browser; anyone else's per address and
    username, so one person's typos at a shared address hold back only the name they typed."""
    device = trusted_device()
    if device is not None:
        return f"{current_app.extensions['floor'].settings.event.slug}:device:{device}"
    return f"{_client_of_event()}:user:{attempted_name()}"


# Counts live in the event's Redis (create_app sets RATELIMIT_STORAGE_URI), so every web
# process serving the event shares one limit per client. (The limits library names its own
# keys, "LIMITS:floor/...", outside the floor:{event}: grammar.)
limiter = Limiter(key_func=_client_of_event, default_limits=[], key_prefix="floor")


class NoDelayRequestHandler(WSGIRequestHandler):
    """Sends each small Socket.IO frame at once. Without TCP_NODELAY a frame that follows
    another waits for the client's delayed ACK: ~40 ms on Linux (bench/latency.py: approve ->
    screen p50 37 ms without, 6 ms with)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
