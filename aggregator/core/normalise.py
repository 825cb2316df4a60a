"""Turn an untrusted Post into a Question: clean, cap and flag the text, keep the original.

Every post is hostile until proven otherwise (design.md, "Untrusted input"). The browsers render
text as text, so cleaning here is about what a moderator and the board *read*: no markup, no
invisible characters that hide or reorder words, no wall of text, no Zalgo tower.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import nh3

from aggregator.core.question import PLATFORMS, Post, Question, utc_now

# What the board can show in large type; longer posts are cut at a word and flagged "truncated".
MAX_TEXT = 1_000
# What we keep of the original; beyond this it is abuse, not a question ("original_capped").
MAX_ORIGINAL = 20_000
MAX_NAME = 100
MAX_ID = 200

# Invisible format characters that hide or reorder text: soft hyphen, zero-width space,
# bidi embeddings, overrides and isolates, word joiners, BOM, interlinear annotations.
# Kept on purpose: ZWNJ/ZWJ (Persian script, emoji sequences), LRM/RLM (legitimate RTL
# punctuation) and the tag characters that spell subdivision flags such as Scotland's.
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0001"
)
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROLS = re.compile(f"[{_CONTROL}]")
_INVISIBLES = re.compile(f"[{_INVISIBLE}]")
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_ZALGO = re.compile(f"([{_COMBINING}]{{3}})[{_COMBINING}]+")
_SPACE = re.compile(r"\s+")
_QUESTION_MARK = re.compile("[?\u061f\u037e\uff1f\u2e2e]")  # Latin, Arabic, Greek, full-width
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
# Half of a UTF-16 pair: platforms send them (an emoji cut in two), and they cannot be UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")
# What an id may not hold: spaces, controls, format characters (invisible) and surrogates.
_ID_UNFIT = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def _unfit(text: str) -> bool:
    """Whether ``text`` holds a space, a control, format or surrogate character."""
    if text.isascii():  # most ids and links: no look-up per character (ingest's hot path)
        return " " in text or not text.isprintable()
    return any(unicodedata.category(c) in _ID_UNFIT for c in text)


class InvalidPost(ValueError):
    """A post that cannot become a question; the message names the field."""


# -- reading a platform's fields: what a source's ``parse`` checks before it builds a Post -------


def expect_text(value: Any, label: str) -> str:
    """``value`` if it is text, else InvalidPost naming the field ``label``."""
    if not isinstance(value, str):
        raise InvalidPost(f"field '{label}': expected text, got {type(value).__name__}")
    return value


def required_text(data: dict[str, Any], name: str, label: str | None = None) -> str:
    """``data[name]``, which must be there and be text; the error names ``label`` (default
    ``name``), e.g. "comment.id" for a field inside an object."""
    if name not in data:
        raise InvalidPost(f"field '{label or name}' is missing")
    return expect_text(data[name], label or name)


def optional_text(data: dict[str, Any], name: str, label: str | None = None) -> str | None:
    """``data[name]`` if it is text, None if it is missing or null, else InvalidPost."""
    value = data.get(name)
    return None if value is None else expect_text(value, label or name)


def iso_time(value: str, name: str) -> str:
    """An ISO 8601 time as a UTC ISO string, or InvalidPost naming the field ``name``."""
    try:
        return datetime.fromisoformat(value).astimezone(UTC).isoformat()
    except ValueError as exc:
        raise InvalidPost(f"field '{name}': not a time: {value[:40]!r}") from exc


def mend(text: str) -> str:
    """``text`` made storable as UTF-8: a surrogate pair split into two code points is joined,
    a lone surrogate becomes U+FFFD. Text without surrogates is returned as it is."""
    if text.isascii() or not _SURROGATES.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _mended(post: Post, name: str, flags: set[str]) -> str:
    """A text field of ``post``, checked and mended; a repair adds the flag "repaired"."""
    value = _required_str(post, name)
    fixed = mend(value)
    if fixed != value:
        flags.add("repaired")
    return fixed


def clean_text(text: str, limit: int = MAX_TEXT) -> tuple[str, set[str]]:
    """Return display text and the flags raised while cleaning it."""
    flags: set[str] = set()
    if not text.isascii():
        mended = mend(text)
        if mended != text:
            text = mended
            flags.add("repaired")
        text = unicodedata.normalize("NFC", text)
    if "<" in text or "&" in text:
        unescaped = html.unescape(text)
        text = html.unescape(nh3.clean(text, tags=set()))
        if text != unescaped:
            flags.add("markup")
    # Most posts are printable ASCII: no controls, and no space but " " (ingest's hot path).
    plain = text.isascii() and text.isprintable()
    controls = 0
    if not plain:
        text, controls = _CONTROLS.subn(" ", text)
    invisibles = 0
    if not text.isascii():
        # Joined, not spaced: "ha\u200bte" must read (and be filtered) as "hate".
        text, invisibles = _INVISIBLES.subn("", text)
        text, towers = _ZALGO.subn(r"\1", text)
        if towers:
            flags.add("zalgo")
        if _RTL.search(text):
            flags.add("rtl")
    if controls or invisibles:
        flags.add("hidden_chars")
    if not plain or "  " in text:
        text = _SPACE.sub(" ", text)
    text = text.strip()
    if len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        text = text[: cut if cut > 0 else limit - 1].rstrip() + "…"
        flags.add("truncated")
    return text, flags


def clean_url(url: str) -> str:
    """Only plain http(s) links survive: a ``javascript:`` link on a console is an attack, and
    so is ``https://trusted.example@evil.example/`` (user info: the host is after the "@"), or
    a link with spaces or invisible characters hiding where it goes."""
    url = mend(url).strip()
    if _unfit(url):
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return ""
    return url


def clean_time(value: str) -> str:
    try:
        return datetime.fromisoformat(value.strip()).isoformat() if value else ""
    except ValueError:
        return ""


def _required_str(post: Post, name: str) -> str:
    value = getattr(post, name)
    if not isinstance(value, str):
        raise InvalidPost(f"field '{name}': expected text, got {type(value).__name__}")
    return value


def fold(text: str) -> str:
    """Text as compared for hashtags: compatibility forms unified (full-width letters), then
    case-folded (so "#STRASSE" matches "#Straße")."""
    return unicodedata.normalize("NFKC", text).casefold()


def tag_matcher(tags: list[str]) -> re.Pattern[str]:
    """A pattern finding any of ``tags`` as a whole hashtag in folded text."""
    alternatives = "|".join(re.escape(fold(tag)) for tag in tags)
    return re.compile(f"(?:{alternatives})(?!\\w)")


def normalise(post: Post) -> Question:
    """Clean one post into a new Question, or raise InvalidPost naming what is wrong."""
    if post.platform not in PLATFORMS:
        raise InvalidPost(
            f"field 'platform': unknown platform {post.platform!r} "
            f"(expected one of {', '.join(PLATFORMS)})"
        )
    native_id = _required_str(post, "native_id").strip()
    if not native_id or len(native_id) > MAX_ID or _unfit(native_id):
        # An id is matched exactly (retractions, replays): never repaired, refused.
        raise InvalidPost(f"field 'id': not a usable id (empty, too long, or with spaces, "
                          f"control or invisible characters): {native_id[:40]!r}")
    flags = set(post.flags)
    original = _mended(post, "text", flags)
    if len(original) > MAX_ORIGINAL:
        original = original[:MAX_ORIGINAL]
        flags.add("original_capped")
    text, text_flags = clean_text(original)
    if not text:
        raise InvalidPost("field 'text': nothing left to read after cleaning")
    flags |= text_flags
    if _QUESTION_MARK.search(text):
        flags.add("question")
    names = [clean_text(_mended(post, name, flags), MAX_NAME)[0]
             for name in ("author_name", "author_handle")]
    return Question(
        id=f"{post.platform}:{native_id}",
        platform=post.platform,
        text=text,
        original=original,
        author_name=names[0],
        author_handle=names[1],
        url=clean_url(_mended(post, "url", flags)),
        posted_at=clean_time(_mended(post, "posted_at", flags)),
        received_at=utc_now(),
        flags=sorted(flags),
    )
