"""The semantic backend (the [semantic] extra): skipped where it is not installed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aggregator.core.store import Store
from aggregator.followers.triage.duplicates import DuplicateIndex
from aggregator.followers.triage.pairs import FEATURES
from aggregator.followers.triage.semantic import SemanticIndex, alignment, available, encode

pytestmark = [pytest.mark.semantic,
              pytest.mark.skipif(not available(), reason="the [semantic] extra is not installed")]


@pytest.fixture(scope="module")
def index() -> SemanticIndex:
    return SemanticIndex(threshold=0.6)


def test_a_paraphrase_with_few_shared_letters_is_suggested(index: SemanticIndex) -> None:
    index.add("x:1", "What mental health support is there for patients in crisis who call 999?")
    index.add("x:2", "When will the old ambulances in the fleet be replaced?")
    found = index.suggest("What support is there for people in a mental health crisis who "
                          "ring 999?")
    assert found is not None and found.qid == "x:1"
    assert index.suggest("How is the trust supporting staff with the cost of living?") is None


def test_a_repost_with_a_story_or_tags_is_still_a_repeat(index: SemanticIndex) -> None:
    # Encoded whole, a story or a run of tags pulled the sentence vector away (3 in 100 real
    # questions reposted after a story were found): what the post asks is encoded instead.
    index.add("x:queue", "Why are ambulances queuing outside hospitals for hours?")
    for repost in ("My dad waited 7 hours outside A&E last Tuesday with chest pains. Why are "
                   "ambulances queuing outside hospitals for hours?",
                   "**Why are ambulances queuing outside hospitals for hours?** #NHS #APM2026 "
                   "@TrustBoard 😡"):
        found = index.suggest(repost)
        assert found is not None and found.qid == "x:queue", repost


def test_the_same_words_about_another_place_or_the_opposite_are_not_repeats(
        index: SemanticIndex) -> None:
    index.add("x:reading", "What is the wait for an ambulance in Reading?")
    index.add("x:dislike", "Why do staff dislike night shifts?")
    assert index.suggest("What is the wait for an ambulance in Slough?") is None
    assert index.suggest("Why do staff like night shifts?") is None


def test_the_worker_uses_the_backend_the_settings_choose(store: Store,
                                                         index: SemanticIndex) -> None:
    from aggregator.base.settings import TriageSettings
    from aggregator.followers.triage import semantic
    from aggregator.followers.triage.worker import TriageWorker
    from tests.posts import ingest

    loads = []

    def load_once() -> Any:
        loads.append(1)
        return index.encoder  # the module's model: loaded once per test run

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(semantic, "load_model", load_once)
        # With two questions indexed the word pieces' document frequencies say little: the
        # paraphrase below scores 0.50 there, under the backend's own 0.60 (the settings'
        # threshold is what this test also checks is used).
        worker = TriageWorker(store.conn, store.keys.event,
                              TriageSettings(backend="semantic", duplicate_threshold=0.45))
    assert isinstance(worker.index, SemanticIndex) and loads == [1]
    worker.setup()
    first, other = ingest(store, "Why are ambulances queuing outside A&E for hours?",
                          "When will the old ambulances in the fleet be replaced?")
    worker.drain()
    (paraphrase,) = ingest(store, "Ambulances stuck for hours outside A and E again: why?")
    worker.drain()
    q = store.question(paraphrase)
    assert q is not None and q.triage["suggest"]["qid"] == first
    assert len(loads) == 1


def test_a_paraphrase_sharing_no_letters_is_a_candidate_by_meaning(index: SemanticIndex) -> None:
    index.add("x:handover", "What is the board doing about handover delays at hospitals?")
    text = "Why are ambulances queuing outside A&E for hours?"
    found, x = index.pairs(text)
    assert "x:handover" in found  # proposed by meaning: the letter and word indexes miss it
    lexical = DuplicateIndex()
    lexical.add("x:handover", "What is the board doing about handover delays at hospitals?")
    assert "x:handover" not in lexical.pairs(text)[0]
    row = x[found.index("x:handover")]
    assert row[FEATURES.index("meaning")] > 0.3
    assert row[FEATURES.index("align")] > 0.2 and row[FEATURES.index("differ")] > 0.2


def test_bad_input_through_the_semantic_index(index: SemanticIndex) -> None:
    wall = ("Why are ambulances late? " * 500)[:10_000]
    texts = ["Pam ydy'r ambiwlans mor hwyr?", "为什么救护车等这么久？", "🚑🚑🚑", wall,
             "x" * 10_000, *["Why is the board ignoring us???"] * 20]
    for i, text in enumerate(texts):
        best = index.suggest(text, exclude=f"bad:{i}")
        index.add(f"bad:{i}", text, best.qid if best else "")
    assert index.suggest("Why is the board ignoring us?") is not None
    assert sum(1 for q in index.rows if q.startswith("bad:")) <= 6  # the storm is one entry
    best = index.suggest("Why is the board still ignoring us all?")
    assert best is not None and best.qid == "bad:5"
    index.add("bad:alias", "Why is the board still ignoring us all?", best.qid)
    assert "bad:alias" in index.rows
    index.remove("bad:5")  # the storm's first copy, and the repeats indexed as its aliases
    assert "bad:5" not in index.rows and "bad:alias" not in index.rows
    assert index.ids.count(None) == len(index.free) >= 2  # their rows are free for reuse


def test_a_question_is_kept_as_word_pieces_in_half_precision(index: SemanticIndex) -> None:
    index.add("x:pieces", "Why are ambulances queuing outside A&E for hours?")
    kept = index.encoded["x:pieces"]
    pieces = index.encoder.tokenizer.convert_ids_to_tokens(kept.ids.tolist())
    assert pieces == ["why", "are", "ambulance", "##s", "que", "##uing", "outside", "a", "e",
                      "for", "hours"]  # no [CLS], [SEP] or punctuation
    assert kept.tokens.dtype == np.float16 and kept.tokens.shape == (11, 384)
    assert np.allclose(np.linalg.norm(kept.tokens.astype(np.float32), axis=1), 1, atol=1e-3)
    held = index.piece_df[kept.ids].copy()
    index.remove("x:pieces")
    assert "x:pieces" not in index.encoded
    assert (index.piece_df[kept.ids] == held - 1).all()  # its pieces' document counts


def test_token_alignment_of_a_copy_a_rewording_and_another_question(
        index: SemanticIndex) -> None:
    model = index.encoder
    idf = np.ones(len(model.tokenizer))
    asked = encode(model, "Will crews get flu vaccinations this autumn?")
    assert alignment(asked, asked, idf) == pytest.approx((1.0, 1.0), abs=1e-3)
    reworded = alignment(asked, encode(model, "Will crews be given flu jabs this autumn?"), idf)
    other = alignment(asked, encode(model, "Will crews get new uniforms this autumn?"), idf)
    assert reworded[0] > other[0] and reworded[1] > other[1]
    # What is asked beyond the shared words ("flu vaccinations" / "new uniforms") has no
    # counterpart: the alignment of the words not shared falls further than the whole.
    assert other[1] < other[0] - 0.2

