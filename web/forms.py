"""The base of Floor's HTML forms (the question form, the login): what of a request they read."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm


class PostedForm(FlaskForm):
    """A form filled from a POST's form fields, and from nothing else.

    Flask-WTF would also fill a form from a JSON body, where a list or a number fails with a
    server error; an HTML form only ever posts fields. An error page builds its form with
    ``read_body=False``: the body may be what caused the error (too large, malformed), and
    reading it again would fail inside the error handler.
    """

    def __init__(self, *, read_body: bool = True, **kwargs: Any) -> None:
        posted = read_body and request.method == "POST"
        super().__init__(formdata=request.form if posted else None, **kwargs)
