"""Rebuild the real-data files of this folder from their sources (see DATA.md).

    python tests/triage/real/convert.py --davidson labeled_data.csv \
        --nq-dev NQ-open.dev.jsonl --nq-efficientqa-dev NQ-open.efficientqa.dev.1.1.jsonl \
        --covid-train train3.csv --covid-test testA.csv --ethos Ethos_Dataset_Binary.csv \
        --hint3 HINT3/dataset/v2 --banking train.csv test.csv

Each argument is a file (or, for --hint3, the folder) of the source repository at the commit
DATA.md names; only the sets given are rebuilt. Nothing is downloaded. The sampling is seeded,
so the same sources give the same files byte for byte.
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


HINT3_BOTS = ("sofmattress", "curekart", "powerplay11")
OUT_OF_SCOPE = "NO_NODES_DETECTED"  # HINT3's label for a query matching none of the bot's intents


def hint3(folder: Path) -> None:
    """HINT3 v2: real users' queries to three live chatbots, each labelled with the bot's intent
    (queries with one intent ask the same thing of that service). The official split: train
    from ``train/<bot>_train.csv``, held out from ``test/<bot>_test.csv``; queries labelled
    NO_NODES_DETECTED (no intent) are left out, as they form no group. Bots in HINT3_BOTS order,
    rows in file order; ``id`` keeps the row's index in its file."""
    for split, name in (("train", "hint3-train.jsonl"), ("test", "hint3-heldout.jsonl")):
        out: list[dict[str, object]] = []
        for bot in HINT3_BOTS:
            with (folder / split / f"{bot}_{split}.csv").open(encoding="utf-8", newline="") as f:
                for i, row in enumerate(csv.DictReader(f)):
                    if row["label"] == OUT_OF_SCOPE:
                        continue
                    out.append({"id": f"hint3-{bot}-{split}-{i}", "text": row["sentence"],
                                "cluster": f"hint3-{bot}-{row['label']}", "bot": bot})
        write(name, out)


def banking(train: Path, test: Path) -> None:
    """BANKING77: online-banking queries, each labelled with one of 77 intents; the official
    train and test files, whole, in file order; ``id`` keeps the row's index in its file."""
    for path, name, prefix in ((train, "banking77-train.jsonl", "banking77-train"),
                               (test, "banking77-heldout.jsonl", "banking77-test")):
        with path.open(encoding="utf-8", newline="") as f:
            write(name, [{"id": f"{prefix}-{i}", "text": row["text"],
                          "cluster": f"banking77-{row['category']}"}
                         for i, row in enumerate(csv.DictReader(f))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davidson", type=Path)
    parser.add_argument("--nq-dev", type=Path)
    parser.add_argument("--nq-efficientqa-dev", type=Path)
    parser.add_argument("--covid-train", type=Path)
    parser.add_argument("--covid-test", type=Path)
    parser.add_argument("--ethos", type=Path)
    parser.add_argument("--hint3", type=Path, help="HINT3's dataset/v2 folder")
    parser.add_argument("--banking", type=Path, nargs=2, metavar=("TRAIN", "TEST"),
                        help="BANKING77's banking_data/train.csv and test.csv")
    args = parser.parse_args()
    if args.davidson:
        davidson(args.davidson)
    if args.nq_efficientqa_dev:
        nq(args.nq_efficientqa_dev, "questions-train.jsonl", "nq-efficientqa-dev")
    if args.nq_dev:
        nq(args.nq_dev, "questions-heldout.jsonl", "nq-open-dev")
    if args.covid_train:
        covid(args.covid_train, "covidq-train.jsonl", "covidq-train3")
    if args.covid_test:
        covid(args.covid_test, "covidq-heldout.jsonl", "covidq-testA")
    if args.ethos:
        ethos(args.ethos)
    if args.hint3:
        hint3(args.hint3)
    if args.banking:
        banking(*args.banking)


if __name__ == "__main__":
    main()
