"""Normalisation of hostile posts: what a moderator and the board will read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.core.normalise import MAX_TEXT, InvalidPost, clean_text, clean_url, normalise
from aggregator.core.question import Post


def post(text: str, **fields: object) -> Post:
    return Post(**{"platform": "x", "native_id": "1", "text": text, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "text", "flags"), [
    ("Q&amp;A: what about A&amp;E?", "Q&A: what about A&E?", {"question"}),
    ("<script>alert('x')</script>Why?", "Why?", {"markup", "question"}),
    ("<img src=x onerror=alert(1)>budget", "budget", {"markup"}),
    ('<a href="javascript:alert(1)">click</a> here', "click here", {"markup"}),
    ("&lt;script&gt; is what I typed", "<script> is what I typed", set()),
    ("ha\u200bte spe\u2060ech\ufeff", "hate speech", {"hidden_chars"}),
    ("evil \u202etxt.exe", "evil txt.exe", {"hidden_chars"}),
    ("bell\u0007 null\u0000 esc\u001b[31m", "bell null esc [31m", {"hidden_chars"}),
    ("  many\n\n lines\t\tand   spaces  ", "many lines and spaces", set()),
    (" plain  ASCII   spaces ", "plain ASCII spaces", set()),  # ingest's fast path
    ("ما هي خطة التمويل؟", "ما هي خطة التمويل؟", {"rtl", "question"}),
    # NFC first makes Z + acute one letter; then no more than three marks stay on it.
    ("Z\u0301\u0302\u0303\u0304\u0305\u0306a", "\u0179\u0302\u0303\u0304a", {"zalgo"}),
])
def test_hostile_text_is_cleaned_and_flagged(raw: str, text: str, flags: set[str]) -> None:
    question = normalise(post(raw))
    assert question.text == text
    assert set(question.flags) == flags
    assert question.original == raw


def test_emoji_sequences_survive() -> None:
    raw = "👩‍⚕️ nurses and 👨‍👩‍👧 families 🏴󠁧󠁢󠁷󠁬󠁳󠁿 Wales?"
    question = normalise(post(raw))
    assert question.text == raw
    assert "hidden_chars" not in question.flags


def test_a_wall_of_text_is_cut_at_a_word_and_flagged() -> None:
    raw = "why " * 2_600
    question = normalise(post(raw))
    assert len(question.text) <= MAX_TEXT
    assert question.text.endswith("why…")
    assert "truncated" in question.flags
    assert question.original == raw


def test_only_web_links_are_kept() -> None:
    assert clean_url("https://x.com/a/status/1") == "https://x.com/a/status/1"
    assert clean_url("javascript:alert(1)") == ""
    assert clean_url("data:text/html,<b>") == ""
    assert clean_url("http://[::1") == ""
    assert normalise(post("hi", url="javascript:alert(1)")).url == ""


@pytest.mark.parametrize("url", [
    "https://evil.example@x.com/a/status/1",  # the host is x.com: what is read first lies
    "https://user:pass@x.com/",
    "https://x.com@evil.example/",
    "https://x.com/a\u202e/status",  # a bidi override hides where the link goes
    "https://x.com/a b",
    "https://x.com:notaport/",
    "https:///no-host",
])
def test_links_that_hide_where_they_go_are_dropped(url: str) -> None:
    assert clean_url(url) == ""
    assert normalise(post("hi", url=url)).url == ""


def test_ids_times_and_names() -> None:
    question = normalise(post("Why?", native_id=" 1790 ", author_name="<b>Ann</b>\u200b",
                              posted_at="2026-05-14T10:00:05.000Z"))
    assert question.id == "x:1790"
    assert question.author_name == "Ann"
    assert question.posted_at == "2026-05-14T10:00:05+00:00"
    assert normalise(post("Why?", posted_at="yesterday")).posted_at == ""


@pytest.mark.parametrize(("fields", "message"), [
    ({"platform": "tiktok"}, "field 'platform': unknown platform 'tiktok'"),
    ({"native_id": ""}, "field 'id': not a usable id"),
    ({"native_id": "a b"}, "field 'id': not a usable id"),
    ({"native_id": "12\x07"}, "field 'id': not a usable id"),
    ({"native_id": "12\x00"}, "field 'id': not a usable id"),
    ({"native_id": "12\u200b3"}, "field 'id': not a usable id"),
    ({"native_id": "12\u202e3"}, "field 'id': not a usable id"),
    ({"native_id": "12\ud83d"}, "field 'id': not a usable id"),
    ({"text": None}, "field 'text': expected text, got NoneType"),
    ({"text": 42}, "field 'text': expected text, got int"),
    ({"text": "<p>\u200b</p>"}, "field 'text': nothing left to read"),
    ({"author_name": ["Ann"]}, "field 'author_name': expected text, got list"),
])
def test_unusable_posts_say_which_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPost, match=message.replace("(", r"\(")):
        normalise(post(**{"text": "Why?", **fields}))  # type: ignore[arg-type]


@given(st.text(max_size=3_000))
def test_any_text_comes_out_clean(raw: str) -> None:
    text, flags = clean_text(raw)
    assert len(text) <= MAX_TEXT
    assert text == text.strip()
    assert "  " not in text
    assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in text)
    assert not any(c in text for c in "\u200b\u202e\u2066\ufeff")
    assert clean_text(text)[0] == text  # cleaning is idempotent
