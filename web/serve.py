"""Serve the web app in production: gunicorn, one process, one thread per open connection.

Why this server (measured: docs/deployment.md has the table): Flask-SocketIO keeps its
sessions, rooms and the log tail in one process, so one gunicorn worker (``-w 1``) serves an
event and more capacity means more such processes behind a sticky proxy. The ``gthread``
worker with simple-websocket needs no monkey-patching of Redis or our own threads (gevent
would) and, on this machine, delivered as fast. gunicorn sets TCP_NODELAY on its listening
socket, which accepted sockets inherit on Linux, so small Socket.IO frames go out at once.

An open WebSocket holds its thread until it closes, so a stop hangs up every client first: the
worker then ends at once instead of waiting out gunicorn's graceful timeout, and its exit
handlers run (the embedded Redis is released by the last process using it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("floor.web")

# Threads are made as connections come (concurrent.futures), so a high ceiling costs nothing
# until used; each screen or console holds one while connected.
DEFAULT_THREADS = 1000
# Plain HTTP requests and WebSocket upgrades still being read count as connections too.
SPARE_CONNECTIONS = 100
# After a stop has hung up every client, what is left are plain requests finishing.
GRACEFUL_SECONDS = 10
# The worker exits with this when the app cannot be built (gunicorn then stops, no restarts).
BOOT_FAILED = Arbiter.WORKER_BOOT_ERROR

_app: list[Flask] = []  # the app this worker process serves (built after the fork)


def hang_up_everyone() -> None:
    """Close every Socket.IO client of this process (their disconnect handlers run) and stop
    its background readers, so that no thread is left waiting on a client."""
    from web.extensions import socketio

    if not _app:
        return
    app = _app[0]
    floor = app.extensions["floor"]
    floor.feed.stop()
    floor.screens.stop()
    server = socketio.server
    if server is not None:
        from web.capacity import hang_up

        hang_up(server)  # not eio.disconnect(): it waits on each client (web/capacity.py)


class FloorWorker(ThreadWorker):
    """gunicorn's thread worker that hangs up its WebSocket clients when told to stop."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # SIGTERM: graceful
        super().handle_exit(sig, frame)
        threading.Thread(target=hang_up_everyone, name="hang-up", daemon=True).start()

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:  # SIGINT/SIGQUIT
        hang_up_everyone()
        super().handle_quit(sig, frame)

    def is_parent_alive(self) -> bool:
        """An orphan (`floor web` was killed) hangs up too and ends, instead of keeping its
        clients from reconnecting to a live node."""
        if super().is_parent_alive():
            return True
        threading.Thread(target=hang_up_everyone, name="hang-up", daemon=True).start()
        return False


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    def __init__(self, build: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.build = build
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Runs in the worker after the fork: the app, its Redis pool and threads are its own."""
        try:
            app = self.build()
        except Exception as exc:  # noqa: BLE001 - one line, then gunicorn stops (no restarts)
            from aggregator.base.redaction import redact

            log.error("web: cannot start: %s", redact(exc))
            sys.exit(BOOT_FAILED)
        from web.capacity import default_for

        if not app.config.get("FLOOR_SOCKETS"):  # sockets past it are refused (web/capacity.py)
            app.config["FLOOR_SOCKETS"] = default_for(self.options["threads"])
        _app[:] = [app]
        return app


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(build: Callable[[], Flask], host: str, port: int, threads: int = DEFAULT_THREADS,
          worker: str | None = None) -> int:
    """Serve the app ``build()`` makes (called in the worker process) until SIGTERM or
    SIGINT; returns 0 after a clean stop, ``BOOT_FAILED`` if the app could not be built.
    ``worker``: another gunicorn worker class (bench/latency.py measures ``gevent``)."""
    options = {
        "bind": [bind_address(host, port)],
        "workers": 1,
        "worker_class": worker or FloorWorker,
        "threads": threads,
        "worker_connections": threads + SPARE_CONNECTIONS,
        "graceful_timeout": GRACEFUL_SECONDS,
        "control_socket_disable": True,  # gunicorn 27 would create ~/.gunicorn/gunicorn.ctl
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "floor-web",
        "worker_exit": lambda server, worker: hang_up_everyone(),
    }
    arbiter = os.getpid()
    try:
        _Gunicorn(build, options).run()
    except SystemExit as exc:
        if os.getpid() != arbiter:
            raise  # the worker's own exit, on its way out of the process
        return exc.code if isinstance(exc.code, int) else 1
    return 0
