"""Suggest the open question a new post repeats.

Posts are compared by what they ask (``asked``: no story, tags, markup or personal data).
A new post is compared with candidates, not with every question. Two indexes propose them: a
MinHash LSH index (datasketch) over character 3-grams of each question's content words finds
reposts and light rewordings, and an inverted index of its rarer stemmed content words finds
rewordings that share a key term but few letters ("defibs" / "defibrillators" aside). The
semantic backend adds the nearest questions by meaning (``semantic``).

Each candidate pair is described by ``pairs.FEATURES`` (TF-IDF cosines from scikit-learn's
hashing vectoriser, with document frequencies counted as questions arrive so nothing is
refitted; rapidfuzz's token-set ratio; content-word overlap; key-term, number and question-kind
mismatches) and scored by the backend's fitted ``pairs.PairModel``; the best candidate at or
above the threshold is suggested.

A post suggested as a repeat stays in the index as an alias of the question it repeats: a later
post close to the repeat's words proposes the original, and is suggested only if it pairs well
with the original itself (no chains through a shared neighbour).
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from aggregator.followers.triage import pairs
from aggregator.followers.triage.asked import URL, asked
from aggregator.followers.triage.pairs import PairModel

STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from about as into
is are was were be been being do does did doing have has had having will would can could should
shall may might must i me my we our us you your he she it its they them their this that these
those there here what why when where who which how please just so also any some all very really
get got going go not no yes than then too more most much many""".split())
TAG = re.compile(r"[#@]\w+")
WORD = re.compile(r"[^\W_]+", re.UNICODE)
NUM_PERM = 64
LSH_THRESHOLD = 0.25
MAX_CHARS = 600  # a wall of text is compared by its start
MAX_CANDIDATES = 60  # pairs scored per post: bounded work when many questions share its words
# A word in more than this share of the open questions proposes no candidates (it would propose
# most of them); at least RARE_MIN questions may share any word.
RARE_SHARE, RARE_MIN = 0.02, 20


def plain(text: str) -> str:
    """Lower-case stemmed content words: no links, hashtags, mentions, punctuation or stop
    words."""
    text = TAG.sub(" ", URL.sub(" ", text[:MAX_CHARS].lower()))
    return " ".join(pairs.stem([w for w in WORD.findall(text) if w not in STOPWORDS]))


def shingles(words: str) -> set[bytes]:
    padded = f" {words} "
    return {padded[i:i + 3].encode("utf-8") for i in range(max(1, len(padded) - 2))}


@dataclass(frozen=True)
class Suggestion:
    qid: str
    score: float


@dataclass
class _Doc:
    text: str
    words: str
    terms: frozenset[str]
    kind: str
    numbers: frozenset[str]
    names: frozenset[str]
    negated: bool
    w: sparse.csr_matrix
    c: sparse.csr_matrix
    root: str  # the question this one repeats, or its own id


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

    def cosines(self, query: sparse.csr_matrix, rows: list[sparse.csr_matrix]) -> np.ndarray:
        m = self.weigh(sparse.vstack([query, *rows]).tocsr())
        return (m[1:] @ m[0].T).toarray().ravel()

    def weigh(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        # scikit-learn's smooth idf with sublinear tf, then unit length (idf only where used).
        out = rows.astype(np.float64)
        idf = np.log((1 + self.docs) / (1 + self.df[out.indices])) + 1
        out.data = (1 + np.log(out.data)) * idf
        lengths = np.diff(out.indptr)
        # Per row, by bincount: a row with no terms (a question of one-letter words) may be
        # last, where reduceat would index past the end.
        squares = np.bincount(np.repeat(np.arange(out.shape[0]), lengths),
                              weights=out.data ** 2, minlength=out.shape[0])
        norms = np.ones(out.shape[0])
        norms[lengths > 0] = np.sqrt(squares[lengths > 0])
        out.data /= np.repeat(norms, lengths)
        return out


class DuplicateIndex:
    """The open questions, indexed; ``suggest`` finds the one a new post repeats."""

    def __init__(self, threshold: float | None = None, model: PairModel = pairs.LEXICAL) -> None:
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold
        self.lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self.words = _Vectors("word", (1, 2))
        self.chars = _Vectors("char_wb", (3, 5))
        self.docs: dict[str, _Doc] = {}
        self.postings: dict[str, set[str]] = {}
        self.aliases: dict[str, set[str]] = {}  # root -> the repeats indexed as its aliases
        self.texts: dict[str, str] = {}  # content words -> the first question indexed with them

    def __len__(self) -> int:
        return len(self.docs)

    def __contains__(self, qid: object) -> bool:
        return qid in self.docs

    def prepare(self, texts: list[str]) -> None:
        """Get ready to compare and index these texts (the semantic backend encodes them in one
        batch: several times faster than one by one); nothing to do here."""

    def indexed(self, qid: str) -> tuple[str, str] | None:
        """The text and the root ``qid`` was indexed with, if it is."""
        doc = self.docs.get(qid)
        return (doc.text, doc.root) if doc else None

    @staticmethod
    def _minhash(words: str) -> MinHash:
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(list(shingles(words)))
        return m

    def _describe(self, text: str, root: str) -> _Doc | None:
        ask = asked(text[:MAX_CHARS])
        words = plain(ask)
        if not words:
            return None
        return _Doc(text, words, frozenset(words.split()), pairs.kind(ask),
                    pairs.numbers(words), pairs.names(ask), pairs.negated(ask),
                    self.words.counts([words]),
                    self.chars.counts([words]), root)

    def add(self, qid: str, text: str, root: str = "") -> None:
        """Index ``qid``; with ``root``, as a repeat of that indexed question."""
        if qid in self.docs or (root and root not in self.docs):
            return
        root = self.docs[root].root if root else qid
        doc = self._describe(text, root)
        if doc is None or (root != qid and doc.words in self.texts):
            return  # a copy of an indexed question's words adds nothing (a storm stays small)
        self.texts.setdefault(doc.words, qid)
        self.words.learn(doc.w)
        self.chars.learn(doc.c)
        self.docs[qid] = doc
        for term in doc.terms:
            self.postings.setdefault(term, set()).add(qid)
        if root != qid:
            self.aliases.setdefault(root, set()).add(qid)
        self.lsh.insert(qid, self._minhash(doc.words))

    def remove(self, qid: str) -> None:
        """Take ``qid`` out, and the repeats indexed as its aliases."""
        doc = self.docs.pop(qid, None)
        if doc is None:
            return
        self.words.forget(doc.w)
        self.chars.forget(doc.c)
        for term in doc.terms:
            holders = self.postings.get(term)
            if holders is not None:
                holders.discard(qid)
                if not holders:
                    del self.postings[term]
        self.lsh.remove(qid)
        if self.texts.get(doc.words) == qid:
            del self.texts[doc.words]
        if doc.root != qid:
            self.aliases.get(doc.root, set()).discard(qid)
        for alias in sorted(self.aliases.pop(qid, set())):
            self.remove(alias)

    def _idf(self, term: str) -> float:
        return math.log((1 + len(self.docs)) / (1 + len(self.postings.get(term, ())))) + 1

    def candidates(self, doc: _Doc, exclude: str, also: frozenset[str]) -> list[str]:
        """The indexed questions worth scoring against ``doc``: those the LSH index finds alike
        in letters and those sharing a rarer word, the ``MAX_CANDIDATES`` sharing the most
        (IDF-weighted) first; then ``also``."""
        shared = dict.fromkeys(self.lsh.query(self._minhash(doc.words)), 0.0)
        rare = max(RARE_MIN, int(RARE_SHARE * len(self.docs)))
        for term in doc.terms:
            holders = self.postings.get(term, set())
            if len(holders) <= rare:
                weight = self._idf(term)
                for q in holders:
                    shared[q] = shared.get(q, 0.0) + weight
        shared.pop(exclude, None)
        if len(shared) > MAX_CANDIDATES:
            ranked = heapq.nlargest(MAX_CANDIDATES, shared.items(), key=lambda kv: (kv[1], kv[0]))
            found = [q for q, _ in ranked]
        else:
            found = sorted(shared)
        return found + sorted(q for q in also if q in self.docs and q != exclude
                              and q not in shared)

    def features(self, doc: _Doc, found: list[str],
                 meaning: np.ndarray | None = None) -> np.ndarray:
        """One row of ``pairs.FEATURES`` per candidate; ``meaning`` holds the semantic backend's
        columns (``pairs.SEMANTIC_FEATURES``), zero without it."""
        others = [self.docs[q] for q in found]
        x = np.zeros((len(found), len(pairs.FEATURES)))
        if not found:
            return x
        x[:, 0] = self.chars.cosines(doc.c, [o.c for o in others])
        x[:, 1] = self.words.cosines(doc.w, [o.w for o in others])
        idf = {t: self._idf(t) for t in doc.terms.union(*(o.terms for o in others))}
        top = math.log(1 + len(self.docs)) + 1
        for i, other in enumerate(others):
            x[i, 2] = fuzz.token_set_ratio(doc.words, other.words) / 100
            shared = sum(idf[t] for t in doc.terms & other.terms)
            least = min(sum(idf[t] for t in doc.terms), sum(idf[t] for t in other.terms))
            x[i, 3] = shared / least if least else 0.0
            ours = [idf[t] for t in doc.terms - other.terms if idf[t] >= pairs.SWAP_IDF]
            theirs = [idf[t] for t in other.terms - doc.terms if idf[t] >= pairs.SWAP_IDF]
            x[i, 4] = min(max(ours), max(theirs)) / top if ours and theirs else 0.0
            x[i, 5] = float(bool(doc.numbers and other.numbers
                                 and not doc.numbers & other.numbers))
            x[i, 6] = float(bool(doc.kind and other.kind and doc.kind != other.kind))
            most = max(sum(idf[t] for t in doc.terms), sum(idf[t] for t in other.terms))
            x[i, 7] = shared / most if most else 0.0
            x[i, 8] = float(doc.negated != other.negated)
            x[i, 9] = float(pairs.opposite(doc.terms, other.terms))
            x[i, 10] = float(bool(doc.names and other.names and not doc.names & other.names))
        if meaning is not None:
            first = pairs.FEATURES.index(pairs.SEMANTIC_FEATURES[0])
            x[:, first:first + meaning.shape[1]] = meaning
        return x

    def _meaning(self, text: str, doc: _Doc, found: list[str],
                 exclude: str) -> tuple[list[str], np.ndarray | None]:
        """The semantic backend's nearest questions and its columns of each pair; none here."""
        return found, None

    def pairs(self, text: str, exclude: str = "",
              also: frozenset[str] = frozenset()) -> tuple[list[str], np.ndarray]:
        """The candidates for ``text`` and their features (for the bench's fitting); the
        question each candidate repeats is a candidate too."""
        doc = self._describe(text, "")
        if doc is None or not self.docs:
            return [], np.zeros((0, len(pairs.FEATURES)))
        found = self.with_roots(self.candidates(doc, exclude, also), exclude)
        found, meaning = self._meaning(text, doc, found, exclude)
        return found, self.features(doc, found, meaning)

    def with_roots(self, found: list[str], exclude: str) -> list[str]:
        """``found`` and, after it, the question each of them repeats."""
        roots = sorted({self.docs[q].root for q in found} - set(found) - {exclude})
        return found + roots

    def scores(self, text: str, exclude: str = "",
               also: frozenset[str] = frozenset()) -> list[Suggestion]:
        """The questions ``text`` may repeat, best first, each scored by the pair of ``text``
        and that question itself: a post joins a group only when it pairs well with the
        group's first question, not through one of its repeats (no chains of templates,
        "Oxford" -> "Bristol" -> "Leeds"). The repeats still propose their group."""
        found, x = self.pairs(text, exclude, also)
        best = {qid: float(p) for qid, p in zip(found, self.model.probability(x), strict=True)
                if self.docs[qid].root == qid and qid != exclude}
        return sorted((Suggestion(q, round(p, 3)) for q, p in best.items()),
                      key=lambda s: (-s.score, s.qid))

    def suggest(self, text: str, exclude: str = "") -> Suggestion | None:
        best = self.scores(text, exclude)
        return best[0] if best and best[0].score >= self.threshold else None
