"""``floor run``, ``floor demo`` and ``floor web``: the meeting's processes on one machine, and the
web app on a production server.

``floor run`` starts ``floor web``, a ``floor poll`` for every enabled source and the log's
followers (``cli/workers.py``) as child processes and watches them (``cli/supervisor.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.context import (
    ConfigProblem,
    connect,
    environment,
    event_settings,
    log,
    plural,
    redact,
    usable_data_dir,
)

if TYPE_CHECKING:
    import redis
    from flask import Flask

    from aggregator.base.settings import Settings

# What the commands need (even the standard library's secrets, shutil, tempfile: 5 to 20 ms)
# is imported when they run: `floor --help` imports this module.
PORT = click.IntRange(1, 65535)
# `floor run` prints a one-line summary of the event this often (per-poll lines are debug).
SUMMARY_EVERY = 60.0


def _can_listen(host: str, port: int) -> None:
    from cli.supervisor import listen_problem

    problem = listen_problem(host, port)
    if problem:
        raise ConfigProblem(f"cannot listen on {host}:{port}: {problem}")


def _floor(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _summary(conn: redis.Redis, event: str, sources: list[str]) -> Callable[[], None]:
    """A one-line account of the event for `floor run`'s terminal, once a minute: its questions
    and the state of the sources this run polls (a record left by a `floor poll x --once`, of
    a source this run does not poll, is no standing state of the meeting)."""
    import redis

    from aggregator.base.keys import Keys
    from aggregator.ingest.health import Health

    keys, health = Keys(event), Health(conn, event)
    seen = [-1]

    def report() -> None:
        try:
            total = int(conn.zcard(keys.questions))
            records = health.all()
        except redis.RedisError as exc:
            log().warning("run: no summary now: %s", redact(exc))
            return
        states = ", ".join(f"{name} {records.get(name, {}).get('state', 'starting')}"
                           for name in sources) or "none"
        new = f" (+{total - seen[0]} this minute)" if seen[0] >= 0 else ""
        seen[0] = total
        log().info("run: %s so far%s; sources: %s", plural(total, "question"), new, states)

    return report


def _run(settings: Settings, conn: redis.Redis, host: str, port: int, banner: str = "") -> int:
    from aggregator.followers.loop import expected
    from cli.supervisor import Supervisor

    commands = {"web": _floor("web", "--host", host, "--port", str(port), "--supervised")}
    for name in expected(settings):  # the log's followers: the ledger, triage if enabled
        commands[name] = _floor(name)
    for name in settings.enabled_sources():
        commands[f"poll {name}"] = _floor("poll", name, "--quiet")
    if not settings.enabled_sources():
        log().warning("run: no source is enabled in the settings; only the web app runs")
    supervisor = Supervisor(commands)
    supervisor.start_all()
    if supervisor.wait_for_port("web", host, port):
        click.echo(banner or f"\n  Floor: http://{host}:{port}/console  (Ctrl-C to stop)\n")
        sys.stdout.flush()
    elif not supervisor.stopping.is_set():
        code = supervisor.children["web"].poll()
        supervisor.stop()
        raise ConfigProblem(f"the web app did not start on {host}:{port} (exit status {code}); "
                            "its error is above")
    return supervisor.watch(_summary(conn, settings.event.slug, settings.enabled_sources()),
                            SUMMARY_EVERY)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT)
def run(host: str, port: int) -> None:
    """Run the web app and a poller for every enabled source, on this machine."""
    import secrets

    from aggregator.base.redis_server import release

    settings = event_settings()
    if not settings.path:  # the built-in defaults are the demo's, not a meeting's
        raise ConfigProblem("no config/event.toml here: write one with `floor init` (or name "
                            "one with --config; `floor demo` runs a rehearsal)")
    _can_listen(host, port)
    conn = connect(warn=True)  # the embedded server, if any, lives as long as this process
    # One key for every web process of this run, so a restarted one keeps the logins.
    if environment().secret_key is None:
        os.environ["FLOOR_SECRET_KEY"] = secrets.token_hex(32)
    try:
        code = _run(settings, conn, host, port)
    finally:
        release(conn)
    raise SystemExit(code)


def _free_port(host: str, start: int) -> int:
    from cli.supervisor import listen_problem

    for port in range(start, min(start + 100, 65536)):
        if listen_problem(host, port) is None:
            return port
    raise ConfigProblem(f"no free port between {start} and {min(start + 99, 65535)}")


DEMO_CONFIG = """\
[event]
slug = "demo"
title = "Riverside Health & Ambulance Trust: Annual Public Meeting (rehearsal)"
hashtags = ["#APM2026"]

[chair]
board_members = ["the Chair", "the Chief Executive", "the Finance Director",
                 "the Medical Director"]

[agenda]
items = [
  {{ id = "response-times", title = "Response times", keywords = ["ambulance", "waited"] }},
  {{ id = "finance", title = "Finance", keywords = ["money", "deficit", "budget", "cost"] }},
  {{ id = "staff", title = "Staff and crews", keywords = ["staff", "crews", "paramedic"] }},
]

[sources.rehearsal]
enabled = true
speed = {speed}
"""


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT, help="First port to try.")
@click.option("--speed", default=10.0, show_default=True,
              help="How much faster than real time the rehearsal meeting plays (0: at once).")
def demo(host: str, port: int, speed: float) -> None:
    """A whole rehearsal on this machine: embedded Redis, the console and the rehearsal feed,
    in a throwaway folder. Prints the console's address, a moderator login and the links of
    the board screen and the stream overlay."""
    import secrets
    import shutil
    import tempfile

    from aggregator.base.redis_server import release
    from web.accounts import Accounts
    from web.screen_links import ScreenLinks

    port = _free_port(host, port)
    folder = Path(tempfile.mkdtemp(prefix="floor-demo-"))
    try:
        (folder / "event.toml").write_text(DEMO_CONFIG.format(speed=speed), encoding="utf-8")
        os.environ.update(FLOOR_CONFIG=str(folder / "event.toml"),
                          FLOOR_DATA_DIR=str(folder / "data"),
                          FLOOR_SECRET_KEY=secrets.token_hex(32))
        os.environ.pop("REDIS_URL", None)
        settings = event_settings()
        conn = connect(folder / "data")
        password = secrets.token_urlsafe(12)
        Accounts(conn, settings.event.slug).add("demo", password)
        # The links are made here, in the demo's own event: a link from `floor screen-link`
        # in another terminal belongs to another event.
        links = ScreenLinks(conn, settings.event.slug)
        board, _ = links.create("demo board", "screen")
        overlay, _ = links.create("demo overlay", "overlay")
        chair, _ = links.create("demo chair", "chair")
        base = f"http://{host}:{port}"
        banner = (f"\n  Floor demo: {settings.event.title}\n"
                  f"  Console:   {base}/console\n"
                  f"  Log in as: demo / {password}\n"
                  f"  Board:     {base}/screen/{board}\n"
                  f"  Overlay:   {base}/overlay/{overlay}\n"
                  f"  Chair:     {base}/chair/{chair}\n"
                  f"  Rehearsal feed at {speed:g}x; data in {folder} (removed at the end).\n"
                  f"  Press Ctrl-C to stop.\n")
        try:
            code = _run(settings, conn, host, port, banner)
        finally:
            release(conn)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(code)



@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT, help="Port to listen on.")
@click.option("--threads", default=1000, show_default=True, type=click.IntRange(8, 10000),
              help="Most connections served at once (each open console or screen holds one).")
@click.option("--supervised", is_flag=True, hidden=True,
              help="Started by `floor run`, which has said what there is to say about Redis.")
def web(host: str, port: int, threads: int, supervised: bool) -> None:
    """Run the web app (console and screens) on a production server (gunicorn, one process)."""
    _can_listen(host, port)  # before Redis and the app: a port in use is one line at once
    from web.serve import BOOT_FAILED, serve

    settings = event_settings()
    usable_data_dir()  # the embedded Redis starts in the server's worker: check its folder now
    # An unreachable REDIS_URL is one line here, before the fork; redis-py gives the worker
    # fresh connections. The embedded Redis is joined in the worker alone, so that it is
    # released when that process ends, as the last user of it.
    conn = connect(warn=not supervised) if environment().redis_url else None

    def build() -> Flask:  # in the server's worker process, after the fork
        from web import create_app

        return create_app(settings, conn if conn is not None else connect())

    log().info("web: serving http://%s:%d/console", host, port)
    code = serve(build, host, port, threads)
    if code == BOOT_FAILED:
        raise click.ClickException("the web app did not start; its error is above")
    if code:
        raise SystemExit(code)
    log().info("web: stopped")



COMMANDS = (run, demo, web)
