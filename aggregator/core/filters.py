"""The console's search and filters, on the server: what a filter may say, and whether a
question passes it.

This is the server's one definition of the predicate; the console's is ``passes`` in
``web/static/console/state.js``. Both are run over the same fixture
(``tests/js/fixtures/filters.json``) by ``tests/test_search.py`` and ``tests/js/search.test.mjs``,
so they cannot drift apart unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aggregator.core.question import PLATFORMS, STATES

# A search longer than this is not something a moderator typed: refused, not scanned for.
TEXT_MAX = 200
ITEM_MAX = 100
_FLAG = re.compile(r"^[a-z_]{1,40}$")
FIELDS = ("text", "platform", "state", "flag", "item", "questions")


class FilterError(ValueError):
    """Filters the server cannot apply; the message says what is wrong."""


@dataclass(frozen=True)
class Filters:
    """What the console's toolbar says, as the server applies it. ``text`` is lower case
    already (the console sends what it searches with); ``flag`` "-" means no flag at all;
    ``item`` "-" means tagged to no (existing) agenda item; ``questions``: only the posts that
    look like questions (Incoming's "questions only")."""

    text: str = ""
    platform: str = ""
    state: str = ""
    flag: str = ""
    item: str = ""
    questions: bool = False

    @property
    def active(self) -> bool:
        return bool(self.text or self.platform or self.state or self.flag or self.item
                    or self.questions)

    def excludes_state(self, state: str) -> bool:
        """Whether no question in ``state`` can pass (a list need not be walked at all)."""
        return bool(self.state) and self.state not in ("starred", state)


def parse(raw: Any) -> Filters:
    """The filters of a page request (None or a dict of ``FIELDS``), or FilterError."""
    if raw is None:
        return Filters()
    if not isinstance(raw, dict):
        raise FilterError("filters must be an object: {text, platform, state, flag, item, "
                          "questions}")
    unknown = sorted(set(map(str, raw)) - set(FIELDS))
    if unknown:
        raise FilterError(f"unknown filters: {', '.join(unknown)[:200]}")
    strings = {}
    for name in ("text", "platform", "state", "flag", "item"):
        value = raw.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise FilterError(f"the {name} filter must be text")
        strings[name] = value
    text = strings["text"]
    if len(text) > TEXT_MAX:
        raise FilterError(f"a search is at most {TEXT_MAX} characters")
    if strings["platform"] and strings["platform"] not in PLATFORMS:
        raise FilterError(f"there is no platform {strings['platform'][:40]!r}")
    state = strings["state"]
    if state and state != "starred" and state not in STATES:
        raise FilterError(f"there is no state {state[:40]!r}")
    flag = strings["flag"]
    if flag and flag != "-" and not _FLAG.match(flag):
        raise FilterError("a flag filter is a flag's name, or - for none")
    if len(strings["item"]) > ITEM_MAX:
        raise FilterError(f"an agenda item's id is at most {ITEM_MAX} characters")
    questions = raw.get("questions", False)
    if not isinstance(questions, bool):
        raise FilterError("the questions filter must be true or false")
    return Filters(text=text, platform=strings["platform"], state=state, flag=flag,
                   item=strings["item"], questions=questions)


def haystack(q: Mapping[str, Any]) -> str:
    """What a search looks in, as the console builds it."""
    return "\n".join(str(q.get(field) or "") for field in
                     ("text", "original", "author_name", "author_handle", "id")).lower()


def item_of(q: Mapping[str, Any], items: Collection[str]) -> str:
    """The agenda item a question counts as on: its tag, if the tag still names an item."""
    item = q.get("item") or ""
    return item if item in items else ""


def needle(f: Filters) -> str:
    """The search text when a projection's raw JSON can be screened with it before it is
    decoded, else "": a projection whose searched fields contain it has it in its JSON, lowered
    (``str.lower`` lowers the JSON's characters as it lowers the fields, even the two whose lower
    case is ASCII, U+0130 and U+212A), unless the JSON escapes characters (``\\u``: screened
    out of the check). Only for printable ASCII without the characters JSON escapes, so the text
    appears in the JSON verbatim. The predicate still decides."""
    text = f.text
    if text and all(" " <= c <= "~" and c not in '"\\' for c in text):
        return text
    return ""


def passes(q: Mapping[str, Any], f: Filters, items: Collection[str] = ()) -> bool:
    """Whether question ``q`` (its projection) passes ``f``; ``items``: the agenda's item ids."""
    flags = q.get("flags") or []
    if f.platform and q.get("platform") != f.platform:
        return False
    if f.state == "starred":
        if not q.get("starred"):
            return False
    elif f.state and q.get("state") != f.state:
        return False
    if f.flag == "-":
        if flags:
            return False
    elif f.flag and f.flag not in flags:
        return False
    if f.questions and "question" not in flags:
        return False
    if f.item:
        item = item_of(q, items)
        if (item != "") if f.item == "-" else (item != f.item):
            return False
    return not f.text or f.text in haystack(q)
