"""The web app as a WSGI callable, ``web.wsgi:app``, for gunicorn (``web/gunicorn_conf.py``
names it) or any WSGI server: built from the environment as ``floor web`` builds it, after the
preparation every ``floor`` command makes (``.env`` from the current folder, log lines,
credentials masked). Importing it builds the app: only a server's worker should."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from web.serve import app_of_environment, boot

if TYPE_CHECKING:
    from flask import Flask


def _as_floor_does() -> Flask:
    from dotenv import load_dotenv

    from aggregator.base.environment import read_environment
    from aggregator.base.redaction import install as mask_secrets

    load_dotenv(Path.cwd() / ".env")
    if not logging.getLogger().handlers:  # under `floor web` the command has made them
        logging.basicConfig(level=logging.DEBUG if read_environment().verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    mask_secrets()
    return app_of_environment()


app = boot(_as_floor_does)
