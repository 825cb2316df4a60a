"""``floor init``, ``floor check`` and ``floor instagram-login``: the settings, Redis and the
platforms' credentials, written, checked or set up before a meeting."""

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
    from aggregator.base.redis_server import volatile

    if volatile(conn):
        click.echo(redact(f"redis: keeps nothing on disk ({where}: appendonly no, no save "
                          "points); a restart of that server loses the event"))
        problems_before = 1
    else:
        click.echo(f"redis: ok ({where})")
        problems_before = 0
    problems = problems_before
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


# What `floor init` writes: the few keys an event cannot do without, each explained; every other
# key keeps its default (config/event.example.toml lists them all).
INIT_TEMPLATE = """\
# Floor: the event's settings, written by `floor init`. Every other key, with what it does, is in
# config/event.example.toml; `floor check` names any key it does not know. Secrets (API tokens,
# FLOOR_SECRET_KEY) never go here: they come from the environment or .env.

[event]
# Short name for this event: lower-case letters, digits and dashes. Every Redis key lives under
# floor:{{slug}}:, so two events on one server never mix.
slug = {slug}
# Shown on the console and the screens.
title = {title}
# The meeting's hashtags, matched case-insensitively; the board leaves them out of questions.
# Required when X is enabled: it searches for them.
hashtags = {hashtags}
{sources}"""
SOURCE_TEMPLATE = """
[sources.{name}]
# Its credentials and every other key: README (its setup section), config/event.example.toml.
enabled = true
"""


def _toml(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)  # a JSON string or list of strings is TOML


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


@click.command()
@click.option("--slug", prompt="Event slug (e.g. apm-2026)", help="The event's short name.")
@click.option("--title", prompt="Title", help="The meeting's title, as the screens show it.")
@click.option("--hashtags", prompt="Hashtags (space-separated)", default="",
              help="The meeting's hashtags, space- or comma-separated.")
@click.option("--sources", prompt="Sources (x, facebook, instagram, youtube, rehearsal)",
              default="rehearsal", show_default=True,
              help="The platforms to read, space- or comma-separated.")
@click.option("--youtube-video-id", default="",
              help="The stream's video id (with the youtube source).")
@click.option("--force", is_flag=True, help="Replace a settings file that exists.")
def init(slug: str, title: str, hashtags: str, sources: str, youtube_video_id: str,
         force: bool) -> None:
    """Write the event's settings file (config/event.toml, or --config), commented, from these
    options or a few questions; `floor check` then checks it."""
    import os
    import tempfile
    from pathlib import Path

    from aggregator.base.platforms import OPTIONS
    from aggregator.base.settings import DEFAULT_CONFIG, ConfigError, load

    path = Path(environment().config or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise ConfigProblem(f"{path} exists already; edit it, or replace it with --force")
    names = _words(sources)
    unknown = [name for name in names if name not in OPTIONS]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: the sources are {', '.join(OPTIONS)}",
                                 param_hint="--sources")
    if "youtube" in names and not youtube_video_id:
        youtube_video_id = click.prompt("YouTube video id of the stream")
    sections = "".join(SOURCE_TEMPLATE.format(name=name) for name in names)
    if youtube_video_id:
        sections = sections.replace("[sources.youtube]\n", "[sources.youtube]\n# The stream's "
                                    f"video id.\nvideo_id = {_toml(youtube_video_id)}\n")
    text = INIT_TEMPLATE.format(slug=_toml(slug.strip()), title=_toml(title.strip()),
                                hashtags=_toml(_words(hashtags)), sources=sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, draft = tempfile.mkstemp(prefix=".event-", suffix=".toml", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    try:
        load(draft)  # what `floor run` will read: refused here, not at the meeting
    except ConfigError as exc:
        os.unlink(draft)
        raise ConfigProblem(f"not written: {exc}") from exc
    os.replace(draft, path)
    click.echo(f"wrote {path} (event '{slug.strip()}'); check it with `floor check`, then "
               "`floor moderator add NAME` and `floor run`")


COMMANDS = (init, check, instagram_login)
