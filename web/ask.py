"""The public question form: for viewers without social media, the ``web`` source.

A question sent here takes the same road as a post read from a platform: a Post (platform
``web``, a fresh random id), normalised like any other, stored as a batch of one by the ``web``
source. It arrives on the consoles as new and is moderated like the rest.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from aggregator.core.normalise import MAX_NAME, MAX_TEXT, InvalidPost, normalise
from aggregator.core.question import Post, Question, utc_now
from web import floor
from web.extensions import limiter
from web.forms import PostedForm

bp = Blueprint("ask", __name__)

SOURCE = "web"
# A person asks a few questions in a meeting; a script asks hundreds. Per client address: behind
# a proxy, set FLOOR_TRUSTED_PROXIES (web/__init__.py) or every viewer shares one limit.
ASK_LIMIT = "5 per minute;20 per hour"
# The board shows at most MAX_TEXT characters, so the form takes no more.
MAX_QUESTION = MAX_TEXT
# Seconds in which the same text sent again from the same browser is the same question: a
# double click, a second press while the first was slow. Longer would also swallow a question
# someone meant to ask again later, after it was rejected or answered.
REPEAT_WINDOW = 60
# The session's random id for this browser: what "the same browser" means for a repeat.
ASKER = "asker"


class AskForm(PostedForm):
    name = StringField("Your name (optional)", validators=[Optional(), Length(max=MAX_NAME)])
    question = TextAreaField("Your question", validators=[
        DataRequired("Please write your question."),
        Length(max=MAX_QUESTION, message=f"Please keep it under {MAX_QUESTION} characters.")])
    consent = BooleanField("I agree", validators=[
        DataRequired("Please tick the box to say you agree, so we can use your question.")])


def _browser() -> str:
    """This browser's random id, kept in its session from the first time it opens the form: the
    two posts of a double click on a first question must already carry the same one."""
    return session.setdefault(ASKER, secrets.token_hex(16))


def _store_once(question: Question, raw: dict[str, Any], asker: str) -> bool:
    """Stores the question, unless the browser ``asker`` sent the same text (normalised) within
    REPEAT_WINDOW seconds: False then. The mark is one SET NX with that expiry, so two web
    processes taking the two posts of one double click store it once. Its key is a hash of the
    text keyed with the browser's random id: it holds no text, and no other browser's question
    can ever match it."""
    store = floor().store
    mark = store.keys.recently_asked(
        hmac.new(asker.encode(), question.text.encode(), "sha256").hexdigest())
    if not store.conn.set(mark, "1", nx=True, ex=REPEAT_WINDOW):
        return False
    try:
        store.ingest(SOURCE, [(question, raw)])
    except Exception:
        store.conn.delete(mark)  # not stored: sending it again must store it
        raise
    return True


def _page(form: AskForm, *, sent: str = "", error: str = "", status: int = 200) -> Any:
    settings = floor().settings
    return render_template("ask.html", form=form, sent=sent, error=error,
                           title=settings.event.title, max_question=MAX_QUESTION,
                           max_name=MAX_NAME, anonymise=settings.screen.anonymise,
                           keep_days=settings.retention.purge_after_days), status


@bp.route("/ask", methods=["GET", "POST"])
@limiter.limit(ASK_LIMIT, methods=["POST"])
def index() -> Any:
    asker = _browser()
    form = AskForm()
    if form.validate_on_submit():
        name = (form.name.data or "").strip()
        text = form.question.data or ""
        post = Post(platform=SOURCE, native_id=uuid.uuid4().hex, text=text, author_name=name,
                    posted_at=utc_now())
        # What the asker agreed to (the consent sentence differs when the board is anonymised):
        # the published record names only askers who agreed to be named.
        consent = "question" if floor().settings.screen.anonymise else "question and name"
        raw = {"name": name, "question": text, "posted_at": post.posted_at, "consent": consent}
        try:
            question = normalise(post)
        except InvalidPost:
            form.question.errors = [*form.question.errors, "Please write your question."]
            return _page(form, status=400)
        stored = _store_once(question, raw, asker)
        return redirect(url_for("ask.index", sent=1 if stored else "again"), code=303)
    if request.method == "POST":
        return _page(form, error="Please check the form: something needs changing.",
                     status=400)
    sent = request.args.get("sent")
    return _page(form, sent=sent if sent in ("1", "again") else "")


@bp.after_request
def headers(response: Any) -> Any:
    # A plain form: no scripts at all, posting only to us, never inside another site's frame.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# The error pages never read the request's body: it may be what went wrong (too large, not a
# form), and a second failure inside an error handler is a server error.
@bp.errorhandler(429)
def too_many(error: Any) -> Any:
    return _page(AskForm(read_body=False),
                 error="You have sent several questions in a short time. Thank you! "
                       "Please wait a few minutes before sending another.",
                 status=429)


@bp.errorhandler(CSRFError)
def stale_form(error: CSRFError) -> Any:
    return _page(AskForm(read_body=False),
                 error="Your browser did not send the form's security check (are "
                       "cookies blocked?). Please press Send again.",
                 status=400)
