"""Flask extensions, made unbound here and bound in ``create_app``; and the request handler the
web server runs them with."""

import socket

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect
from werkzeug.serving import WSGIRequestHandler

socketio = SocketIO()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://")


class NoDelayRequestHandler(WSGIRequestHandler):
    """Sends each small Socket.IO frame at once. Without TCP_NODELAY a frame that follows
    another waits for the client's delayed ACK: ~40 ms on Linux (bench/latency.py: approve ->
    screen p50 37 ms without, 6 ms with)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
