"""The moderators' actions, declared once: the server runs them, the console is sent them.

Each action says from which states it applies, the state it leads to, whether it pushes onto the
question's undo stack, its words, its console key, its parameters, and a handler for whatever
else it does (check a parameter, move the screen, count a group). The engine that runs a step
atomically is ``aggregator.core.moderation``; it reads only this table, so adding an action is one
entry here and, when it needs one, one handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aggregator.core.normalise import MAX_TEXT, clean_text
from aggregator.core.question import PLATFORMS, STATES, Question

if TYPE_CHECKING:
    from aggregator.core.moderation import Item, Step

REJECT_REASON_MAX = 200
DIRECTED_MAX = 60
ANSWER_NOTE_MAX = 1_000
# The reason a muted author's posts are held with (``Question.aside_reason``).
MUTED = "muted author"
# How many questions one step may act on (a selection, a cluster): enough for a storm, small
# enough that one MULTI/EXEC and its log entries stay quick for every console.
MANY_MAX = 200

# The actions' free-text parameters: (the most characters, what it is, why that many). The
# console is sent the limits (``Action.to_config``) for its fields' maxlength and their words.
TEXT_PARAMS = {
    "text": (MAX_TEXT, "an edited question", "as long as a question from the form may be"),
    "reason": (REJECT_REASON_MAX, "a reason", ""),
    "to": (DIRECTED_MAX, "a board member's name", ""),
    "note": (ANSWER_NOTE_MAX, "an answer note", ""),
}

# A handler does an action's own work inside the step, after the engine has checked the version
# and the state and pushed the undo snapshot, and before it moves the question to ``to``.
# It returns the log entry's extra fields, and raises Refused when a parameter is wrong.
Handler = Callable[["Step", "Item", dict[str, Any]], dict[str, str]]


class Refused(Exception):
    """An action that was not applied; the message is for the moderator."""


def capped(text: str, limit: int, what: str, why: str = "") -> str:
    """``text`` if it is at most ``limit`` characters, else Refused with the limit and its
    length: the one rule for every free text a moderator sends (an edit, a reason, a note),
    which is refused in words, never cut short unseen."""
    if len(text) > limit:
        raise Refused(f"{what} is at most {limit:,} characters{', ' + why if why else ''}; "
                      f"this one has {len(text):,}")
    return text


def _nothing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    return {}


def _reject(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    reason = str(params.get("reason") or "").strip()[:REJECT_REASON_MAX]
    if not reason:
        raise Refused("say why the question is rejected")
    item.q.reject_reason = reason
    return {"reason": reason}


def _screen(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    then = params.get("then", "answered")
    if then not in ("answered", "queue"):
        raise Refused("the question on screen can go to 'answered' or back to 'queue'")
    step.take_screen("answered" if then == "answered" else "approved")
    return {}


def _edit(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    text, _ = clean_text(str(params.get("text") or ""))
    if not text:
        raise Refused("the text cannot be empty")
    previous, item.q.text = item.q.text, text
    return {"previous": previous}


def _group(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    parent_id = str(params.get("parent") or "")
    if parent_id == item.q.id:
        raise Refused("a question cannot be grouped under itself")
    if item.q.asked_by > 1:
        # Groups stay one level deep, so undoing any grouping fixes every count it changed.
        raise Refused("this question has duplicates grouped under it: group the other "
                      "question under this one instead")
    parent = step.load(parent_id)
    if parent.q.state in ("rejected", "grouped"):
        raise Refused(f"cannot group under a question that is {parent.q.state}")
    item.q.parent = parent_id
    parent.q.asked_by += item.q.asked_by
    parent.q.asked_on = _asked_on(parent.q, item.q.platform, 1)
    parent.changed = True
    return {}


def _asked_on(q: Question, platform: str, change: int) -> dict[str, int]:
    """The question's count of askers per platform after one from ``platform`` joins (+1) or
    leaves (-1) its group."""
    counts = dict(q.asked_on or {q.platform: 1})
    counts[platform] = counts.get(platform, 0) + change
    return {name: n for name, n in counts.items() if n > 0}


def _star(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.starred = True
    return {}


def _unstar(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.starred = False
    return {}


def _reorder(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    index = params.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise Refused("say where in the queue the question goes")
    step.move_in_queue(item, index)
    return {}


def _dismiss(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    suggested = item.q.triage.get("suggest")
    if not suggested:
        raise Refused("triage suggested no repeat for this question")
    item.q.triage = {**{k: v for k, v in item.q.triage.items() if k != "suggest"},
                     "dismissed": suggested}
    item.q.flags = [flag for flag in item.q.flags if flag != "repeat"]
    return {"dismissed": str(suggested.get("qid", ""))}


def _tag(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Tag the question to an agenda item ("" untags it). The agenda hash is watched, so an
    item removed at the same instant makes the step retry, and then refuse."""
    target = str(params.get("item") or "")
    if target:
        step.pipe.watch(step.keys.agenda)
        if not step.pipe.hexists(step.keys.agenda, target):
            raise Refused("there is no such agenda item (someone may have removed it)")
    if target == item.q.item:
        raise Refused("the question is already on that item" if target
                      else "the question has no item")
    previous, item.q.item = item.q.item, target
    return {"item": target, "previous": previous}


def _direct(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Direct the question to a board member ("" for anyone). Which names are allowed is the
    event's setting, checked where the request arrives (web/console.py)."""
    to = " ".join(str(params.get("to") or "").split())[:DIRECTED_MAX]
    if to == item.q.directed_to:
        raise Refused(f"the question is already for {to}" if to else "the question is for anyone")
    previous, item.q.directed_to = item.q.directed_to, to
    return {"to": to, "previous": previous}


def _undo(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    if not item.undo:
        raise Refused("there is nothing to undo on this question")
    before = item.undo[-1]
    q = item.q
    if before["state"] == "on_screen" and step.screen not in (None, q.id):
        raise Refused("another question is on screen: take it off first")
    if before.get("unmute") and q.author_key:  # undoing a mute unmutes (if no one has yet)
        step.unmute(q.author_key, item)
    if q.state == "grouped":
        parent = step.load(q.parent)
        parent.q.asked_by = max(1, parent.q.asked_by - q.asked_by)
        parent.q.asked_on = _asked_on(parent.q, q.platform, -1)
        parent.changed = True
    item.undo = item.undo[:-1]
    q.text, q.parent = before["text"], before["parent"]
    q.reject_reason = before["reject_reason"]
    q.aside_reason = before.get("aside_reason", "")
    step.set_state(item, before["state"], front=True)
    return {}


def author_words(q: Question) -> str:
    """A post's author as a moderator reads it: "@sam on X"."""
    return f"{q.author_handle or q.author_name} on {PLATFORMS.get(q.platform, q.platform)}"


def _mute(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Mute the card's author: the card is set aside, and so is every later post of theirs
    (at ingest, aggregator/core/store.py). Undo of this step unmutes."""
    author = item.q.author_key
    if not author:
        raise Refused("this post has no author to mute")
    if step.is_muted(author):
        raise Refused(f"{author_words(item.q)} is already muted")
    # The snapshot marks the mute; the author is the question's own (so a purge of authors
    # leaves no handle in the undo stack).
    item.undo[-1] = {**item.undo[-1], "unmute": True}
    item.q.aside_reason = MUTED
    step.mute(author, item.q.id)
    return {}


def _unmute(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Unmute the card's author: their posts the mute set aside, still held for it, come back
    as new (each its own log entry), and later posts arrive as usual."""
    author = item.q.author_key
    if not author:
        raise Refused("this post has no author to unmute")
    if not step.unmute(author, item):
        raise Refused(f"{author_words(item.q)} is not muted")
    return {}


def _reject_like(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Reject a question of a cluster: the question ``like`` or one triage suggested as its
    repeat. The console sends the whole cluster as one step (``Moderation.apply_many``)."""
    like = str(params.get("like") or "")
    if not like:
        raise Refused("say which question these repeat")
    suggest = item.q.triage.get("suggest")
    suggested = str(suggest.get("qid", "")) if isinstance(suggest, dict) else ""
    if like not in (item.q.id, suggested):
        raise Refused(f"triage did not suggest this question as a repeat of {like}")
    return {**_reject(step, item, params), "like": like}


def _answer_note(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    from aggregator.base import personal  # phonenumbers: not in every process that polls

    text, _ = clean_text(str(params.get("note") or ""))
    # Masked as it is written: the ledger chains it in clear, so a purge could not reach it.
    item.q.answer_note = personal.mask(text[:ANSWER_NOTE_MAX])  # empty: the note is taken away
    return {"answer_note": item.q.answer_note}


def _in_writing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.in_writing = True
    return {}


def _not_in_writing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.in_writing = False
    return {}


@dataclass(frozen=True)
class Action:
    """One moderator action, as the server runs it and the console offers it."""

    name: str
    sources: frozenset[str]  # the states it applies from
    to: str | None  # the state it leads to; None when the state does not change
    undoable: bool  # whether it pushes a snapshot onto the question's undo stack
    done: str  # past tense, for the log and for refusals ("sam approved this question first")
    label: str
    key: str  # the console's key, "" when the action has none of its own
    params: tuple[str, ...] = ()
    handler: Handler = _nothing
    # Whether a moderator may apply it to several questions in one step (a selection, a
    # cluster): ``Moderation.apply_many``, one log entry per question.
    many: bool = False

    def check_text(self, params: dict[str, Any]) -> None:
        """Refuse a free-text parameter longer than its limit (``TEXT_PARAMS``)."""
        for name in self.params:
            value = params.get(name)
            if name in TEXT_PARAMS and isinstance(value, str):
                capped(value, *TEXT_PARAMS[name])

    def to_config(self) -> dict[str, Any]:
        """The action as the console's page config carries it."""
        return {"from": sorted(self.sources), "to": self.to, "undoable": self.undoable,
                "done": self.done, "label": self.label, "key": self.key,
                "params": list(self.params), "many": self.many,
                "limits": {name: TEXT_PARAMS[name][0] for name in self.params
                           if name in TEXT_PARAMS}}


EVERY_STATE = frozenset(STATES)
ANSWERABLE = frozenset({"new", "approved", "on_screen", "answered", "held"})

_TABLE = (
    Action("approve", frozenset({"new"}), "approved", True, "approved", "Approve", "a"),
    Action("reject", frozenset({"new", "approved"}), "rejected", True, "rejected", "Reject",
           "r", ("reason",), _reject, many=True),
    Action("screen", frozenset({"new", "approved"}), "on_screen", True, "screened",
           "On screen", "s", ("then",), _screen),
    Action("answer", frozenset({"on_screen"}), "answered", True, "answered", "Answered", "d"),
    Action("unscreen", frozenset({"on_screen"}), "approved", True, "took off screen",
           "Off screen", "o"),
    Action("edit", frozenset({"new", "approved", "on_screen", "held"}), None, True, "edited",
           "Edit", "e", ("text",), _edit),
    Action("group", frozenset({"new", "approved"}), "grouped", True, "grouped",
           "Group under target", "g", ("parent",), _group),
    Action("star", EVERY_STATE, None, False, "starred", "Star", "*", (), _star),
    Action("unstar", EVERY_STATE, None, False, "unstarred", "Unstar", "*", (), _unstar),
    Action("reorder", frozenset({"approved"}), None, False, "moved", "Move", "", ("index",),
           _reorder),
    Action("undo", EVERY_STATE, None, False, "undid", "Undo", "u", (), _undo),
    Action("hold", frozenset({"new", "approved"}), "held", True, "set aside",
           "Hold for later", "z"),
    Action("unhold", frozenset({"held"}), "new", True, "brought back", "Bring back", "z"),
    Action("dismiss", frozenset({"new", "approved", "held"}), None, False,
           "dismissed the repeat of", "Not a repeat", "n", (), _dismiss),
    Action("tag", EVERY_STATE, None, False, "tagged to an agenda item", "Agenda item", "t",
           ("item",), _tag),
    Action("direct", frozenset({"new", "approved", "on_screen", "held"}), None, False,
           "directed to a board member", "For a board member", "b", ("to",), _direct),
    # Acts on whatever is on screen, whatever version the moderator saw: the safety valve.
    Action("clear", frozenset({"on_screen"}), "approved", True, "took off screen",
           "Clear the screen", "c"),
    # Answers recorded during or after the meeting, by a moderator or the board's secretary
    # (the console does not offer "answer_note" yet: `floor answer-note`). The state stays.
    Action("answer_note", ANSWERABLE, None, False, "noted the answer to", "Answer note", "",
           ("note",), _answer_note),
    Action("in_writing", ANSWERABLE, None, False, "marked to be answered in writing",
           "To be answered in writing", "", (), _in_writing),
    Action("not_in_writing", ANSWERABLE, None, False, "unmarked the written answer to",
           "Not in writing after all", "", (), _not_in_writing),
    # Storm controls. A mute sets the card aside with the reason; undo of it unmutes.
    Action("mute", frozenset({"new", "approved"}), "held", True, "muted the author of",
           "Mute the author", "M", (), _mute),
    Action("unmute", EVERY_STATE, None, False, "unmuted the author of", "Unmute the author",
           "U", (), _unmute),
    Action("reject_like", frozenset({"new", "approved"}), "rejected", True,
           "rejected as a repeat", "Reject all like this", "R", ("reason", "like"),
           _reject_like, many=True),
)
ACTIONS: dict[str, Action] = {action.name: action for action in _TABLE}

# Words for the log's other entry types, which no moderator sends.
_OTHER_DONE = {"received": "received", "displace": "replaced on screen",
               "retract": "retracted (the platform took it back)", "flag": "flagged",
               "triaged": "assessed"}


def done_words(entry_type: str) -> str:
    """What an action or log entry type did, in the past tense."""
    action = ACTIONS.get(entry_type)
    return action.done if action else _OTHER_DONE.get(entry_type, entry_type)


def as_config() -> dict[str, dict[str, Any]]:
    """``config.actions`` for the console: the whole table, keyed by action name."""
    return {name: action.to_config() for name, action in ACTIONS.items()}
