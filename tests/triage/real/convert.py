"""Rebuild the real-data files of this folder from their sources (see DATA.md).

    python tests/triage/real/convert.py --davidson labeled_data.csv \
        --nq-dev NQ-open.dev.jsonl --nq-efficientqa-dev NQ-open.efficientqa.dev.1.1.jsonl \
        --covid-train train3.csv --covid-test testA.csv --ethos Ethos_Dataset_Binary.csv

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
ABUSE_SAMPLE = 3_000  # posts in the held-out abuse file (and the first of the training file)
ETHOS_TRAIN = 499  # of ETHOS's 998 comments, after a seeded shuffle; the rest are held out


def write(name: str, rows: list[dict[str, object]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def davidson(path: Path) -> None:
    """Davidson et al. (2017): every tweet's majority class (0 hate, 1 offensive, 2 neither).
    Handles become @USER and links URL (as OLID ships them); HTML entities are unescaped.
    The set has no official split: a seeded shuffle of all rows, the next ABUSE_SAMPLE after
    the first ABUSE_SAMPLE held out, all the others train."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(SEED).shuffle(rows)
    names = {"0": "hate", "1": "offensive", "2": "neither"}
    out = []
    for row in rows:
        text = URL.sub("URL", MENTION.sub("@USER", html.unescape(row["tweet"])))
        out.append({"id": f"davidson-{row['']}", "text": " ".join(text.split()),
                    "label": names[row["class"]], "abusive": row["class"] != "2"})
    write("abuse-train.jsonl", out[:ABUSE_SAMPLE] + out[2 * ABUSE_SAMPLE:])
    write("abuse-heldout.jsonl", out[ABUSE_SAMPLE:2 * ABUSE_SAMPLE])


def ethos(path: Path) -> None:
    """ETHOS (binary): YouTube and Reddit comments, ``isHate`` the share of annotators who
    called it hate speech; hate at 0.5 or more, as the ETHOS paper does. No official split: a
    seeded shuffle, the first ETHOS_TRAIN train, the rest held out."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(enumerate(csv.DictReader(f, delimiter=";")))
    random.Random(SEED).shuffle(rows)
    out = [{"id": f"ethos-{i}", "text": " ".join(row["comment"].split()),
            "hate_share": round(float(row["isHate"]), 3), "abusive": float(row["isHate"]) >= 0.5}
           for i, row in rows]
    write("ethos-train.jsonl", out[:ETHOS_TRAIN])
    write("ethos-heldout.jsonl", out[ETHOS_TRAIN:])


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
    parser.add_argument("--ethos", type=Path, required=True)
    args = parser.parse_args()
    davidson(args.davidson)
    nq(args.nq_efficientqa_dev, "questions-train.jsonl", "nq-efficientqa-dev")
    nq(args.nq_dev, "questions-heldout.jsonl", "nq-open-dev")
    covid(args.covid_train, "covidq-train.jsonl", "covidq-train3")
    covid(args.covid_test, "covidq-heldout.jsonl", "covidq-testA")
    ethos(args.ethos)


if __name__ == "__main__":
    main()
