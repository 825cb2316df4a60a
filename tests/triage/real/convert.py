"""Rebuild the real-data files of this folder from their sources (see DATA.md).

    python tests/triage/real/convert.py --davidson labeled_data.csv \
        --nq-dev NQ-open.dev.jsonl --nq-efficientqa-dev NQ-open.efficientqa.dev.1.1.jsonl \
        --covid-train train3.csv --covid-test testA.csv

Each argument is a file of the source repository at the commit DATA.md names. Nothing is
downloaded. The sampling is seeded, so the same sources give the same files byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 22  # issue #22
MENTION = re.compile(r"@\w+")
URL = re.compile(r"https?://\S+|www\.\S+")
ABUSE_SAMPLE = 3_000  # posts in each of the two abuse files


def write(name: str, rows: list[dict[str, object]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def davidson(path: Path) -> None:
    """Davidson et al. (2017): every tweet's majority class (0 hate, 1 offensive, 2 neither).
    Handles become @USER and links URL (as OLID ships them); HTML entities are unescaped.
    The set has no official split: a seeded shuffle of all rows, the first ABUSE_SAMPLE are
    train, the next ABUSE_SAMPLE held out."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(SEED).shuffle(rows)
    names = {"0": "hate", "1": "offensive", "2": "neither"}
    out = []
    for row in rows[:2 * ABUSE_SAMPLE]:
        text = URL.sub("URL", MENTION.sub("@USER", html.unescape(row["tweet"])))
        out.append({"id": f"davidson-{row['']}", "text": " ".join(text.split()),
                    "label": names[row["class"]], "abusive": row["class"] != "2"})
    write("abuse-train.jsonl", out[:ABUSE_SAMPLE])
    write("abuse-heldout.jsonl", out[ABUSE_SAMPLE:])


def nq(path: Path, name: str, prefix: str) -> None:
    """NQ-open questions (real users' search questions), the answers left out; whole split."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    write(name, [{"id": f"{prefix}-{i}", "text": r["question"], "question": True}
                 for i, r in enumerate(rows)])


def covid(path: Path, name: str, prefix: str) -> None:
    """COVID-Q's question-class split (dataset_classes/): each row a real question and its class
    (questions of one class ask the same thing); file order, no header."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    write(name, [{"id": f"{prefix}-{i}", "text": text, "cluster": f"covidq-{label}"}
                 for i, (text, label) in enumerate(rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davidson", type=Path, required=True)
    parser.add_argument("--nq-dev", type=Path, required=True)
    parser.add_argument("--nq-efficientqa-dev", type=Path, required=True)
    parser.add_argument("--covid-train", type=Path, required=True)
    parser.add_argument("--covid-test", type=Path, required=True)
    args = parser.parse_args()
    davidson(args.davidson)
    nq(args.nq_efficientqa_dev, "questions-train.jsonl", "nq-efficientqa-dev")
    nq(args.nq_dev, "questions-heldout.jsonl", "nq-open-dev")
    covid(args.covid_train, "covidq-train.jsonl", "covidq-train3")
    covid(args.covid_test, "covidq-heldout.jsonl", "covidq-testA")


if __name__ == "__main__":
    main()
