"""Socket.IO handlers that always answer.

A handler wrapped by ``answering`` gets its payload (None when the sender sent none) and its
reply goes back as the acknowledgement; whatever goes wrong, the caller still gets a reply that
names the problem, ``{"ok": false, "error": ...}``, never silence: a payload the handler cannot
use (``BadRequest``), the event's Redis away, or a bug of ours (logged with its traceback).
``refusing`` does the same for connect handlers, as a refusal with a reason.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import redis
from flask_socketio import ConnectionRefusedError

log = logging.getLogger("floor.web")

STORE_AWAY = "the event's store is unavailable just now; try again in a moment"


class BadRequest(ValueError):
    """A payload a handler cannot use; the message tells the sender what is wrong."""


def failure(error: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": error, **extra}


def answering(event: str, **on_failure: Any) -> Callable[[Callable[[Any], Any]],
                                                       Callable[..., Any]]:
    """Wrap the handler of ``event``; ``on_failure`` adds fields to every failure reply (what
    the page should do then, as ``reload=True``)."""

    def wrap(handler: Callable[[Any], Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def answered(*args: Any) -> Any:
            try:
                return handler(args[0] if args else None)
            except BadRequest as exc:
                return failure(str(exc), **on_failure)
            except redis.RedisError as exc:
                log.warning("socket: %s failed: the store is unavailable (%s)", event, exc)
                return failure(STORE_AWAY, retry=True, **on_failure)
            except Exception:  # noqa: BLE001 - one bug must not leave a console waiting
                log.exception("socket: %s failed", event)
                return failure(f"the server could not handle {event} (the error is in its "
                               "log)", **on_failure)

        return answered

    return wrap


def refusing(namespace: str) -> Callable[[Callable[[Any], None]], Callable[..., None]]:
    """Wrap a connect handler: a Redis outage or a bug refuses the connection with a reason
    (``{"retry": true}``, so the page tries again) instead of dropping it unexplained."""

    def wrap(handler: Callable[[Any], None]) -> Callable[..., None]:
        @functools.wraps(handler)
        def connect(auth: Any = None) -> None:
            try:
                handler(auth)
            except ConnectionRefusedError:
                raise
            except redis.RedisError as exc:
                log.warning("socket: connect to %s failed: the store is unavailable (%s)",
                            namespace, exc)
                raise ConnectionRefusedError(STORE_AWAY, {"retry": True}) from exc
            except Exception as exc:  # noqa: BLE001 - refused with a reason, and logged
                log.exception("socket: connect to %s failed", namespace)
                raise ConnectionRefusedError("the server failed to connect you (the error "
                                             "is in its log); retrying",
                                             {"retry": True}) from exc

        return connect

    return wrap
