"""Whether two questions ask the same thing: what they share, where they differ, and the fitted
weights that turn that into a probability.

Every feature is in [0, 1] (or is 0/1):

- ``char``, ``word``: TF-IDF cosine of character 3-5-grams and of word 1-2-grams (of the stemmed
  content words); ``fuzzy``: rapidfuzz's token-set ratio of the same words;
- ``overlap``: the IDF-weighted share of the shorter question's content words the other has;
- ``swap``: both sides have a rare word the other lacks ("consultants" / "agency staff",
  "compliments" / "complaints"), the rarer of the two, scaled: a hard-negative signal;
- ``numbers``: both name numbers and none is shared ("Category 1" / "Category 2"); this one
  is also a rule, not only a weight: such a pair is never suggested (``PairModel.probability``);
- ``kind``: both ask a recognisable kind of question (why, how many, when, who, yes or no) and
  the kinds differ ("Will the unit reopen?" / "Why did the unit close?");
- the semantic backend's (0 for the lexical one; ``semantic`` defines them): ``meaning``, the
  sentence-embedding cosine; ``align``, the token alignment (BERTScore F1); ``differ``, the
  alignment of the word pieces the two do not share.

A logistic regression over these was fitted by ``python bench/triage.py --fit`` on the labelled
file, with its threshold chosen on the training folds only; the figures it reports are held out
(folds by topic, so no question is scored by weights fitted on its own cluster or hard
negatives). The weights below are its output for the whole file; refit when the features change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import snowballstemmer

SEMANTIC_FEATURES = ("meaning", "align", "differ")  # 0 for the lexical backend
FEATURES = ("char", "word", "fuzzy", "overlap", "swap", "numbers", "kind", *SEMANTIC_FEATURES)

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


def stem(words: list[str]) -> list[str]:
    return [str(w) for w in _STEM.stemWords(words)]


def kind(text: str) -> str:
    found = KINDS.search(text.lower())
    name = found.lastgroup if found else None
    return "" if name in (None, "what") else str(name)


def numbers(text: str) -> frozenset[str]:
    return frozenset(NUMBER.findall(text))


@dataclass(frozen=True)
class PairModel:
    """Logistic regression over ``FEATURES``; a pair at or above ``threshold`` is a repeat."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))
        # Different numbers ask different things however alike the rest: a hard negative.
        return np.where(x[:, FEATURES.index("numbers")] > 0, 0.0, p)


# Fitted by `python bench/triage.py --fit` (see the module's docstring).
LEXICAL = PairModel((4.422, 0.121, 1.605, 3.044, -0.192, -1.593, -1.891, 0.0, 0.0, 0.0), -5.915,
                    0.7)
SEMANTIC = PairModel((2.639, -0.169, 0.374, 1.672, -0.215, -1.632, -1.714, 2.868, 3.01, 4.173),
                     -8.718, 0.6)
