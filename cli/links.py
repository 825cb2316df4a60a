"""``floor screen-link`` and ``floor control-token``: the secret links of the board screens, the
overlay and the chair's view (``web/screen_links.py``), and the remote controls' tokens
(``web/control.py``). Floor keeps only a hash of each: a link or token is shown once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.context import connect, environment, event_settings

if TYPE_CHECKING:
    from web.screen_links import ScreenLinks


def _links() -> ScreenLinks:
    from web.screen_links import ScreenLinks

    return ScreenLinks(connect(), event_settings().event.slug)


@click.group("screen-link")
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
@click.option("--base-url",
              help="Where the web app is reached from the screen's browser, e.g. "
                   "http://192.168.1.20:5002 (default: FLOOR_BASE_URL, else the address of "
                   "[screen] ask_url).")
def screen_link_create(label: str, kind: str, base_url: str | None) -> None:
    """Make a new link, labelled LABEL (e.g. "top table"), and print it.

    The link is shown this once: Floor keeps only a hash of it.
    """
    base_url = base_url or _base_url()
    secret, link = _links().create(label, kind)
    click.echo(f"{link.kind} link {link.id} ({link.label}):")
    click.echo(f"{base_url.rstrip('/')}/{link.kind}/{secret}")


def _base_url() -> str:
    """Where the web app is reached, from the environment or the settings; asked for when
    neither says (the port `floor run --port` or `floor web --port` chose is known to them
    alone, and a guess prints a link that leads nowhere)."""
    told = environment().base_url
    if told:
        return told
    ask_url = event_settings().screen.ask_url.rstrip("/")
    if ask_url.endswith("/ask"):
        return ask_url[:-len("/ask")]
    raise click.UsageError("where do the screens reach Floor? Give --base-url (e.g. "
                           "http://127.0.0.1:5000, with the port `floor run` or `floor web` "
                           "listens on) or set FLOOR_BASE_URL")


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

@click.group("control-token")
def control_token() -> None:
    """Make, list and revoke the tokens of remote controls (Stream Deck, Companion)."""


def _control_tokens() -> Any:
    from web.control import ControlTokens

    return ControlTokens(connect(), event_settings().event.slug)


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


COMMANDS = (screen_link, control_token)
