"""Whether two questions ask the same thing: what they share, where they differ, and the fitted
weights that turn that into a probability.

Every feature is in [0, 1] (or is 0/1):

- ``char``, ``word``: TF-IDF cosine of character 3-5-grams and of word 1-2-grams (of the stemmed
  content words); ``fuzzy``: rapidfuzz's token-set ratio of the same words;
- ``overlap``: the IDF-weighted share of the shorter question's content words the other has;
- ``swap``: both sides have a rare word the other lacks ("consultants" / "agency staff",
  "compliments" / "complaints"), the rarer of the two, scaled: a hard-negative signal;
- ``numbers``: both name numbers and none is shared ("Category 1" / "Category 2"); a rule
  (``VETOES``), not a weight: such a pair is never suggested (``PairModel.probability``);
- ``kind``: both ask a recognisable kind of question (why, how many, when, who, yes or no) and
  the kinds differ ("Will the unit reopen?" / "Why did the unit close?");
- ``cover``: the IDF-weighted share of the longer question's content words the other has (a
  vague question, "How do you save money?", covers little of any longer one: no hubs);
- ``negation``: one asks with a negation and the other without ("Why don't staff like..." /
  "Why do staff like...");
- ``opposite``: one has a word and the other its opposite ("like" / "dislike", "summer" /
  "winter", "rise" / "fall"), and neither has both; a rule, like ``numbers``;
- ``names``: both name places or people (capitalised words inside a sentence) and share none
  ("the wait in Reading" / "the wait in Slough"); a rule, like ``numbers``;
- the semantic backend's (0 for the lexical one; ``semantic`` defines them): ``meaning``, the
  sentence-embedding cosine; ``align``, the token alignment (BERTScore F1); ``differ``, the
  alignment of the word pieces the two do not share.

A logistic regression over these is fitted by ``python bench/triage.py --fit-pairs`` on real,
human-labelled training splits nobody on the project wrote (tests/triage/real/DATA.md:
BANKING77's and HINT3's questions, each streamed as a meeting, and reposts of them with a story,
tags or contact details; not COVID-Q's, a topic they never see), each weight held to the sign
its meaning gives (those sets label by intent, broader than "asks the same thing": left free,
hard-negative signals got positive weights), with the threshold giving precision 0.9 on those
candidates (0.93 for the semantic backend, whose sentence cosine scores a different ask on one
topic high: bench/triage.py); the semantic one over its own three features only (chosen on the
training splits: the letters and the rest added nothing to them). The rules (``VETOES``) are not
fitted: intent labels call "gain
weight" / "weight loss" or deliveries to two towns one intent, where the board would answer two
questions. ``bench/triage.py --real`` measures them on the held-out splits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import snowballstemmer

from aggregator.base import personal

SEMANTIC_FEATURES = ("meaning", "align", "differ")  # 0 for the lexical backend
FEATURES = ("char", "word", "fuzzy", "overlap", "swap", "numbers", "kind", "cover", "negation",
            "opposite", "names", *SEMANTIC_FEATURES)
VETOES = ("numbers", "names", "opposite")  # a pair with any of these is never suggested

_STEM = snowballstemmer.stemmer("english")
NUMBER = re.compile(r"\d+")
# The kind of question asked, from the question word that comes first ("Is there a service for
# callers who..." asks yes or no; "What happens when..." is a "what", which says nothing).
KINDS = re.compile(
    r"(?P<count>\bhow (?:many|much|often)\b|\bnumber of\b|\bwhat (?:share|percentage|"
    r"proportion)\b)|(?P<why>\bwhy\b)|(?P<when>\bwhen\b|\bwhat date\b|\bany date\b)|"
    r"(?P<who>\bwho(?:m|se)?\b)|(?P<where>\bwhere\b)|(?P<how>\bhow\b)|(?P<what>\bwhat\b)|"
    r"(?P<yesno>^\W*(?:is|are|was|were|will|would|can|could|should|do|does|did|has|have|"
    r"any)\b)")
SWAP_IDF = 3.0  # an IDF below this is a common word, not a key term (log scale, 1 = everywhere)
NEGATION = re.compile(r"\b(?:not|no|never|without|nobody|none|nothing|cannot|\w+n[’']t)\b",
                      re.IGNORECASE)
# Words and their opposites ("more" / "less" is not here: "more" is a stop word).
_OPPOSITES = """like dislike, increase decrease, rise fall, less more, fewer more, up down,
open close, open shut, start end, start stop, begin end, before after, best worst,
better worse, safe unsafe, safe dangerous, cheap expensive, earlier later, early late, win lose,
allow ban, accept reject, support oppose, gain loss, profit loss, positive negative, high low,
long short, fast slow, quick slow, full empty, agree disagree, pass fail, include exclude,
add remove, buy sell, hot cold, heat cold, summer winter, spring autumn, day night, urban rural,
public private, male female, men women, adult child, adult children, young old, import export,
hire fire, enough shortage, inside outside, online offline, permanent temporary"""
NAME = re.compile(r"(?<=[\w,;:)] )[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")
# Capitalised words that are not places or people: the masking rules' list (one list), and "Are".
NOT_NAME = personal.NOT_NAMES | {"Are"}


def stem(words: list[str]) -> list[str]:
    return [str(w) for w in _STEM.stemWords(words)]


OPPOSITES = tuple((a, b) for a, b in (stem(p.split()) for p in " ".join(
    _OPPOSITES.split()).split(", ")))


def kind(text: str) -> str:
    found = KINDS.search(text.lower())
    name = found.lastgroup if found else None
    return "" if name in (None, "what") else str(name)


def numbers(text: str) -> frozenset[str]:
    return frozenset(NUMBER.findall(text))


def names(text: str) -> frozenset[str]:
    """The places and people ``text`` names: runs of capitalised words inside a sentence (none
    from a text in capitals or title case, where capitals say nothing)."""
    words = text.split()
    if not words or sum(w[:1].isupper() for w in words) > 0.6 * len(words):
        return frozenset()
    return frozenset(m.group(0).lower() for m in NAME.finditer(text)
                     if m.group(0).split()[0] not in NOT_NAME)


def negated(text: str) -> bool:
    return NEGATION.search(text) is not None


def opposite(ours: frozenset[str], theirs: frozenset[str]) -> bool:
    """One side has a word and the other its opposite, and neither has both."""
    for a, b in OPPOSITES:
        for x, y in ((a, b), (b, a)):
            if x in ours and y in theirs and y not in ours and x not in theirs:
                return True
    return False


@dataclass(frozen=True)
class PairModel:
    """Logistic regression over ``FEATURES``; a pair at or above ``threshold`` is a repeat."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))
        # Different numbers, places or people ask different things however alike the rest.
        vetoed = (x[:, [FEATURES.index(v) for v in VETOES]] > 0).any(axis=1)
        return np.where(vetoed, 0.0, p)


# Fitted by `python bench/triage.py --fit-pairs` on the real training splits (see above).
# Contains information from HINT3 (https://github.com/hellohaptik/HINT3, Haptik), made available
# under the Open Database License 1.0, and from BANKING77 by PolyAI
# (https://github.com/PolyAI-LDN/task-specific-datasets), CC BY 4.0.
LEXICAL = PairModel((2.147, 1.367, 0.973, 0.703, 0.0, 0.0, -0.536, 1.279, -0.44, 0.0, 0.0, 0.0,
                     0.0, 0.0), -3.632, 0.76)
SEMANTIC = PairModel((0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.421, 3.237, 0.964),
                     -5.051, 0.63)
