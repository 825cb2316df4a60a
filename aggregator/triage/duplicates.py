"""Suggest the open question a new post repeats.

A new post is compared with candidates, not with every question: a MinHash LSH index
(datasketch) over character 3-grams of each open question's plain words returns those that
share enough of the post's letters. Each candidate is then scored with TF-IDF cosine over word
1-2-grams and character 3-5-grams (scikit-learn's hashing vectoriser; the document frequencies
are counted as questions arrive, so nothing is refitted) and rapidfuzz's token-set ratio. The
best candidate above the threshold is suggested.

Letters find reposts and light rewordings; a paraphrase with other words ("handover delays" /
"ambulances queuing outside A&E") needs meaning: see ``semantic`` for the optional backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from about as into
is are was were be been being do does did doing have has had having will would can could should
shall may might must i me my we our us you your he she it its they them their this that these
those there here what why when where who which how please just so also any some all very really
get got going go not no yes than then too more most much many""".split())
URL = re.compile(r"https?://\S+|www\.\S+")
TAG = re.compile(r"[#@]\w+")
WORD = re.compile(r"[^\W_]+", re.UNICODE)
NUM_PERM = 64
LSH_THRESHOLD = 0.25
THRESHOLD = 0.7  # combined score at or above which a repeat is suggested
MAX_CHARS = 600  # a wall of text is compared by its start
MAX_CANDIDATES = 200
NUMBER = re.compile(r"\d+")
# Two questions that name different numbers ("Category 1" / "Category 2") ask different things,
# however many letters they share.
NUMBERS_DIFFER = 0.6


def plain(text: str) -> str:
    """Lower-case content words: no links, hashtags, mentions, punctuation or stop words."""
    text = TAG.sub(" ", URL.sub(" ", text[:MAX_CHARS].lower()))
    words = [w.rstrip("s") if len(w) > 3 else w for w in WORD.findall(text)]
    return " ".join(w for w in words if w not in STOPWORDS)


def shingles(words: str) -> set[bytes]:
    padded = f" {words} "
    return {padded[i:i + 3].encode("utf-8") for i in range(max(1, len(padded) - 2))}


@dataclass(frozen=True)
class Suggestion:
    qid: str
    score: float


class _Vectors:
    """TF-IDF with document frequencies counted as documents arrive."""

    def __init__(self, analyzer: str, ngram_range: tuple[int, int]) -> None:
        self.hasher = HashingVectorizer(analyzer=analyzer, ngram_range=ngram_range,
                                        n_features=2**18, alternate_sign=False, norm=None)
        self.df = np.zeros(2**18, dtype=np.float64)
        self.docs = 0

    def counts(self, texts: list[str]) -> sparse.csr_matrix:
        return self.hasher.transform(texts).tocsr()

    def learn(self, row: sparse.csr_matrix) -> None:
        self.df[row.indices] += 1
        self.docs += 1

    def forget(self, row: sparse.csr_matrix) -> None:
        self.df[row.indices] = np.maximum(0, self.df[row.indices] - 1)
        self.docs = max(0, self.docs - 1)

    def weigh(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        # scikit-learn's smooth idf with sublinear tf, then unit length (idf only where used).
        out = rows.astype(np.float64)
        idf = np.log((1 + self.docs) / (1 + self.df[out.indices])) + 1
        out.data = (1 + np.log(out.data)) * idf
        squares = np.add.reduceat(out.data ** 2, out.indptr[:-1]) if out.nnz else np.zeros(0)
        lengths = np.diff(out.indptr)
        norms = np.ones(out.shape[0])
        norms[lengths > 0] = np.sqrt(squares[lengths > 0])
        out.data /= np.repeat(norms, lengths)
        return out


class DuplicateIndex:
    """The open questions, indexed; ``suggest`` finds the one a new post repeats."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self.words = _Vectors("word", (1, 2))
        self.chars = _Vectors("char_wb", (3, 5))
        self.docs: dict[str, tuple[str, sparse.csr_matrix, sparse.csr_matrix]] = {}

    def __len__(self) -> int:
        return len(self.docs)

    def __contains__(self, qid: object) -> bool:
        return qid in self.docs

    @staticmethod
    def _minhash(words: str) -> MinHash:
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(list(shingles(words)))
        return m

    def add(self, qid: str, text: str) -> None:
        if qid in self.docs:
            return
        words = plain(text)
        if not words:
            return
        w, c = self.words.counts([words]), self.chars.counts([words])
        self.words.learn(w)
        self.chars.learn(c)
        self.docs[qid] = (words, w, c)
        self.lsh.insert(qid, self._minhash(words))

    def remove(self, qid: str) -> None:
        doc = self.docs.pop(qid, None)
        if doc is None:
            return
        self.words.forget(doc[1])
        self.chars.forget(doc[2])
        self.lsh.remove(qid)

    def scores(self, text: str, exclude: str = "",
               also: frozenset[str] = frozenset()) -> list[Suggestion]:
        """Candidates from the LSH index (and ``also``), best first, with their combined
        score."""
        words = plain(text)
        if not words:
            return []
        found = sorted(q for q in self.lsh.query(self._minhash(words)) if q != exclude)
        found = found[-MAX_CANDIDATES:]  # the newest, when a storm of look-alikes matches
        found += sorted(q for q in also if q in self.docs and q != exclude and q not in found)
        if not found:
            return []
        w = self.words.weigh(sparse.vstack([self.words.counts([words])]
                                           + [self.docs[q][1] for q in found]).tocsr())
        c = self.chars.weigh(sparse.vstack([self.chars.counts([words])]
                                           + [self.docs[q][2] for q in found]).tocsr())
        word_cos = (w[1:] @ w[0].T).toarray().ravel()
        char_cos = (c[1:] @ c[0].T).toarray().ravel()
        out = []
        for i, qid in enumerate(found):
            other = self.docs[qid][0]
            fuzzy = fuzz.token_set_ratio(words, other) / 100
            combined = 0.4 * float(char_cos[i]) + 0.3 * float(word_cos[i]) + 0.3 * fuzzy
            ours, theirs = set(NUMBER.findall(words)), set(NUMBER.findall(other))
            if ours and theirs and not ours & theirs:
                combined *= NUMBERS_DIFFER
            out.append(Suggestion(qid, round(combined, 3)))
        return sorted(out, key=lambda s: (-s.score, s.qid))

    def suggest(self, text: str, exclude: str = "") -> Suggestion | None:
        best = self.scores(text, exclude)
        return best[0] if best and best[0].score >= self.threshold else None
