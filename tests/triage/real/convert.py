"""Rebuild the real-data files of this folder from their sources (see DATA.md).

    python tests/triage/real/convert.py --davidson labeled_data.csv \
        --nq-dev NQ-open.dev.jsonl --nq-efficientqa-dev NQ-open.efficientqa.dev.1.1.jsonl \
        --covid-train train3.csv --covid-test testA.csv --ethos Ethos_Dataset_Binary.csv \
        --convabuse-train ConvAbuseEMNLPtrain.csv --convabuse-valid ConvAbuseEMNLPvalid.csv \
        --convabuse-test ConvAbuseEMNLPtest.csv --stormfront hate-speech-dataset/ \
        --hatecheck test_suite_cases.csv --hint3 HINT3/dataset/v2 --banking train.csv test.csv

Each argument is a file of the source repository at the commit DATA.md names (``--hint3``: the
folder; ``--stormfront``: a checkout of that whole repository); only the sets given are rebuilt
(ConvAbuse's three files together). Nothing is downloaded. The sampling is seeded, so the same
sources give the same files byte for byte.
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
EMOJI = re.compile(r"<span class='emoji-bytes' data-emoji-bytes='\[([\d, ]+)\]'></span>")


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


def convabuse_votes(row: dict[str, str]) -> tuple[int, int]:
    """(annotators who rated the user's turn abusive: -1, -2 or -3; annotators who rated it)."""
    abusive = rated = 0
    for a in range(1, 9):
        marks = [row.get(f"Annotator{a}_is_abuse.{k}") or "" for k in ("1", "0", "-1", "-2", "-3")]
        if not any(marks):
            continue
        # A few cells hold one annotator's repeat marks ("1, 1"): any 1 counts.
        ones = [any(int(float(x)) for x in m.split(",")) if m else False for m in marks]
        rated += 1
        abusive += any(ones[2:])
    return abusive, rated


def convabuse(paths: list[Path], name: str) -> None:
    """ConvAbuse: users' turns in conversations with two chatbots (CarbonBot, E.L.I.Z.A.), each
    rated by 2 to 8 expert annotators from 1 (not abusive) to -3 (very strongly abusive).
    Abusive when more than half the annotators rated it -1 or lower (a tie is not abusive); the
    votes are kept. The dataset's own splits; emoji markup turned back into the emoji."""
    out = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = EMOJI.sub(lambda m: bytes(int(b) for b in m.group(1).split(","))
                                 .decode("utf-8", "replace"), row["user"])
                abusive, rated = convabuse_votes(row)
                out.append({"id": f"convabuse-{path.stem.removeprefix('ConvAbuseEMNLP')}-"
                                  f"{int(float(row['example_id']))}",
                            "text": " ".join(text.split()), "abusive": 2 * abusive > rated,
                            "abuse_votes": abusive, "annotators": rated})
    write(name, out)


def stormfront(root: Path) -> None:
    """de Gibert et al. (2018): Stormfront sentences labelled hate or noHate (``relation``, hate
    only with the sentences around it, and ``idk/skip`` left out). Held out: the authors'
    ``sampled_test`` (balanced); train: every other labelled sentence of ``all_files`` except
    those from a post with a sentence in ``sampled_test``. File names sorted; the user and
    subforum numbers are not kept."""
    with (root / "annotations_metadata.csv").open(encoding="utf-8", newline="") as f:
        labels = {r["file_id"]: r["label"] for r in csv.DictReader(f)}
    test = sorted(p.stem for p in (root / "sampled_test").glob("*.txt"))
    test_posts = {t.split("_")[0] for t in test}

    def row(stem: str) -> dict[str, object]:
        text = (root / "all_files" / f"{stem}.txt").read_text(encoding="utf-8")
        return {"id": f"stormfront-{stem}", "text": " ".join(text.split()),
                "label": labels[stem], "abusive": labels[stem] == "hate"}

    train = sorted(p.stem for p in (root / "all_files").glob("*.txt")
                   if p.stem.split("_")[0] not in test_posts)
    write("stormfront-train.jsonl", [row(s) for s in train if labels[s] in ("hate", "noHate")])
    write("stormfront-heldout.jsonl", [row(s) for s in test if labels[s] in ("hate", "noHate")])


def hatecheck(path: Path) -> None:
    """HateCheck's test suite (3,728 cases, 29 functional tests), file order; held out only:
    the suite is meant for testing, and nothing is fitted on it."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    write("hatecheck-heldout.jsonl", [
        {"id": f"hatecheck-{r['case_id']}", "text": " ".join(r["test_case"].split()),
         "functionality": r["functionality"], "abusive": r["label_gold"] == "hateful",
         "target": r["target_ident"]} for r in rows])


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
    parser.add_argument("--convabuse-train", type=Path)
    parser.add_argument("--convabuse-valid", type=Path)
    parser.add_argument("--convabuse-test", type=Path)
    parser.add_argument("--stormfront", type=Path,
                        help="a checkout of Vicomtech/hate-speech-dataset")
    parser.add_argument("--hatecheck", type=Path)
    parser.add_argument("--hint3", type=Path, help="HINT3's dataset/v2 folder")
    parser.add_argument("--banking", type=Path, nargs=2, metavar=("TRAIN", "TEST"),
                        help="BANKING77's banking_data/train.csv and test.csv")
    args = parser.parse_args()
    convabuse_files = (args.convabuse_train, args.convabuse_valid, args.convabuse_test)
    if any(convabuse_files) and not all(convabuse_files):
        parser.error("ConvAbuse needs --convabuse-train, --convabuse-valid and --convabuse-test")
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
    if all(convabuse_files):
        convabuse([args.convabuse_train, args.convabuse_valid], "convabuse-train.jsonl")
        convabuse([args.convabuse_test], "convabuse-heldout.jsonl")
    if args.stormfront:
        stormfront(args.stormfront)
    if args.hatecheck:
        hatecheck(args.hatecheck)
    if args.hint3:
        hint3(args.hint3)
    if args.banking:
        banking(*args.banking)


if __name__ == "__main__":
    main()
