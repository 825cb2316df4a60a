"""Triage measured on a labelled file: precision and recall for question detection, abuse,
personal data and duplicate pairs, and the assessment rate.

    python bench/triage.py [--posts tests/triage/posts.jsonl] [--labels tests/triage/labels.json]
                           [--smoke]

The posts are in the rehearsal format; the labels file maps each ``platform:id`` to
``question`` (bool), ``cluster`` (posts asking the same thing share it), ``abuse`` (bool) and
``personal`` (the kinds of personal data in it). Posts go through the same normalisation and
assessment as the worker's, in file order. A pair of posts is a predicted duplicate when triage's
suggestions join them (directly or through the question they both repeat). --smoke: the first 60
posts, for CI (checks it runs; the figures mean little).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.normalise import normalise  # noqa: E402
from aggregator.question import Post as SourcePost  # noqa: E402
from aggregator.triage.abuse import AbuseCheck  # noqa: E402
from aggregator.triage.assess import Assessor, Post  # noqa: E402
from aggregator.triage.duplicates import DuplicateIndex  # noqa: E402
from aggregator.triage.questions import THRESHOLD  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def line(name: str, tp: int, fp: int, fn: int) -> str:
    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"{name:<22} precision {p:5.3f}  recall {r:5.3f}  F1 {f1:5.3f}  (tp {tp}, fp {fp}, fn {fn})"


def pairs(groups: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = {}
    for qid, group in groups.items():
        members.setdefault(group, []).append(qid)
    return {tuple(sorted(p)) for m in members.values() for p in combinations(m, 2)}  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", default=str(ROOT / "tests/triage/posts.jsonl"))
    parser.add_argument("--labels", default=str(ROOT / "tests/triage/labels.json"))
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--threshold", type=float, default=None,
                        help="duplicate threshold (default: the setting's default)")
    args = parser.parse_args()
    lines = [json.loads(x) for x in Path(args.posts).read_text(encoding="utf-8").splitlines()
             if x.strip()]
    labels = json.loads(Path(args.labels).read_text(encoding="utf-8"))["posts"]
    if args.smoke:
        lines = lines[:60]
    posts = []
    for item in lines:
        q = normalise(SourcePost(platform=item["platform"], native_id=item["id"],
                                 text=item["text"], author_name=item.get("author", "")))
        posts.append(Post(q.id, q.text, q.platform))
    index = DuplicateIndex() if args.threshold is None else DuplicateIndex(args.threshold)
    assessor = Assessor(AbuseCheck(), index)
    assessor.assess(posts[:1] and [Post("warm-up", "warm up the model")])  # import, not timing
    index.remove("warm-up")
    start = time.perf_counter()
    findings = assessor.assess(posts)
    elapsed = time.perf_counter() - start
    print(f"{len(posts)} posts from {args.posts}; assessed in {elapsed:.2f} s "
          f"({len(posts) / elapsed:,.0f} posts/s, one batch, 1 process)")

    counts: dict[str, Counter[str]] = {k: Counter() for k in ("question", "abuse", "personal")}
    personal_kinds: Counter[str] = Counter()
    root: dict[str, str] = {}
    for post, finding in zip(posts, findings, strict=True):
        label = labels[post.qid]
        for name, truth, said in (
                ("question", label["question"], finding.score >= THRESHOLD),
                ("abuse", label["abuse"], bool(finding.abuse))):
            counts[name]["tp" if truth and said else "fp" if said else "fn" if truth else "tn"] += 1
        # A post's personal data is caught when every kind it holds is found as often.
        want = Counter(label["personal"])
        got = Counter(p["kind"] for p in finding.personal)
        if want:
            caught = all(got[k] >= n for k, n in want.items())
            counts["personal"]["tp" if caught else "fn"] += 1
            if not caught:
                personal_kinds.update(k for k, n in want.items() if got[k] < n)
                print(f"  personal data missed: {post.text!r} (found {dict(got)})")
        elif got:
            counts["personal"]["fp"] += 1
            print(f"  personal data over-masked: {post.text!r} (found {dict(got)})")
        target = finding.suggest["qid"] if finding.suggest else post.qid
        root[post.qid] = root.get(target, target)

    truth_groups = {p.qid: labels[p.qid]["cluster"] for p in posts if labels[p.qid]["cluster"]}
    true_pairs = pairs(truth_groups)
    said_pairs = pairs(root)
    tp = len(true_pairs & said_pairs)
    for a, b in sorted(said_pairs - true_pairs)[:10]:
        print(f"  wrong repeat: {a} / {b}")
    print()
    print(f"{'duplicate pairs':<22}", line("", tp, len(said_pairs - true_pairs),
                                          len(true_pairs - said_pairs)).strip(),
          "(lexical backend)")
    for name in ("question", "abuse", "personal"):
        c = counts[name]
        print(line(name if name != "personal" else "personal data (posts)", c["tp"], c["fp"],
                   c["fn"]))
    print("targets: duplicates P >= 0.9, R >= 0.75; question F1 >= 0.9; personal R >= 0.95; "
          "abuse R >= 0.85 at P >= 0.8")


if __name__ == "__main__":
    main()
