"""What every response of the app carries, whichever blueprint (or none) made it: the security
headers, HSTS behind HTTPS, the error pages (the 413 of an oversized body among them) and the
favicon.

Blueprints set their own, stricter headers (``web/auth.py``, ``web/screen.py``, ``web/ask.py``);
these fill in what a response lacks, so a 404, a 413 or a static file is covered too. The forms'
blueprints answer their own 429 and CSRF errors with their form (``web/ask.py``,
``web/auth.py``); every other HTTP error is answered here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web import control

bp = Blueprint("site", __name__)

# Nothing but our own files, never framed: the default for any response without its own policy.
DEFAULT_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# A year, as browsers' preload lists ask. Only for this host: the venue's other names are not
# ours to pin to HTTPS.
HSTS = "max-age=31536000"


@bp.after_app_request
def security_headers(response: Any) -> Any:
    for name, value in DEFAULT_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("FLOOR_HTTPS"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


@bp.before_app_request
def refuse_oversized() -> None:
    """A body over MAX_CONTENT_LENGTH is refused (413) whether or not the route would read it
    (a route that never reads its body would otherwise take it)."""
    most = current_app.config["MAX_CONTENT_LENGTH"]
    if most is not None and (request.content_length or 0) > most:
        raise RequestEntityTooLarge()


@bp.app_errorhandler(HTTPException)
def refused(error: HTTPException) -> Any:
    """Every HTTP error (and, outside tests, the 500 of an unexpected exception): a page, or
    JSON under /control. Reads nothing of the request but its path: the body may be what was
    refused, and an error handler that fails answers 500."""
    status = error.code or 500
    # Such as a 405's Allow.
    headers = [(name, value) for name, value in error.get_headers()
               if name.lower() != "content-type"]
    if control.answers_in_json(request.path):
        return control.refusal(error)[0], status, headers
    page = "404.html" if status == 404 else "error.html"
    return render_template(page, error=error, stale_form=_page_again(error)), status, headers


def _page_again(error: HTTPException) -> str:
    """For a form sent without its CSRF check: the page to open again (the form's own page, or
    the login page for a form with no page of its own, such as Log out); else ""."""
    if not isinstance(error, CSRFError):
        return ""
    adapter = current_app.url_map.bind("")
    return request.path if adapter.test(request.path, method="GET") else "/login"


@bp.get("/favicon.ico")
def favicon() -> Any:
    """For browsers that ask before reading a page's icon link."""
    return send_from_directory(current_app.static_folder or "static", "favicon.svg",
                               mimetype="image/svg+xml")
