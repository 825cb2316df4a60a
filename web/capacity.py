"""The Socket.IO connections one web process holds: how many, the refusal past that, and
hanging up on all of them when the process stops.

Under gunicorn's thread worker (web/serve.py) every open WebSocket holds a thread until it
closes. With as many sockets as threads, the last thread taken left none for HTTP: at about a
thousand screens a moderator's ``GET /login`` never answered (issue 26). So a process takes at
most ``FLOOR_SOCKETS`` connections (default: its threads less ``HTTP_THREADS``, kept for pages,
``/control``, health and metrics); a screen past that is refused at once with words the page
shows (``{"retry": true, "full": true}``) and tries again a few seconds later (behind nginx,
possibly on another node). A console is let in up to ``CONSOLE_RESERVE`` more, so moderators
can still work while the public fills the node. The refused socket's transport is closed by the
server too, so a client that keeps it open cannot hold the thread.

At a stop, python-engineio's ``disconnect()`` closes the sockets one by one and waits on each
socket's queue until its writer has sent everything (``Queue.join``). A polling client that
is gone never fetches again, so that wait had no end: after a 990-screen run the worker was
stuck there, deaf to SIGTERM (issue 26). ``hang_up`` closes every socket without waiting (the
disconnect handlers still run, a CLOSE packet is queued for each) and then gives the writers
a bounded moment to send it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError

from web.extensions import socketio

log = logging.getLogger("floor.web")

# The threads of `floor web` by default (web/gunicorn_conf.py DEFAULT_THREADS), less those kept
# for HTTP.
HTTP_THREADS = 100
DEFAULT_SOCKETS = 1000 - HTTP_THREADS
CONSOLE_RESERVE = 20
# A refused client closes its transport itself; past this the server closes it.
CLOSE_REFUSED_SECONDS = 2.0


def limit() -> int:
    """``FLOOR_SOCKETS``, else what web/serve.py set from its threads, else the default's."""
    return int(current_app.config.get("FLOOR_SOCKETS") or DEFAULT_SOCKETS)


def held() -> int:
    """The Socket.IO sessions this process holds now, in every namespace (the one connecting
    included). Sessions, not Engine.IO sockets: a burst of connections still being set up
    would count against the limit and turn screens away below it."""
    server = socketio.server
    if server is None:
        return 0
    rooms = server.manager.rooms
    return sum(len(rooms[namespace].get(None) or ()) for namespace in list(rooms))


@socketio.on("connect")
def refuse_the_default_namespace(auth: Any = None) -> bool:
    """Floor serves no one on Socket.IO's default namespace, which python-socketio accepts
    unless told otherwise: a session there, opened by anyone without a login or a link, would
    count against the limit above, and enough of them would turn every screen away."""
    return False


def refuse_if_full(reserve: int = 0) -> None:
    """Raise the refusal if this process holds more than its limit (+ ``reserve``)."""
    most = limit() + reserve
    now = held()
    if now <= most:
        return
    _say_refused(request.namespace, now, most)  # type: ignore[attr-defined]
    _close_later(request.sid, request.namespace)  # type: ignore[attr-defined]
    raise ConnectionRefusedError(
        f"this server is full ({most} connections); trying again in a few seconds",
        {"retry": True, "full": True})


class _Refusals:
    """How many were refused since the last line logged: a full node refuses hundreds a
    minute, and one line every ``EVERY`` seconds says as much as a line each."""

    EVERY = 10.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since = 0
        self.logged_at = -self.EVERY

    def count(self) -> int:
        """The refusals to report now (this one included), or 0 to stay quiet."""
        with self.lock:
            self.since += 1
            now = time.monotonic()
            if now - self.logged_at < self.EVERY:
                return 0
            count, self.since, self.logged_at = self.since, 0, now
            return count


_refusals = _Refusals()


def _say_refused(namespace: str, held_now: int, most: int) -> None:
    count = _refusals.count()
    if count:
        log.warning("socket: refused %d connection(s) (the last to %s): %d held, the limit is "
                    "%d", count, namespace, held_now, most)


def _close_later(sid: str, namespace: str) -> None:
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
    if eio_sid is None:
        return

    def close() -> None:
        socketio.sleep(CLOSE_REFUSED_SECONDS)
        client = server.eio.sockets.get(eio_sid)
        if client is not None:
            _close_at_once(server.eio, client)
            server.eio.sockets.pop(eio_sid, None)

    socketio.start_background_task(close)


def default_for(threads: int) -> int:
    """The limit of a process with ``threads`` threads (web/serve.py)."""
    return max(threads - HTTP_THREADS, threads // 2)


# How long a stop waits for the sockets' writers to send their CLOSE packets, in all.
FLUSH_SECONDS = 2.0


def _close_at_once(eio: Any, client: Any) -> None:
    """Close one Engine.IO socket without waiting for its client to fetch the CLOSE packet
    (Engine.IO's own ``disconnect`` waits, and a polling client that went away never fetches:
    the wait, and the socket, would never end)."""
    try:
        client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    except Exception:  # noqa: BLE001 - one broken socket must not keep the rest open
        log.exception("socket: closing %s failed", getattr(client, "sid", "?"))


def hang_up(server: Any, flush: float = FLUSH_SECONDS) -> int:
    """Close every Engine.IO socket of ``server`` (a python-socketio server) without waiting
    on any one client; returns how many were open."""
    eio = server.eio
    sockets = list(eio.sockets.values())
    for client in sockets:
        _close_at_once(eio, client)
    deadline = time.monotonic() + flush
    for client in sockets:
        while getattr(client.queue, "unfinished_tasks", 0) and time.monotonic() < deadline:
            time.sleep(0.01)
    eio.sockets = {}
    return len(sockets)
