"""The semantic backend (the [semantic] extra): skipped where it is not installed."""

from __future__ import annotations

import pytest

from aggregator.triage.semantic import SemanticIndex, available

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
