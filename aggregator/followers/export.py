"""The published record: every question with its full history, as JSON lines."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from aggregator.core.store import Store

# Log entries read per round trip while building the histories.
CHUNK = 2_000


def histories(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Question id -> every log entry that changed it, oldest first (read in chunks)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    last = "0-0"
    while entries := store.log_after(last, count=CHUNK):
        for entry in entries:
            record: dict[str, Any] = dict(entry.to_dict())
            touched = {q["id"] for q in record.pop("qs")} | {entry.qid}
            for qid in touched:
                found[qid].append(record)
        last = entries[-1].id
    return found


def export_lines(store: Store) -> Iterator[str]:
    """One JSON object a question: its state now (original and edited text), its raw payload,
    and who did what to it, when."""
    history = histories(store)
    for qid in store.question_ids():
        question = store.question(qid)
        if question is None:
            continue
        record = {"question": question.to_dict(), "raw": store.raw(qid),
                  "history": history.get(qid, [])}
        yield json.dumps(record, ensure_ascii=False)
