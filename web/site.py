"""What every response of the app carries, whichever blueprint (or none) made it: the security
headers, HSTS behind HTTPS, the not-found page and the favicon.

Blueprints set their own, stricter headers (``web/auth.py``, ``web/screen.py``, ``web/ask.py``);
these fill in what a response lacks, so a 404, a 413 or a static file is covered too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, send_from_directory

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


@bp.app_errorhandler(404)
def not_found(error: Any) -> Any:
    return render_template("404.html"), 404


@bp.get("/favicon.ico")
def favicon() -> Any:
    """For browsers that ask before reading a page's icon link."""
    return send_from_directory(current_app.static_folder or "static", "favicon.svg",
                               mimetype="image/svg+xml")
