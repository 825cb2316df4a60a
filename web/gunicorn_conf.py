"""gunicorn's settings for Floor's web app, in gunicorn's own config-file form: the one place
they are written. ``floor web`` serves with them (``web/serve.py`` loads this module as gunicorn
loads a config file, then sets ``bind`` and ``threads`` from its options), and so does plain
gunicorn, with the same app (``wsgi_app``, ``web/wsgi.py``):

    gunicorn -c gunicorn.conf.py -b 127.0.0.1:5000          # in a checkout (the root file)
    gunicorn -c python:web.gunicorn_conf -b 127.0.0.1:5000  # an installed wheel

Why these (docs/deployment.md, "The web server", has the measurements): Flask-SocketIO keeps
its sessions, rooms and the log tail in one process, so one worker serves an event and more
capacity is more such processes behind a sticky proxy; the thread worker with simple-websocket
needs no monkey-patching; gunicorn sets TCP_NODELAY on its listening socket.

Only gunicorn's own setting names are read from here (any other name is ignored), so the
constants are upper-case.
"""

from __future__ import annotations

from typing import Any

# Threads are made as connections come (concurrent.futures), so a high ceiling costs nothing
# until used; each screen or console holds one while connected. (`floor web --threads`, or
# gunicorn's own `--threads`.)
DEFAULT_THREADS = 1000
# Plain HTTP requests and WebSocket upgrades still being read count as connections too.
SPARE_CONNECTIONS = 100
# After a stop has hung up every client, what is left are plain requests finishing.
GRACEFUL_SECONDS = 10

wsgi_app = "web.wsgi:app"
# No `bind`: `floor web` sets it from --host and --port; plain gunicorn takes `-b HOST:PORT`,
# else its own default (0.0.0.0:$PORT when a platform sets PORT, else 127.0.0.1:8000).
workers = 1
worker_class = "web.serve.FloorWorker"
threads = DEFAULT_THREADS
graceful_timeout = GRACEFUL_SECONDS
control_socket_disable = True  # gunicorn 27 would create ~/.gunicorn/gunicorn.ctl
accesslog = None
errorlog = "-"
loglevel = "warning"
proc_name = "floor-web"


def on_starting(server: Any) -> None:
    """However ``threads`` was given (here, ``--threads``, ``floor web --threads``), accept that
    many connections and some spare."""
    server.cfg.set("worker_connections", server.cfg.threads + SPARE_CONNECTIONS)


def post_worker_init(worker: Any) -> None:
    """The app is built (``wsgi_app``, or `floor web`'s): size its socket limit by ``threads``."""
    from web.serve import size_sockets

    size_sockets(worker.cfg.threads)


def worker_exit(server: Any, worker: Any) -> None:
    from web.serve import hang_up_everyone

    hang_up_everyone()
