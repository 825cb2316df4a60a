"""Moderator login: argon2-checked passwords, CSRF-protected forms, rate-limited failures, and
remembered browsers that strangers' failures cannot lock out."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from web import floor
from web.accounts import normalise_username
from web.devices import remember, trusted_device
from web.extensions import browser_of_event, limiter, username_of_event
from web.forms import PostedForm

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

# Failed attempts (a 401) only: successes never count, so a desk that shares one address logs
# in as often as it needs. Guessing stays slow, and no stranger's failures lock a moderator out:
# - per browser: a remembered browser's own failures (web/devices.py), else the failures from
#   this address for this name. What one mistyping volunteer meets; nobody else is held back.
PER_BROWSER = "10 per minute;30 per hour"
# - per name, from browsers it has not logged in on: guessing one password from many addresses.
#   Over three times the per-browser figure an hour, so one address alone cannot fill it. A
#   remembered browser is exempt: the moderator's own laptop gets in while the name is attacked.
PER_NAME = "20 per minute;100 per hour"
# - per address, from browsers not remembered, over every name: far beyond what a desk's typos
#   reach; it bounds one address's password spraying and the argon2 work it makes us do.
PER_ADDRESS = "60 per minute;600 per hour"
# Moderators' pages are ours alone: scripts and styles from the package, sockets to the same
# host, never framed, never cached (they show unapproved posts).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def private_headers(response: Any) -> Any:
    """Headers for every moderators' page."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


bp.after_request(private_headers)


class LoginForm(PostedForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=32)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def current_moderator() -> str | None:
    """The logged-in moderator, if their session is still valid: the account exists and no
    logout, removal or new password has ended its sessions since this one began."""
    name, generation = session.get("moderator"), session.get("generation")
    if not isinstance(name, str) or not isinstance(generation, str) \
            or not floor().accounts.valid(name, generation):
        return None
    return name


def session_of_moderator() -> tuple[str, str] | None:
    """(moderator, generation) of a valid session, for those who must check it again later."""
    name = current_moderator()
    return None if name is None else (name, str(session["generation"]))


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_moderator() is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``?next=https://evil.example`` must not redirect away."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("console.index")


def _failed(response: Any) -> bool:
    return response.status_code == 401  # type: ignore[no-any-return]


def _remembered() -> bool:
    return trusted_device() is not None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(PER_BROWSER, methods=["POST"], deduct_when=_failed, key_func=browser_of_event)
@limiter.limit(PER_NAME, methods=["POST"], deduct_when=_failed, key_func=username_of_event,
               exempt_when=_remembered)
@limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_failed, exempt_when=_remembered)
def login() -> Any:
    if request.method == "GET" and current_moderator() is not None:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        accounts = floor().accounts
        username = normalise_username(form.username.data)
        if accounts.verify(username, form.password.data):
            session.clear()
            session.permanent = True
            session["moderator"] = username
            session["generation"] = accounts.generation(username)
            return remember(redirect(_safe_next(request.args.get("next"))), username)
        error = "That username and password do not match a moderator."
    elif request.method == "POST":
        error = "Please fill in both fields and try again."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error,
                           title=floor().settings.event.title), status


@bp.errorhandler(429)
def too_many(error: Any) -> Any:
    # Never the body: it may be what was refused (too large, not a form).
    return render_template(
        "login.html", form=LoginForm(read_body=False), title=floor().settings.event.title,
        error="Too many failed attempts for this name or from this network. "
              "Please wait a few minutes and try again."), 429


@bp.post("/logout")
def logout() -> Any:
    """Ends every session of this moderator, here and on every other device: a copied cookie
    is worth nothing after it."""
    moderator = current_moderator()
    if moderator is not None:
        floor().accounts.end_sessions(moderator)
    session.clear()
    return redirect(url_for("auth.login"))
