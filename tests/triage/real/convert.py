"""Rebuild the real-data files of this folder from their sources (see DATA.md).

    python tests/triage/real/convert.py --davidson labeled_data.csv \
        --nq-dev NQ-open.dev.jsonl --nq-efficientqa-dev NQ-open.efficientqa.dev.1.1.jsonl \
        --covid-train train3.csv --covid-test testA.csv --ethos Ethos_Dataset_Binary.csv \
        --convabuse-train ConvAbuseEMNLPtrain.csv --convabuse-valid ConvAbuseEMNLPvalid.csv \
        --convabuse-test ConvAbuseEMNLPtest.csv --stormfront hate-speech-dataset/ \
        --hatecheck test_suite_cases.csv

Each argument is a file of the source repository at the commit DATA.md names (``--stormfront``:
a checkout of that whole repository). Nothing is
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davidson", type=Path, required=True)
    parser.add_argument("--nq-dev", type=Path, required=True)
    parser.add_argument("--nq-efficientqa-dev", type=Path, required=True)
    parser.add_argument("--covid-train", type=Path, required=True)
    parser.add_argument("--covid-test", type=Path, required=True)
    parser.add_argument("--ethos", type=Path, required=True)
    parser.add_argument("--convabuse-train", type=Path, required=True)
    parser.add_argument("--convabuse-valid", type=Path, required=True)
    parser.add_argument("--convabuse-test", type=Path, required=True)
    parser.add_argument("--stormfront", type=Path, required=True,
                        help="a checkout of Vicomtech/hate-speech-dataset")
    parser.add_argument("--hatecheck", type=Path, required=True)
    args = parser.parse_args()
    davidson(args.davidson)
    nq(args.nq_efficientqa_dev, "questions-train.jsonl", "nq-efficientqa-dev")
    nq(args.nq_dev, "questions-heldout.jsonl", "nq-open-dev")
    covid(args.covid_train, "covidq-train.jsonl", "covidq-train3")
    covid(args.covid_test, "covidq-heldout.jsonl", "covidq-testA")
    ethos(args.ethos)
    convabuse([args.convabuse_train, args.convabuse_valid], "convabuse-train.jsonl")
    convabuse([args.convabuse_test], "convabuse-heldout.jsonl")
    stormfront(args.stormfront)
    hatecheck(args.hatecheck)


if __name__ == "__main__":
    main()
