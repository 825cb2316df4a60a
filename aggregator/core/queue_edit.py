"""How a log entry says the queue changed: the ids that left or moved, then where each id that
joined or moved now stands, not the whole queue again.

An approval in a queue of a thousand questions is then one id on the wire, not a thousand, for
every console, the ledger and the log alike. ``{"drop": [ids], "put": [[index, id], ...],
"length": n}``: remove every id in ``drop``, then insert each ``put`` id at its index, in the
order given (indexes rising); ``length`` is the queue's length after, for a reader to check
itself against. The ids left in place are the longest run whose order the change kept, so a
reorder moves one id, whichever way it went. ``web/static/console/state.js`` applies the same
edits (``tests/js/fixtures/queue_edits.json`` holds cases both sides run).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TypedDict


class QueueEdit(TypedDict):
    drop: list[str]
    put: list[tuple[int, str]]
    length: int


def diff(before: list[str], after: list[str]) -> QueueEdit:
    """The edit that makes ``after`` from ``before`` (each a list of distinct ids)."""
    stay = _kept_in_order(before, after)
    return {"drop": [qid for qid in before if qid not in stay],
            "put": [(index, qid) for index, qid in enumerate(after) if qid not in stay],
            "length": len(after)}


def apply(queue: list[str], edit: QueueEdit) -> list[str]:
    """``queue`` with ``edit`` made; ValueError when the result is not ``edit``'s length (the
    edit was made from another queue)."""
    dropped = set(edit["drop"])
    out = [qid for qid in queue if qid not in dropped]
    for index, qid in edit["put"]:
        out.insert(index, qid)
    if len(out) != edit["length"]:
        raise ValueError(f"the queue edit expects {edit['length']} ids, the queue has {len(out)}")
    return out


def _kept_in_order(before: list[str], after: list[str]) -> set[str]:
    """The most ids in both whose order is the same in both (a longest increasing subsequence
    of their places in ``before``, taken in ``after``'s order)."""
    place = {qid: i for i, qid in enumerate(before)}
    common = [qid for qid in after if qid in place]
    if all(place[a] < place[b] for a, b in zip(common, common[1:], strict=False)):
        return set(common)  # nothing moved: nearly every step
    tails: list[int] = []  # tails[k]: the smallest last place of a run of length k + 1
    ends: list[int] = []  # the index in ``common`` of that run's last id
    previous = [-1] * len(common)
    for i, qid in enumerate(common):
        k = bisect_left(tails, place[qid])
        if k == len(tails):
            tails.append(place[qid])
            ends.append(i)
        else:
            tails[k], ends[k] = place[qid], i
        previous[i] = ends[k - 1] if k else -1
    kept, i = set(), ends[-1] if ends else -1
    while i >= 0:
        kept.add(common[i])
        i = previous[i]
    return kept
