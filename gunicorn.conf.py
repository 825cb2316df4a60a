"""gunicorn's settings for Floor's web app, read by `gunicorn` started in a checkout (it reads
./gunicorn.conf.py by default; or `gunicorn -c gunicorn.conf.py`). They are written once, in
web/gunicorn_conf.py, which `floor web` serves with too and which an installed wheel carries
(`gunicorn -c python:web.gunicorn_conf`)."""

from web.gunicorn_conf import *  # noqa: F403
