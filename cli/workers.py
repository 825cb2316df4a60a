"""``floor poll``, ``floor triage`` and ``floor ledger``: the processes beside the web app. They
import ``aggregator`` only, never Flask (tests/test_cli.py checks): a poller per source, and the
log's followers, each run by ``aggregator/followers/loop.py``'s loop.

A poller of a source the settings do not enable, and the triage worker when ``[triage] enabled
= false``, wait quietly for their stop signal instead of exiting: a Procfile runner (honcho,
foreman, a PaaS) or a systemd unit starts every line it has, and most stop everything when one
process exits. So the one Procfile (and one unit per process) serves every event, and the
settings alone say what runs, as they do for ``floor run`` (docs/deployment.md, "Procfile").
"""

from __future__ import annotations

import os
import threading

import click

from cli.context import ConfigProblem, connect, event_settings, log, on_signals, plural, redact


def idle(why: str) -> None:
    """Say once why this process has nothing to do, then wait for SIGTERM/SIGINT and exit 0."""
    log().info("%s; waiting for a stop signal (change the settings, then restart this process "
               "to run it)", why)
    stop = threading.Event()
    on_signals(stop.set)
    stop.wait()


def missing_extra(extra: str, what: str, error: ModuleNotFoundError,
                  otherwise: str = "") -> ConfigProblem:
    """A process whose packages are not installed (a web node installs none: pyproject.toml's
    extras): which extra to install. A module of Floor's own that is missing is a bug, raised."""
    if (error.name or "").split(".")[0] in ("aggregator", "web", "cli"):
        raise error
    return ConfigProblem(f"{what} needs the {extra} extra, not installed here ({error}): "
                         f"pip install 'floor-qa[{extra}]'" + (f" ({otherwise})" if otherwise
                                                               else ""))


@click.command()
@click.argument("source")
@click.option("--once", is_flag=True, help="Poll one time, report and exit (1 if it failed).")
@click.option("--force", is_flag=True,
              help="Poll SOURCE even though the settings do not enable it (rehearsal's invented "
                   "posts included).")
@click.option("--quiet", is_flag=True,
              help="Log each poll only with -v; problems always (as `floor run` runs pollers).")
def poll(source: str, once: bool, force: bool, quiet: bool) -> None:
    """Run the poller of SOURCE, as the config names it: [sources.SOURCE] (an unknown name gets
    the list of known ones). A source that is not enabled waits quietly for a stop signal (as
    a Procfile runner needs), unless --once or --force."""
    from aggregator.base.platforms import OPTIONS

    settings = event_settings()
    if source in OPTIONS and not settings.source(source).enabled and not (once or force):
        return idle(f"poller {source}: [sources.{source}] is not enabled")  # nor its library

    import logging

    from aggregator.core.store import Store
    from aggregator.ingest.poller import Poller
    from aggregator.ingest.sources import SourceError, registry, source_class

    try:
        kind = source_class(source)  # imports this platform's client library alone
    except KeyError:
        known = ", ".join(sorted(registry()))
        raise ConfigProblem(f"unknown source {source!r}; known: {known}") from None
    except ModuleNotFoundError as exc:
        raise missing_extra("sources", f"the {source} source", exc) from exc
    if kind.invented and not settings.source(source).enabled and not force:
        raise ConfigProblem(
            f"[sources.{source}] is not enabled, and its posts are invented: they would be "
            f"stored in event '{settings.event.slug}'. Set enabled = true under "
            f"[sources.{source}], or pass --force")
    try:
        reader = kind(settings.source(source), settings.event)
    except (SourceError, OSError, ValueError) as exc:
        raise ConfigProblem(f"cannot start source {source}: {redact(exc)}") from exc
    if quiet and not log().isEnabledFor(logging.DEBUG):
        logging.getLogger("floor.poller").setLevel(logging.WARNING)
    poller = Poller(reader, Store(connect(), settings.event.slug))
    if once:
        result = poller.poll_once()
        error = f"; error: {result.error}" if result.error else ""
        click.echo(redact(f"{source}: stored {result.stored}, dead letters {result.dead}, "
                          f"skipped {result.skipped}{error}"))
        if result.error:
            raise SystemExit(1)
        return
    stop = threading.Event()
    on_signals(stop.set)
    poller.run(stop)


@click.command()
@click.option("--once", is_flag=True, help="Triage what the log holds now, report and exit.")
def triage(once: bool) -> None:
    """Run the triage worker: question scores, abuse, personal data, suggested repeats. With
    [triage] enabled = false it waits quietly for a stop signal (--once: exit status 78)."""
    settings = event_settings()
    if not settings.triage.enabled:
        if once:
            raise ConfigProblem("[triage] enabled = false in the settings")
        return idle("triage: [triage] enabled = false in the settings")  # nor scikit-learn
    from aggregator.followers.loop import follow

    try:
        from aggregator.followers.triage.semantic import BackendMissing
        from aggregator.followers.triage.worker import NICENESS, TriageWorker
    except ModuleNotFoundError as exc:
        raise missing_extra("triage", "the triage worker", exc,
                            "or set [triage] enabled = false") from exc

    try:
        worker = TriageWorker(connect(), settings.event.slug, settings.triage)
    except BackendMissing as exc:
        raise ConfigProblem(str(exc)) from exc
    if once:
        worker.setup()
        worker.drain()
        click.echo(f"triage: {plural(worker.progress.triaged, 'post')} triaged")
        return
    # Background work: on a busy machine the pollers and the web app go first, so ingest keeps
    # its speed and triage catches up when the burst is over.
    os.nice(NICENESS)
    stop = threading.Event()
    on_signals(stop.set)
    follow(worker, stop)


@click.command()
def ledger() -> None:
    """Follow the log and chain every entry into the ledger (started by `floor run`); also
    purges personal data once a day when [retention] automatic is on and the day has come."""
    from aggregator.followers.ledger import Ledger
    from aggregator.followers.loop import follow
    from aggregator.followers.retention import AutoPurge

    settings = event_settings()
    conn = connect()
    stop = threading.Event()
    on_signals(stop.set)
    auto = AutoPurge(conn, settings)
    watcher = threading.Thread(target=auto.run, args=(stop,), name="auto-purge", daemon=True)
    watcher.start()
    follow(Ledger(conn, settings.event.slug), stop)
    watcher.join(timeout=5)


COMMANDS = (poll, triage, ledger)
