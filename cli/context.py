"""What every ``floor`` command runs with: the environment, the event's settings, its Redis, the
stop signals, and ``ConfigProblem``, the error that tells ``floor run`` not to restart it.

Only click is imported here, and the command modules import only this and click: each
function imports its stack when it is called (even logging and the masking of secrets, 10 ms
together), so ``floor --help`` answers at once and no command module loads Flask.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import logging

    import redis

    from aggregator.base.environment import Environment
    from aggregator.base.settings import Settings

# The exit status of a command that cannot work as configured (sysexits' EX_CONFIG: bad
# settings, a port in use); `floor run` stops instead of restarting it (cli/supervisor.py).
EX_CONFIG = 78


class ConfigProblem(click.ClickException):
    """The command cannot work as configured; `floor run` stops instead of restarting it."""

    exit_code = EX_CONFIG


def environment() -> Environment:
    """The process's environment (aggregator/base/environment.py), or one line per variable
    that cannot be used."""
    from aggregator.base.environment import EnvironmentProblem, read_environment

    try:
        return read_environment()
    except EnvironmentProblem as exc:
        raise ConfigProblem(f"the environment: {exc}") from exc


def event_settings() -> Settings:
    from aggregator.base.settings import ConfigError, load

    try:
        return load()
    except ConfigError as exc:
        raise ConfigProblem(f"the settings have problems:\n{exc}") from exc


def connect(data_dir: Path | None = None, warn: bool = False) -> redis.Redis:
    """The event's Redis; one line if it cannot be had (exit 78 for an unusable data folder:
    nothing will change until someone changes it). ``warn``: say so if the server keeps
    nothing on disk (for the commands that hold the meeting, once: not every command)."""
    from aggregator.base.redis_server import DataDirUnusable, RedisUnavailable, warn_if_volatile
    from aggregator.base.redis_server import connect as redis_client

    try:
        conn = redis_client(data_dir=data_dir)
        if warn:
            warn_if_volatile(conn)
        return conn
    except DataDirUnusable as exc:
        raise ConfigProblem(str(exc)) from exc
    except RedisUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def usable_data_dir() -> None:
    """Without REDIS_URL, the embedded Redis's data folder can be made and written, or one line
    and exit 78: for a command that would only find out after starting other processes."""
    from aggregator.base.redis_server import DataDirUnusable, check_data_dir

    if environment().redis_url:
        return
    try:
        check_data_dir()
    except DataDirUnusable as exc:
        raise ConfigProblem(str(exc)) from exc


def on_signals(first: Callable[[], None]) -> None:
    """SIGINT/SIGTERM call ``first`` once (a graceful stop); a second signal exits at once."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            raise SystemExit(128 + signum)
        received.append(signum)
        first()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def log() -> logging.Logger:
    """The commands' logger."""
    import logging

    return logging.getLogger("floor")


def redact(text: BaseException | str) -> str:
    """``text`` with every credential masked (aggregator/base/redaction.py)."""
    from aggregator.base.redaction import redact as masked

    return masked(text)
