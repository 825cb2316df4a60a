"""The moderators' actions, declared once: the server runs them, the console is sent them.

Each action says from which states it applies, the state it leads to, whether it pushes onto the
question's undo stack, a handler for whatever else it does (check a parameter, move the screen,
count a group), its parameters (each with its limit, if it is a text) and how the console asks
for them, its button (key, place in the bar) and its words. The engine that runs a step
atomically is ``aggregator.core.moderation``; the socket accepts only the params a row names
(``web/console.py``); the console builds its buttons, keys, dialogs, limits and words from the
rows it is sent. Adding an action is one row here and, when it needs one, one handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aggregator.core.normalise import MAX_TEXT, clean_text
from aggregator.core.question import PLATFORMS, STATES, Question

if TYPE_CHECKING:
    from aggregator.core.moderation import Item, Step

# The reason a muted author's posts are held with (``Question.aside_reason``).
MUTED = "muted author"
# How many questions one step may act on (a selection, a cluster): enough for a storm, small
# enough that one MULTI/EXEC and its log entries stay quick for every console.
MANY_MAX = 200

# A handler does an action's own work inside the step, after the engine has checked the version
# and the state and pushed the undo snapshot, and before it moves the question to ``to``.
# It returns the log entry's extra fields, and raises Refused when a parameter is wrong.
Handler = Callable[["Step", "Item", dict[str, Any]], dict[str, str]]


class Refused(Exception):
    """An action that was not applied; the message is for the moderator."""


def capped(text: str, limit: int, what: str, why: str = "") -> str:
    """``text`` if it is at most ``limit`` characters, else Refused with the limit and its
    length: the one rule for every free text a moderator sends (an action's text params, whose
    limits are their rows' ``Param.max``; a note to the chair; an agenda item's title), which is
    refused in words, never cut short unseen."""
    if len(text) > limit:
        raise Refused(f"{what} is at most {limit:,} characters{', ' + why if why else ''}; "
                      f"this one has {len(text):,}")
    return text


def _nothing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    return {}


def _reject(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    reason = str(params.get("reason") or "").strip()  # at most its limit (Param.max)
    if not reason:
        raise Refused("say why the question is rejected")
    item.q.reject_reason = reason
    return {"reason": reason}


SCREEN_THEN = ("answered", "queue")  # what becomes of the question on screen when another goes


def _screen(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    then = params.get("then", "answered")
    if then not in SCREEN_THEN:
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
    to = " ".join(str(params.get("to") or "").split())
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
    item.q.answer_note = personal.mask(text)  # empty: the note is taken away
    return {"answer_note": item.q.answer_note}


def _set_aside(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    """Set the question aside saying why: its card shows the reason while it is held. Masked as
    it is written (the ledger chains the projection in clear, so a purge could not reach it)."""
    from aggregator.base import personal  # phonenumbers: not in every process that polls

    reason = personal.mask(" ".join(str(params.get("reason") or "").split()))
    if not reason:
        raise Refused("say why the question is set aside")
    item.q.aside_reason = reason
    return {"reason": reason}


def _in_writing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.in_writing = True
    return {}


def _not_in_writing(step: Step, item: Item, params: dict[str, Any]) -> dict[str, str]:
    item.q.in_writing = False
    return {}


# What a parameter is, for the server (which accepts only the params an action names) and the
# console (which asks for each kind in its own way).
PARAM_KINDS = {
    "reason": "one of the event's reject reasons ([moderation] reject_reasons)",
    "choice": "one of a list: fixed (options) or one the console holds (of)",
    "text": "a moderator's free text, at most max characters",
    "place": "a place in the queue (an index)",
    "question": "another question's id",
}
# How the console gets an action's params before it sends it (web/static/console/commands.js
# has one asker for each; an action whose kind it lacks is not offered).
ASKS = {
    "": "nothing: the action runs at once",
    "reason": "the reasons dialog (with cards picked by x and a `many` action: all of them)",
    "cluster": "the reasons dialog, for the question and every repeat triage suggested of it",
    "screen": "what becomes of the question on screen now (after a check of the text's length)",
    "edit": "the text, edited in place on the card",
    "target": "the question marked with m (else the repeat triage suggested)",
    "choice": "a numbered list of the choice param's options",
    "text": "a dialog with one line of text (its limit: the text param's max)",
    "place": "Alt+arrows or dragging the card (no key of its own)",
}
# The lists a choice's options may come from, as the console holds them. A choice action is
# offered only while its list has options (no "For a board member" with none set).
CHOICE_LISTS = ("agenda", "board_members")
# When the console offers an action on a card, beyond its states (``sources``): a condition on
# the question and what the console knows around it (web/static/console/table.js has one test
# for each). Its key still runs it anywhere its states allow: the server has the last word.
WHEN = {
    "": "its states are enough",
    "muted": "its author is muted, as far as the console knows (a card of theirs is held "
             "for the mute)",
    "not_muted": "it has an author the console does not know to be muted",
    "suggested": "triage suggested the question it repeats",
    "cluster": "triage suggested it repeats another, or another repeats it",
}


@dataclass(frozen=True, kw_only=True)
class Param:
    """A detail an action carries besides its question and the version seen."""

    name: str
    kind: str  # PARAM_KINDS
    # A text's limit, the one definition of it: the most characters it may have (0: none). A
    # longer one is refused in words (``capped``, before the step), never cut short, and the
    # console is told it (``Action.limits``) for its fields' maxlength and their counts. ``what``
    # and ``why`` are the refusal's words: "a reason is at most 200 characters; this one has 201".
    max: int = 0
    what: str = ""
    why: str = ""
    options: tuple[str, ...] = ()  # a fixed choice's values
    of: str = ""  # a choice among a list the console holds (CHOICE_LISTS)
    field: str = ""  # the question's field it sets: what a dialog starts from

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS or (self.of and self.of not in CHOICE_LISTS):
            raise ValueError(f"param {self.name}: unknown kind {self.kind!r} or list {self.of!r}")
        if self.max and not self.what:
            raise ValueError(f"param {self.name}: a limit needs the words of its refusal (what)")

    def to_config(self) -> dict[str, Any]:
        """The param as the console's config carries it (its limit is in the action's
        ``limits``)."""
        return {"name": self.name, "kind": self.kind, "options": list(self.options),
                "of": self.of, "field": self.field}


@dataclass(frozen=True, kw_only=True)
class Action:
    """One moderator action, as the server runs it and the console offers it."""

    name: str
    sources: frozenset[str]  # the states it applies from
    to: str | None = None  # the state it leads to; None when the state does not change
    undoable: bool = False  # whether it pushes a snapshot onto the question's undo stack
    handler: Handler = _nothing
    # Whether a moderator may apply it to several questions in one step (a selection, a
    # cluster): ``Moderation.apply_many``, one log entry per question.
    many: bool = False
    params: tuple[Param, ...] = ()  # all it accepts besides its question and version
    asks: str = ""  # how the console gets the params (ASKS)
    # Its button: the console's key ("" for none; actions sharing a key share a button), and
    # whether it is one of the few actions used most, shown on the selected card itself (the
    # others are in the card's "More" menu and the keys' help). Its place in the action bar,
    # the menu and the keys' help is its row's place in the table.
    key: str = ""
    primary: bool = False
    when: str = ""  # WHEN: what else must hold for the console to offer it on a card
    # Its words: the button's, what was done (for the log, cards and refusals: "sam approved
    # this question first"), the keys' help beyond the label, a dialog's title.
    label: str
    done: str
    hint: str = ""
    prompt: str = ""

    def __post_init__(self) -> None:
        if self.asks not in ASKS or (self.params and not self.asks):
            raise ValueError(f"{self.name}: the console cannot ask for its params that way")
        if self.when not in WHEN:
            raise ValueError(f"{self.name}: the console knows no condition {self.when!r}")

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(param.name for param in self.params)

    @property
    def limits(self) -> dict[str, int]:
        """Each param with a limit, and its limit (``Param.max``)."""
        return {param.name: param.max for param in self.params if param.max}

    def check_text(self, params: dict[str, Any]) -> None:
        """Refuse, in words, a param's text longer than its limit (``Param.max``)."""
        for param in self.params:
            value = params.get(param.name)
            if param.max and isinstance(value, str):
                capped(value, param.max, param.what, param.why)

    def to_config(self, order: int) -> dict[str, Any]:
        """The action as the console's page config carries it, ``order`` its place."""
        return {"from": sorted(self.sources), "to": self.to, "undoable": self.undoable,
                "many": self.many, "params": [param.to_config() for param in self.params],
                "limits": self.limits, "asks": self.asks, "key": self.key, "order": order,
                "primary": self.primary, "when": self.when, "label": self.label, "done": self.done,
                "hint": self.hint, "prompt": self.prompt}


EVERY_STATE = frozenset(STATES)
OPEN = frozenset({"new", "approved"})
EDITABLE = frozenset({"new", "approved", "on_screen", "held"})
ANSWERABLE = frozenset({"new", "approved", "on_screen", "answered", "held"})
ON_SCREEN = frozenset({"on_screen"})
REASON = Param(name="reason", kind="reason", max=200, what="a reason")

# In the order of the action bar and the keys' help.
_TABLE = (
    Action(name="approve", sources=frozenset({"new"}), to="approved", undoable=True,
           key="a", primary=True, label="Approve", done="approved"),
    Action(name="reject", sources=OPEN, to="rejected", undoable=True, handler=_reject,
           many=True, params=(REASON,), asks="reason",
           key="r", primary=True, label="Reject", done="rejected",
           hint="then a number picks the reason; with cards picked by x, one reason for them all"),
    Action(name="edit", sources=EDITABLE, undoable=True, handler=_edit,
           params=(Param(name="text", kind="text", max=MAX_TEXT, field="text",
                         what="an edited question",
                         why="as long as a question from the form may be"),), asks="edit",
           key="e", primary=True, label="Edit", done="edited",
           hint="Enter saves, Esc cancels"),
    Action(name="screen", sources=OPEN, to="on_screen", undoable=True, handler=_screen,
           params=(Param(name="then", kind="choice", options=SCREEN_THEN),), asks="screen",
           key="s", primary=True, label="On screen", done="screened",
           hint="asks what happens to the question on screen now"),
    Action(name="answer", sources=ON_SCREEN, to="answered", undoable=True,
           key="d", primary=True, label="Answered", done="answered",
           hint="acts on the question on screen"),
    Action(name="unscreen", sources=ON_SCREEN, to="approved", undoable=True,
           key="o", label="Off screen", done="took off screen",
           hint="back to the front of the queue"),
    Action(name="hold", sources=OPEN, to="held", undoable=True,
           key="z", label="Hold for later", done="set aside"),
    Action(name="unhold", sources=frozenset({"held"}), to="new", undoable=True,
           key="z", label="Bring back", done="brought back"),
    Action(name="set_aside", sources=OPEN, to="held", undoable=True, handler=_set_aside,
           params=(Param(name="reason", kind="text", max=120, field="aside_reason",
                         what="a reason for setting it aside"),), asks="text",
           key="Z", label="Set aside, saying why", done="set aside",
           hint="the card shows why to every moderator while it is held",
           prompt="Why set it aside? The card shows it to every moderator."),
    # Up and down (Alt+arrows) and dragging: the console's own moves, in this place of the bar.
    Action(name="reorder", sources=frozenset({"approved"}), handler=_reorder,
           params=(Param(name="index", kind="place"),), asks="place",
           label="Move", done="moved"),
    Action(name="group", sources=OPEN, to="grouped", undoable=True, handler=_group,
           params=(Param(name="parent", kind="question"),), asks="target",
           key="g", label="Group under target", done="grouped",
           hint="under the target marked with m"),
    Action(name="star", sources=EVERY_STATE, handler=_star,
           key="*", label="Star", done="starred"),
    Action(name="unstar", sources=EVERY_STATE, handler=_unstar,
           key="*", label="Unstar", done="unstarred"),
    Action(name="undo", sources=EVERY_STATE, handler=_undo,
           key="u", primary=True, label="Undo", done="undid",
           hint="the last action on the question"),
    Action(name="dismiss", sources=frozenset({"new", "approved", "held"}), handler=_dismiss,
           key="n", when="suggested", label="Not a repeat", done="dismissed the repeat of"),
    Action(name="tag", sources=EVERY_STATE, handler=_tag,
           params=(Param(name="item", kind="choice", of="agenda", field="item"),), asks="choice",
           key="t", label="Agenda item", done="tagged to an agenda item",
           prompt="Agenda item"),
    Action(name="direct", sources=EDITABLE, handler=_direct,
           params=(Param(name="to", kind="choice", of="board_members", max=60,
                         field="directed_to", what="a board member's name"),), asks="choice",
           key="b", label="For a board member", done="directed to a board member",
           prompt="For which board member?"),
    # Acts on whatever is on screen, whatever version the moderator saw: the safety valve.
    Action(name="clear", sources=ON_SCREEN, to="approved", undoable=True,
           key="c", label="Clear the screen", done="took off screen",
           hint="whatever is on screen goes back to the front of the queue"),
    # Answers recorded during or after the meeting, by a moderator or the board's secretary
    # (the console has no key for "answer_note" yet: `floor answer-note`). The state stays.
    Action(name="answer_note", sources=ANSWERABLE, handler=_answer_note,
           params=(Param(name="note", kind="text", max=1_000, field="answer_note",
                         what="an answer note"),),
           asks="text", label="Answer note", done="noted the answer to",
           prompt="The answer, in short, for the published record"),
    Action(name="in_writing", sources=ANSWERABLE, handler=_in_writing,
           label="To be answered in writing", done="marked to be answered in writing"),
    Action(name="not_in_writing", sources=ANSWERABLE, handler=_not_in_writing,
           label="Not in writing after all", done="unmarked the written answer to"),
    # Storm controls. A mute sets the card aside with the reason; undo of it unmutes.
    Action(name="mute", sources=OPEN, to="held", undoable=True, handler=_mute,
           key="M", when="not_muted", label="Mute the author", done="muted the author of",
           hint="their later posts are set aside; Undo on this card unmutes"),
    Action(name="unmute", sources=EVERY_STATE, handler=_unmute,
           key="U", when="muted", label="Unmute the author", done="unmuted the author of"),
    Action(name="reject_like", sources=OPEN, to="rejected", undoable=True,
           handler=_reject_like, many=True,
           params=(REASON, Param(name="like", kind="question")), asks="cluster",
           key="R", when="cluster", label="Reject all like this", done="rejected as a repeat",
           hint="the question and the repeats triage suggested, one reason for all"),
)
ACTIONS: dict[str, Action] = {action.name: action for action in _TABLE}

# Words for the log's other entry types, which no moderator sends: the console is sent them
# with the table, so a card says what happened to it in these words and no others.
ENTRY_WORDS = {"received": "received", "displace": "replaced on screen",
               "retract": "retracted (the platform took it back)", "flag": "flagged",
               "triaged": "assessed", "purge": "purged personal data",
               "note": "wrote a note to the chair", "note_seen": "read a note",
               "agenda": "changed the agenda"}


def done_words(entry_type: str) -> str:
    """What an action or log entry type did, in the past tense."""
    action = ACTIONS.get(entry_type)
    return action.done if action else ENTRY_WORDS.get(entry_type, entry_type)


def as_config() -> dict[str, dict[str, Any]]:
    """``config.actions`` for the console: the whole table, keyed by action name."""
    return {action.name: action.to_config(order) for order, action in enumerate(_TABLE)}
