"""``floor check`` and ``floor instagram-login``: the settings, Redis and the platforms'
credentials, checked or set up before a meeting."""

from __future__ import annotations

import click

from cli.context import ConfigProblem, connect, environment, event_settings, redact


@click.command()
def check() -> None:
    """Check the settings, Redis, the moderators and each enabled source's credentials."""
    from aggregator.base.redis_server import default_data_dir
    from aggregator.ingest.sources import SourceError, source_class
    from web.accounts import Accounts

    try:
        settings = event_settings()
    except ConfigProblem as exc:  # a check's answer is 1 for any problem it finds
        raise click.ClickException(exc.message) from exc
    click.echo(f"settings: ok ({settings.path or 'built-in defaults: no config/event.toml'}), "
               f"event '{settings.event.slug}'")
    conn = connect()
    told = environment()
    where = told.redis_url or f"embedded, data in {default_data_dir()}"
    click.echo(f"redis: ok ({where})")
    problems = 0
    if not Accounts(conn, settings.event.slug).names():
        click.echo("moderators: none yet; add one with `floor moderator add NAME`")
        problems += 1
    if told.secret_key is None:
        click.echo("web: FLOOR_SECRET_KEY is not set; logins will not survive a restart")
    for name in settings.enabled_sources():
        try:
            said = source_class(name)(settings.source(name), settings.event).check()
            click.echo(redact(f"source {name}: ok ({said})"))
        except (SourceError, OSError, ValueError) as exc:
            click.echo(redact(f"source {name}: FAILED: {exc}"))
            problems += 1
        except ModuleNotFoundError as exc:  # a web node installs no platform's library
            click.echo(f"source {name}: FAILED: its client library is not installed here "
                       f"({exc}): pip install 'floor-qa[sources]'")
            problems += 1
    if not settings.enabled_sources():
        click.echo("sources: none enabled; set enabled = true under [sources.NAME]")
    if problems:
        raise SystemExit(1)


@click.command("instagram-login")
@click.argument("username")
@click.option("--session-file", type=click.Path(dir_okay=False),
              help="Where to save the session (default: INSTAGRAM_SESSION_FILE, else "
                   "instaloader's own path).")
def instagram_login(username: str, session_file: str | None) -> None:
    """Log an Instagram account in (password and two-factor code asked for here) and save the
    session that the instaloader backend of the Instagram source reads with."""
    from aggregator.ingest.sources.instagram import LoginFailed, login

    try:
        path = login(username, session_file)  # else INSTAGRAM_SESSION_FILE, else instaloader's
    except LoginFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"instagram: session for {username} saved to {path}; set username = "
               f"\"{username}\" under [sources.instagram]")


COMMANDS = (check, instagram_login)
