"""Credentials never leave a Floor process: every text it shows or keeps passes ``redact``.

Client libraries quote their requests in errors and debug logs: facebook-sdk and the Graph API
put ``access_token=`` in URLs, Google's client ``key=``, tweepy logs its ``Authorization:
Bearer`` header. ``redact`` masks those shapes and, whatever the shape, the value of every
secret the environment configures (any platform's token, the session key, a Redis password).
``install`` puts it on the logging output and on uncaught exceptions at process start, so no
log line and no traceback can print a token; the command line, the health records and the
export call ``redact`` on what they print or store.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
# Besides the variables the environment object marks secret (aggregator/base/environment.py), any
# variable whose name says it holds a secret is masked too, so a new source's token is covered
# before it is declared.
SECRET_NAME = re.compile(r"(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|SECRET_KEY)$")
# Shorter values would mask ordinary words and numbers everywhere; real tokens are far longer.
MIN_SECRET = 8

# A parameter that carries a credential, in a URL's query or a form body: masked wherever it is.
_PARAMETER = re.compile(
    r"(?i)((?:access_token|client_secret|appsecret_proof|sessionid|refresh_token|id_token|key)=)"
    r"[^&\s'\"<>)\]}]+")
# Names that are credentials only inside a URL's query (these are also ordinary words).
_QUERY = re.compile(r"(?i)([?&;](?:api_key|apikey|token|secret|password|sig|signature|"
                    r"auth|code)=)[^&\s'\"<>)\]}#]+")
_SCHEME = re.compile(r"(?i)\b((?:Bearer|OAuth)\s+)[A-Za-z0-9._~+/%=-]{8,}")
# A URL's user info (redis://user:password@host): all of it, as some put the password first.
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
# Token shapes of the platforms, in case one arrives other than through our environment:
# Meta access tokens (EAA...), Google API keys (AIza...), X app bearer tokens (AAAA...%...).
_SHAPES = re.compile(r"\b(?:EAA[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}|A{10,}[A-Za-z0-9%]{20,})")


def secret_values(environ: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """The configured secrets' values, longest first (so a secret containing another is
    masked whole)."""
    # Imported here, not at the top: `floor --help` imports this module and must not pay for
    # pydantic.
    from aggregator.base.environment import SECRET_VARIABLES

    env = os.environ if environ is None else environ
    values = {value.strip() for name, value in env.items()
              if (name in SECRET_VARIABLES or SECRET_NAME.search(name.upper()))
              and len(value.strip()) >= MIN_SECRET}
    try:
        password = urlsplit(env.get("REDIS_URL", "")).password or ""
    except ValueError:
        password = ""
    if len(password) >= MIN_SECRET:
        values.add(password)
    return sorted(values, key=len, reverse=True)


def redact(text: BaseException | str) -> str:
    """``text`` (or an error's message) fit to show or store: every credential masked, never
    empty for an error without a message."""
    if isinstance(text, BaseException):
        said = str(text) or type(text).__name__
    else:
        said = str(text)
    for value in secret_values():
        said = said.replace(value, MASK)
    said = _PARAMETER.sub(r"\1" + MASK, said)
    said = _QUERY.sub(r"\1" + MASK, said)
    said = _SCHEME.sub(r"\1" + MASK, said)
    said = _USERINFO.sub(r"\1" + MASK + "@", said)
    return _SHAPES.sub(MASK, said)


class RedactingFormatter(logging.Formatter):
    """Masks the whole formatted record: message, arguments, traceback and stack alike."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def install(logger: logging.Logger | None = None) -> None:
    """Mask every handler's output on ``logger`` (default: the root logger, where every
    library's records end up) and the tracebacks of uncaught exceptions, in any thread."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _excepthook(kind: type[BaseException], error: BaseException,
                tb: TracebackType | None) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, tb))))


def _thread_excepthook(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    name = getattr(args.thread, "name", "?")
    sys.stderr.write(f"Exception in thread {name}:\n" + redact("".join(
        traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))))
