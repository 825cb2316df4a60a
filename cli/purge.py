"""``floor purge``: personal data deleted once the retention period is over
(``aggregator/followers/retention.py``); ``floor ledger`` runs the same purge daily when
``[retention] automatic`` is on."""

from __future__ import annotations

import click

from cli.context import connect, event_settings


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--now", "force", is_flag=True,
              help="Purge even though purge_after_days have not passed yet.")
@click.option("--if-due", is_flag=True,
              help="Purge if the day has come, else exit quietly (for a daily cron job).")
@click.option("--rewrite-redis-files", "rewrite_files", is_flag=True,
              help="With REDIS_URL: have that server rewrite its append-only file and snapshot "
                   "too (the embedded Redis always does). Not its replicas or backups.")
def purge(dry_run: bool, force: bool, if_due: bool, rewrite_files: bool) -> None:
    """Delete personal data from Redis once [retention] purge_after_days have passed since the
    meeting: names, handles, links, raw payloads, the text of withheld questions, and the phone
    numbers, NHS numbers, emails and addresses in every text kept; then the embedded Redis
    rewrites its files so that none of it stays on disk."""
    from aggregator.base.redis_server import RewriteFailed, embedded_data_dir
    from aggregator.followers.retention import Retention

    settings = event_settings()
    conn = connect()
    retention = Retention(conn, settings)
    due = retention.due()
    if not force and not dry_run and not retention.is_due():
        if if_due:
            return
        raise click.ClickException(f"not due yet: personal data is purged from {due} on "
                                   "(use --now to purge earlier)")
    try:
        report = retention.purge(dry_run=dry_run, rewrite_files=rewrite_files,
                                 say=lambda line: click.echo(f"disk: {line}"))
    except RewriteFailed as exc:
        again = "floor purge --now" if embedded_data_dir(conn) else \
            "floor purge --now --rewrite-redis-files"
        raise click.ClickException(f"personal data is deleted from Redis, but NOT yet from its "
                                   f"files: {exc}. Run `{again}` again.") from exc
    verb = "would purge" if dry_run else "purged"
    for line in report.lines():
        click.echo(f"{verb}: {line}")
    if dry_run:
        click.echo(f"(dry run; due {due})")
    elif not rewrite_files and embedded_data_dir(conn) is None:
        click.echo("disk: REDIS_URL's server still holds the purged values in its append-only "
                   "file and snapshot until it rewrites them (--rewrite-redis-files asks it "
                   "to), and in its replicas' files and any backups: see docs/deployment.md, "
                   "\"After a purge\"")


COMMANDS = (purge,)
