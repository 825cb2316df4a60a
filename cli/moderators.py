"""``floor moderator add/list/remove``: the event's moderators (``web/accounts.py``)."""

from __future__ import annotations

import sys

import click

from cli.context import connect, event_settings


@click.group()
def moderator() -> None:
    """Add, list and remove moderators."""


@moderator.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def moderator_add(username: str, password_stdin: bool) -> None:
    """Add a moderator, or set a new password for one."""
    from web.accounts import AccountError, Accounts

    # Redis and the settings first: a password typed twice for a store that is down is lost.
    accounts = Accounts(connect(), event_settings().event.slug)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        username = accounts.add(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"moderator {username}: saved")


@moderator.command("list")
def moderator_list() -> None:
    """List the moderators."""
    from web.accounts import Accounts

    names = Accounts(connect(), event_settings().event.slug).names()
    click.echo("\n".join(names) if names else "no moderators yet")


@moderator.command("remove")
@click.argument("username")
def moderator_remove(username: str) -> None:
    """Remove a moderator."""
    from web.accounts import Accounts

    if not Accounts(connect(), event_settings().event.slug).remove(username):
        raise click.ClickException(f"there is no moderator {username!r}")
    click.echo(f"moderator {username}: removed")


COMMANDS = (moderator,)
