"""Remembered browsers ("device cookies", as OWASP's authentication guidance calls them).

A successful login sets a signed cookie naming the moderator, their trust generation
(``Accounts.trust_generation``) and a random id for the browser. When that browser tries that
name again, the limits that strangers can fill (per username, per address) do not apply to it:
only its own failures count against it, under its id. So a moderator whose name is under attack
still gets in from a browser they have logged in on before, from any address. Logging out
leaves the cookie; a new password or removal revokes it.

The cookie is signed with the app's secret key (it cannot be made or altered without it) and
salted with the event, and it is HttpOnly, SameSite=Strict, sent to ``/login`` only, and Secure
under FLOOR_HTTPS.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import current_app, g, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from web import floor
from web.accounts import normalise_username

COOKIE = "floor_device"
# Long enough to carry a browser from a rehearsal weeks ahead to the meeting; each login renews it.
LIFETIME = timedelta(days=30)


def attempted_name() -> str:
    """The username a login form names, in its one spelling (capped: it becomes a limit key)."""
    return normalise_username(str(request.form.get("username") or ""))[:64]


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "",
                                  salt=f"floor-device {floor().settings.event.slug}")


def trusted_device() -> str | None:
    """This browser's id, if its cookie says the name this login attempt names logged in on it
    and has had no new password or removal since; else None. Read once a request."""
    if "trusted_device" not in g:
        g.trusted_device = _read_cookie(attempted_name())
    return g.trusted_device  # type: ignore[no-any-return]


def _read_cookie(name: str) -> str | None:
    value = request.cookies.get(COOKIE)
    if not value or not name:
        return None
    try:
        held = _signer().loads(value, max_age=int(LIFETIME.total_seconds()))
    except BadSignature:  # also when it has expired
        return None
    if not isinstance(held, dict) or held.get("name") != name \
            or held.get("trust") != floor().accounts.trust_generation(name):
        return None
    device = held.get("device")
    return device if isinstance(device, str) else None


def remember(response: Any, name: str) -> Any:
    """Set the cookie that trusts this browser for ``name`` (who has just logged in)."""
    value = _signer().dumps({"name": name, "device": secrets.token_urlsafe(16),
                             "trust": floor().accounts.trust_generation(name)})
    response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()),
                        path=url_for("auth.login"), httponly=True, samesite="Strict",
                        secure=bool(current_app.config.get("FLOOR_HTTPS")))
    return response
