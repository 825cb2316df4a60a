"""What a post asks, as the duplicate index compares it.

People ask the board the same thing in their own ways: with a story first ("My dad waited 7
hours last week. Why are waits so long?"), angry, with their postcode or phone number, with
hashtags, mentions, emoji and markup. None of that says which question they ask, and all of it
pulls two wordings of one question apart (measured on real questions reposted with such
additions: the semantic backend found 0.03 of the reposts with a story first). ``asked`` keeps
the words that ask:

- markup, links, mentions, emoji and the hashtags before or after the words go; a hashtag
  inside a sentence keeps its word ("why is #NHS dental care..." asks about NHS dental care);
- personal data goes (``aggregator.base.personal``: a postcode or phone number is the asker's,
  not the question's, and its digits would read as a different number asked about);
- when some sentences ask and others tell, the asking ones are kept, if they say enough on
  their own (three content words or more; "Why?" after a story keeps the story).
"""

from __future__ import annotations

import html
import re

from aggregator.base import personal
from aggregator.followers.triage import questions

URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"(?<![\w@])@\w+")
EDGE_TAGS = re.compile(r"^(?:\s*[#@]\w+)+|(?:\s*[#@]\w+)+\s*$")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # [words](address): the words stay
MARKUP = re.compile(r"<[^>]+>|[*_`~|>]+")
LABEL = re.compile(r"^\s*(?:q|question|qu)\s*[:.-]\s*", re.IGNORECASE)
# Letters, digits, spaces and the punctuation that ends or joins words; emoji and symbols go.
NOT_TEXT = re.compile(r"[^\w\s.,;:!?'’&/()-]", re.UNICODE)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*", re.UNICODE)
CONTENT = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
ENOUGH = 3  # content words an asking sentence needs to stand for the post


def clean(text: str) -> str:
    """``text`` without markup, links, mentions, emoji, edge hashtags or personal data."""
    text = html.unescape(text)
    text = personal.mask(text).replace(personal.MASK, " ")
    text = URL.sub(" ", LINK.sub(r" \1 ", text))
    while (stripped := EDGE_TAGS.sub(" ", text)) != text:
        text = stripped
    text = MENTION.sub(" ", text).replace("#", " ")
    text = MARKUP.sub(" ", text)
    text = LABEL.sub("", NOT_TEXT.sub(" ", text))
    return re.sub(r"\s+", " ", text).strip()


def _asks(sentence: str) -> bool:
    return ("?" in sentence or questions.WH_START.search(sentence) is not None
            or questions.AUX_START.search(sentence) is not None
            or questions.DEMAND.search(sentence) is not None)


def asked(text: str) -> str:
    """The words of ``text`` that ask (see the module's docstring)."""
    body = clean(text)
    sentences = [s.strip() for s in SENTENCE.findall(body) if s.strip()]
    asking = [s for s in sentences if _asks(s)]
    if asking and len(asking) < len(sentences):
        kept = " ".join(asking)
        if len(CONTENT.findall(kept)) >= ENOUGH:
            return kept
    return body
