"""Serve the web app in production: gunicorn, one process, one thread per open connection.

The settings are ``web/gunicorn_conf.py``'s, loaded as gunicorn loads a config file, so
``floor web`` and ``gunicorn -c gunicorn.conf.py`` serve alike; this module holds the worker
class they name and how the app is built in the worker. Why this server (measured:
docs/deployment.md has the table) is said there.

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

from gunicorn.app.base import Application
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("floor.web")

# The worker exits with this when the app cannot be built (gunicorn then stops, no restarts).
BOOT_FAILED = Arbiter.WORKER_BOOT_ERROR

# The gunicorn settings every server of the web app uses (the config-file form of a module).
CONFIG = "python:web.gunicorn_conf"

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


def boot(build: Callable[[], Flask]) -> Flask:
    """``build()`` in the worker, after the fork (so the app, its Redis pool and its threads
    are the worker's own); if it fails, one line and the exit status that stops gunicorn (no
    restart loop)."""
    try:
        app = build()
    except Exception as exc:  # noqa: BLE001 - one line, then gunicorn stops (no restarts)
        from aggregator.base.redaction import redact

        log.error("web: cannot start: %s", redact(exc))
        sys.exit(BOOT_FAILED)
    _app[:] = [app]
    return app


def size_sockets(threads: int) -> None:
    """The most sockets this worker's app holds, from its threads, unless FLOOR_SOCKETS says
    (web/capacity.py); web/gunicorn_conf.py's post_worker_init calls it, under `floor web` and
    plain gunicorn alike."""
    from web.capacity import default_for

    if _app and not _app[0].config.get("FLOOR_SOCKETS"):
        _app[0].config["FLOOR_SOCKETS"] = default_for(threads)


def app_of_environment() -> Flask:
    """The app of this process's environment: the settings file and REDIS_URL (or the embedded
    Redis), as ``floor web`` reads them."""
    from aggregator.base.redis_server import connect
    from aggregator.base.settings import load
    from web import create_app

    return create_app(load(), connect())


class _Gunicorn(Application):  # type: ignore[misc]  # gunicorn has no type hints
    def __init__(self, build: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.build = build
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_module_name_or_filename(CONFIG)
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return boot(self.build)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def application(build: Callable[[], Flask], host: str, port: int,
                threads: int | None = None, worker: str | None = None) -> _Gunicorn:
    """The gunicorn application ``serve`` runs: the config module's settings, with ``bind``
    from ``host`` and ``port``, and ``threads`` and the worker class when given."""
    options: dict[str, Any] = {"bind": [bind_address(host, port)]}
    if threads is not None:
        options["threads"] = threads
    if worker is not None:
        options["worker_class"] = worker
    return _Gunicorn(build, options)


def serve(build: Callable[[], Flask], host: str, port: int, threads: int | None = None,
          worker: str | None = None) -> int:
    """Serve the app ``build()`` makes (called in the worker process) until SIGTERM or
    SIGINT; returns 0 after a clean stop, ``BOOT_FAILED`` if the app could not be built.
    ``worker``: another gunicorn worker class (bench/latency.py measures ``gevent``)."""
    arbiter = os.getpid()
    try:
        application(build, host, port, threads, worker).run()
    except SystemExit as exc:
        if os.getpid() != arbiter:
            raise  # the worker's own exit, on its way out of the process
        return exc.code if isinstance(exc.code, int) else 1
    return 0
