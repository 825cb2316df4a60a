"""Which posts the record lists as questions, and the kind each other post is counted under.

A post is listed when a moderator acted on it (an entry of the action table named it), when
triage judged it a question, or when triage never assessed it; every other post is counted by
the kind its chained triage finding gives, never listed. Both ``build`` and ``verify`` (and
``static/verify.js``, which repeats these few lines) decide it from the chain alone.
"""

from __future__ import annotations

from typing import Any

# Log entries that are not a moderator's action on the questions they name.
NOT_ACTED = frozenset({"received", "triaged", "retract", "purge", "note", "note_seen", "agenda"})
# The kinds of post the record counts but does not list, in its words (one post, several).
KINDS = {"chatter": ("chatter, greetings, thanks and remarks that ask nothing",) * 2,
         "stream": ("about the stream or the sound",) * 2,
         "abusive": ("abusive",) * 2,
         "duplicate": ("repeat of a question already asked",
                       "repeats of a question already asked")}
LABELS = {"chatter": "chatter, remarks", "stream": "about the stream", "abusive": "abusive",
          "duplicate": "repeats"}  # short enough for a chart's bar
QUESTION = "question"


def acted_on(entry: dict[str, Any]) -> list[str]:
    """The questions a moderator acted on in this (chained) entry."""
    if entry.get("type") in NOT_ACTED:
        return []
    return [q["id"] for q in entry.get("qs", []) if isinstance(q, dict) and "id" in q]


def kind_of(question: dict[str, Any], acted: bool) -> str:
    """``QUESTION`` for a post the record lists, else the kind it is counted under."""
    found = question.get("triage") or {}
    if acted or not found:
        return QUESTION
    if found.get("abuse"):
        return "abusive"
    if found.get("suggest"):
        return "duplicate"
    if "question" in (question.get("flags") or []):
        return QUESTION
    return "stream" if str(found.get("reason", "")).startswith("about the stream") else "chatter"
