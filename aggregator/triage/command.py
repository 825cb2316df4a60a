"""``floor triage``: run the triage worker for the event in the settings."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import click

from aggregator.redis_server import RedisUnavailable, connect
from aggregator.settings import ConfigError, load

log = logging.getLogger("floor.triage")
NICENESS = 10


@click.command()
@click.option("--once", is_flag=True, help="Triage what is in the log now, report and exit.")
def triage(once: bool) -> None:
    """Run the triage worker: question scores, abuse, personal data, suggested repeats."""
    from aggregator.triage.worker import TriageWorker

    try:
        settings = load()
        conn = connect()
    except (ConfigError, RedisUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.triage.enabled:
        raise click.ClickException("[triage] enabled = false in the settings")
    # Triage is background work: on a busy machine the pollers and the web app go first, so
    # ingest keeps its speed and triage catches up when the burst is over.
    os.nice(NICENESS)
    worker = TriageWorker(conn, settings.event.slug, settings.triage)
    if once:
        worker.setup()
        worker.drain()
        click.echo(f"triage: {worker.progress.triaged} posts triaged, "
                   f"{worker.progress.entries} log entries read")
        return
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    worker.run(stop)
    log.info("triage: stopped")
