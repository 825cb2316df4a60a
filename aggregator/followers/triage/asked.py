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
- when some sentences ask and others tell, the asking ones are kept with the telling ones that
  set out what is asked about ("Upper Darrow is 40 minutes from the nearest station. What is
  the plan for rural cover?": a place, a person, a number, or many words), not those about the
  asker ("My dad waited 7 hours", "I'm 67") or how they feel ("Absolutely disgraceful!!!",
  "Sick of being ignored."); if what is kept says too little on its own ("Why?" after a
  story), the whole post is.
"""

from __future__ import annotations

import html
import re

from aggregator.base import personal
from aggregator.followers.triage import pairs, questions

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
ENOUGH = 3  # content words a sentence needs to say something (and the kept ones, the post)
SAYS_A_LOT = 6  # content words of a telling sentence that sets out its topic without a name
PERSONAL = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|im|me|my|mine|we|we're|we've|us|our|ours)\b",
                      re.IGNORECASE)


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


def asked(text: str) -> str:
    """The words of ``text`` that ask (see the module's docstring)."""
    body = clean(text)
    sentences = [s.strip() for s in SENTENCE.findall(body) if s.strip()]
    if not any(questions.asks(s) for s in sentences):
        return body
    kept = " ".join(s for s in sentences if questions.asks(s) or _sets_out(s))
    return kept if len(CONTENT.findall(kept)) >= ENOUGH else body


def _sets_out(sentence: str) -> bool:
    """A telling sentence that says what is asked about (it names a place, a person or a
    number, or says a lot), not who asks or how they feel ("Sick of being ignored.")."""
    if sentence.endswith("!") or PERSONAL.search(sentence) is not None:
        return False
    words = len(CONTENT.findall(sentence))
    return words >= ENOUGH and (bool(pairs.names(sentence)) or bool(pairs.NUMBER.search(sentence))
                                or words >= SAYS_A_LOT)
