"""Triage measured on a labelled file: precision and recall for question detection, abuse,
personal data and duplicate pairs, and the assessment rate.

    python bench/triage.py [--posts tests/triage/posts.jsonl] [--labels tests/triage/labels.json]
                           [--smoke]

The posts are in the rehearsal format; the labels file maps each ``platform:id`` to
``question`` (bool), ``cluster`` (posts asking the same thing share it), ``abuse`` (bool) and
``personal`` (the kinds of personal data in it). Posts go through the same normalisation and
assessment as the worker's, in file order. A pair of posts is a predicted duplicate when triage's
suggestions join them (directly or through the question they both repeat). --smoke: the first 60
posts and a 2,000-post ingest round, for CI (checks both run; the figures mean little).

Duplicate pairs are printed for each backend (--semantic adds the semantic one) with the
shipped weights (fitted on real data, ``--fit-pairs``: the invented file is a regression check,
not the measure), then, as an ablation of the features on this file's hard negatives, held
out: --folds K (default 5) fits the weights and threshold on K-1 folds of the file (a cluster
and its hard negatives stay in one fold) and scores the other, K times (--folds 0: none); --fit
also prints the weights fitted on the whole file. --drop F1,F2 leaves those features out of
every fit.

    python bench/triage.py --ingest [--posts-count 20000] [--rounds 3]

Ingest with triage on: bench/ingest.py's measurement (raw pipelined XADD against Floor's
normalise + store, same server, same run) while a triage worker process follows each round's
event; prints the ratio (target >= 0.25), how far triage got, and the CPU cost ratio (CPU
seconds of the ingesting process and the server: what the machine's neighbours do not change).
With --semantic the worker uses the semantic backend.

    python bench/triage.py --keep-up [--semantic] [--workers 2] [--rate 5000] [--seconds 60]
                           [--burst 10000] [--niceness 10]

The worker keeping up (issue #26): 5,000 posts a minute stored by Floor's ingest for 60 s while
worker processes (one consumer group, a consumer name each, at floor triage's nice 10) follow,
each post's latency from its received to its triaged log entry (p50, p99, max); then a burst of
10,000 stored as fast as ingest goes and how long after it the last is triaged; and the workers'
CPU time per post, which the machine's neighbours do not change.

    python bench/triage.py --fit-pairs

Fit each backend's pair model (aggregator/followers/triage/pairs.py) on the real training
splits' candidate pairs (``fit_pairs``) and print it to paste there.

    python bench/triage.py --fit-abuse

Fit the abuse model on the training splits of tests/triage/real/ and write its weights
(aggregator/followers/triage/abuse-model.npz).

    python bench/triage.py --scale 50000 [--semantic]

The duplicate index at scale: each backend, in a process of its own, indexes that many distinct
invented questions (the labelled file's questions with random words of it added), then prints
the growth of the process's resident memory and the rate of suggest + add for 200 more posts
(what the worker does per question). The semantic backend's model reads those 200; the many
questions filling the index get their real word pieces (the model's tokenizer) and random unit
vectors, which take the same memory (encoding 50,000 questions would take most of an hour).

    python bench/triage.py --real

Where triage stands on real, human-labelled public data (tests/triage/real/, DATA.md there): one
table of the held-out splits, never fitted on. Duplicates on COVID-Q's held-out questions
(questions of one class ask the same thing), for the lexical backend and, whenever the
[semantic] extra is installed, the semantic one: every pair scored by the backend's pair model
(the paraphrase pairs), and the meeting-like set, the questions in a seeded order through the
duplicate index as the worker sees them (each suggested against the open questions before it,
then indexed), and a meeting of reposts (one question of each class, each reposted twice with a
story, tags, contact details or markup: ``reposts``); beside them the plain MiniLM cosine
baseline, its threshold fitted on the training split, on every pair and as a meeting. Then
duplicates among queries to one service, each labelled with its intent: HINT3's real users of
three live chatbots (every pair within one bot) and a seeded sample of BANKING77's held-out
queries to one bank, for each backend's shipped pair model and the cosine baseline (its
threshold fitted on the set's training split, for precision 0.9). Abuse (the shipped model, the
word list and aimed insults) on the held-out split of each real source (Davidson et al.'s
tweets, ETHOS's comments, ConvAbuse's test split of users' turns to chatbots, de Gibert et al.'s
Stormfront test sentences), on two mixes of innocent held-out posts and real questions with
abusive ones at one in ten (Davidson and ETHOS as reported before; all four sources, drawn in
turn), on HateCheck's functional tests (hateful cases and innocent contrasts) and on real
innocent questions and queries; question recall on NQ-open's and COVID-Q's real questions (no
real non-questions, so no precision); personal data on 3,000 generated posts (no real labelled
set exists) and on real questions (nothing to mask); the stream rule on real questions. --smoke
runs this path on a few items of each (the semantic rows only with --semantic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.base import personal  # noqa: E402
from aggregator.core.normalise import normalise  # noqa: E402
from aggregator.core.question import Post as SourcePost  # noqa: E402
from aggregator.followers.triage import questions  # noqa: E402
from aggregator.followers.triage.abuse import AbuseCheck  # noqa: E402
from aggregator.followers.triage.assess import Assessor, Post  # noqa: E402
from aggregator.followers.triage.duplicates import DuplicateIndex  # noqa: E402
from aggregator.followers.triage.pairs import FEATURES, PairModel  # noqa: E402
from aggregator.followers.triage.questions import THRESHOLD  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests/triage/real"  # the real held-out and training splits (DATA.md there)
SEED = 22  # the order of every seeded shuffle here


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def line(name: str, tp: int, fp: int, fn: int) -> str:
    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return (f"{name:<22} precision {p:5.3f}  recall {r:5.3f}  F1 {f1:5.3f}  "
            f"(tp {tp}, fp {fp}, fn {fn})")


def pairs(groups: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = {}
    for qid, group in groups.items():
        members.setdefault(group, []).append(qid)
    return {tuple(sorted(p)) for m in members.values() for p in combinations(m, 2)}  # type: ignore[misc]


def ingest_with_triage(count: int, rounds: int, smoke: bool, backend: str = "lexical") -> None:
    import statistics
    import subprocess
    import tempfile
    import uuid

    from aggregator.base.keys import Keys
    from aggregator.base.redis_server import connect, url_of
    from aggregator.core.store import Store
    from bench.ingest import costed, floor_ingest, raw_xadd, sample_posts

    conn = connect(data_dir=Path(tempfile.mkdtemp(prefix="floor-bench-")))
    posts = sample_posts(count)
    raw_rates, plain_rates, floor_rates, behind = [], [], [], []
    raw_cpu, plain_cpu, floor_cpu = [], [], []
    for _ in range(rounds):
        event = "bench-" + uuid.uuid4().hex[:8]
        rate, per_cpu = costed(conn, raw_xadd, conn, f"floor:{event}:raw", posts, 200)
        raw_rates.append(rate)
        raw_cpu.append(per_cpu)
        # Floor's ingest alone runs just before and just after the one with a worker, and
        # counts as their mean: the second of two runs is measured slower (the server holds the
        # first one's keys), and the machine's neighbours change from second to second.
        alone = [costed(conn, floor_ingest, Store(conn, event + "-plain"), posts, 200)]
        store = Store(conn, event)
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, url_of(conn), event, backend], cwd=ROOT,
            stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        worker.stdout.readline()  # "ready": the group exists and the models are loaded
        rate, per_cpu = costed(conn, floor_ingest, store, posts, 200)
        floor_rates.append(rate)
        floor_cpu.append(per_cpu)
        triaged = int(conn.xlen(store.keys.log)) - int(conn.zcard(store.keys.questions))
        behind.append(count - triaged)
        worker.kill()
        worker.wait()
        alone.append(costed(conn, floor_ingest, Store(conn, event + "-plain2"), posts, 200))
        plain_rates.append(statistics.mean(rate for rate, _ in alone))
        plain_cpu.append(statistics.mean(per_cpu for _, per_cpu in alone))
        for name in (event, event + "-plain", event + "-plain2"):
            for key in conn.scan_iter(Keys(name).pattern, count=1000):
                conn.unlink(key)
    raw, plain = statistics.median(raw_rates), statistics.median(plain_rates)
    ours = statistics.median(floor_rates)
    print(f"{count} posts, {rounds} rounds; each round: raw XADD, then Floor's ingest alone, "
          f"with a triage worker process following the event, and alone again")
    print(f"raw pipelined XADD:              {raw:10,.0f} posts/s")
    print(f"floor ingest, triage off:        {plain:10,.0f} posts/s  (ratio {plain / raw:.2f})")
    print(f"floor ingest, triage on:         {ours:10,.0f} posts/s  (ratio {ours / raw:.2f}, "
          "target >= 0.25)")
    print(f"posts not yet triaged when ingest ended (median): {statistics.median(behind):,.0f}"
          f" ({backend} backend)")
    raw_c = statistics.median(raw_cpu)
    print(f"CPU cost ratio (posts per CPU-second of the ingesting process and the server, against "
          f"raw's; the worker's own process not counted): triage off "
          f"{statistics.median(plain_cpu) / raw_c:.2f}, triage on "
          f"{statistics.median(floor_cpu) / raw_c:.2f}")


WORKER = """
import os, sys, threading
from aggregator.followers.triage.worker import NICENESS
os.nice(int(sys.argv[5]) if len(sys.argv) > 5 else NICENESS)  # as floor triage does
from aggregator.base.redis_server import connect
from aggregator.base.settings import TriageSettings
from aggregator.followers.loop import follow
from aggregator.followers.triage.worker import TriageWorker
worker = TriageWorker(connect(url=sys.argv[1]), sys.argv[2], TriageSettings(backend=sys.argv[3]),
                      consumer=sys.argv[4] if len(sys.argv) > 4 else "worker")
worker.setup()
worker.assessor.abuse.check_many(["warm up"])
print("ready", flush=True)
follow(worker, threading.Event(), block_ms=100)
"""


def keep_up(rate_per_min: int, seconds: float, burst: int, backend: str, workers: int,
            niceness: int) -> None:
    """The triage worker against a steady stream and a burst, as a meeting brings them.

    Steady: Floor's ingest stores ``rate_per_min`` posts a minute (a batch every 0.2 s) for
    ``seconds`` while ``workers`` worker processes (one consumer group, a name each) follow;
    each post's latency is the time from its ``received`` log entry to its ``triaged`` one
    (both stream ids: the Redis server's clock). Burst: ``burst`` posts stored as fast as
    ingest goes, then the time until the last of them is triaged, and the workers' rate.
    Each phase also gives the workers' CPU time per post: what the machine's neighbours do not
    change (at nice 10, as ``floor triage`` runs, a busy machine's other work goes first)."""
    import subprocess
    import tempfile
    import uuid

    import numpy as np
    import psutil

    from aggregator.base.keys import Keys
    from aggregator.base.redis_server import connect, url_of
    from aggregator.core.store import Store
    from bench.ingest import floor_ingest, sample_posts

    conn = connect(data_dir=Path(tempfile.mkdtemp(prefix="floor-bench-")))

    def start(event: str) -> list[subprocess.Popen[str]]:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url_of(conn), event, backend,
                                   f"worker-{i}", str(niceness)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
                 for i in range(workers)]
        for proc in procs:
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready"
        spent.clear()
        spent.extend(cpu(p) for p in procs)
        return procs

    spent: list[float] = []

    def cpu(proc: subprocess.Popen[str]) -> float:
        times = psutil.Process(proc.pid).cpu_times()
        return float(times.user + times.system)

    def per_post(procs: list[subprocess.Popen[str]], count: int) -> str:
        used = sum(cpu(p) for p in procs) - sum(spent)
        return (f"workers' CPU {1000 * used / count:.2f} ms a post "
                f"({count / max(1e-9, used):,.0f} posts per CPU-second)")

    def latencies(store: Store) -> tuple[Any, float, float]:
        received: dict[str, int] = {}
        triaged: dict[str, int] = {}
        for entry in store.log_after():
            ms = int(entry.id.split("-")[0])
            if entry.type == "received":
                received[entry.qid] = ms
            elif entry.type == "triaged":
                triaged[entry.qid] = ms
        done = [triaged[q] - received[q] for q in received if q in triaged] or [0]
        times = sorted(triaged.values())
        return (np.array(done, dtype=float), times[0] / 1000 if times else 0.0,
                times[-1] / 1000 if times else 0.0)

    def wait_for(store: Store, count: int, limit: float) -> float:
        """Seconds (Redis clock) at which ``count`` posts were triaged, or -1 past ``limit``."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if int(conn.xlen(store.keys.log)) >= 2 * count:
                return float(conn.time()[0] + conn.time()[1] / 1e6)
            time.sleep(0.05)
        return -1.0

    def server_now() -> float:
        sec, micro = conn.time()
        return sec + micro / 1e6

    print(f"triage worker, {backend} backend, {workers} worker process(es) at nice {niceness} "
          f"on one consumer group (load average {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    event = "keep-" + uuid.uuid4().hex[:8]
    events = [event]
    store = Store(conn, event)
    procs = start(event)
    posts = sample_posts(int(rate_per_min * seconds / 60))
    step = max(1, round(rate_per_min / 60 * 0.2))
    begin = time.monotonic()
    for i in range(0, len(posts), step):
        store.ingest("bench", [(normalise(p), p.raw) for p in posts[i:i + step]],
                     checkpoint=str(i))
        pause = begin + (i + step) / (rate_per_min / 60) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    wait_for(store, len(posts), 120)
    lat, _, _ = latencies(store)
    print(f"steady {rate_per_min:,} posts/min for {seconds:.0f} s ({len(posts):,} posts): "
          f"received -> triaged p50 {np.percentile(lat, 50):,.0f} ms, p99 "
          f"{np.percentile(lat, 99):,.0f} ms, max {lat.max():,.0f} ms; {len(lat):,} of "
          f"{len(posts):,} triaged (target: p99 <= 1,000 ms); {per_post(procs, len(posts))}")
    for proc in procs:
        proc.kill()
        proc.wait()

    event = "burst-" + uuid.uuid4().hex[:8]
    events.append(event)
    store = Store(conn, event)
    procs = start(event)
    posts = sample_posts(burst)
    ingest_rate = floor_ingest(store, posts, 200)
    ended = server_now()
    done = wait_for(store, len(posts), 600)
    lat, first, last = latencies(store)
    print(f"burst of {burst:,} posts (ingest {ingest_rate:,.0f} posts/s): all triaged "
          + (f"{done - ended:,.1f} s after ingest ended" if done > 0 else
             f"NOT within 600 s ({len(lat):,} were)")
          + f" (target <= 60 s); worker rate {len(lat) / max(1e-9, last - first):,.0f} posts/s;"
          f" {per_post(procs, len(posts))}")
    for proc in procs:
        proc.kill()
        proc.wait()
    for name in events:
        for key in conn.scan_iter(Keys(name).pattern, count=1000):
            conn.unlink(key)


class StandInEncoder:
    """The model's tokenizer and output shapes with random vectors: fills an index fast."""

    def __init__(self, model: Any) -> None:
        import numpy as np

        self.tokenizer = model.tokenizer
        self.random = np.random.default_rng(7)

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        import torch

        out = []
        for text in texts:
            ids = torch.tensor(self.tokenizer(text, truncation=True, max_length=256)["input_ids"])
            vectors = torch.from_numpy(self.random.standard_normal((len(ids), 384),
                                                                   dtype="float32"))
            out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                        "token_embeddings": vectors,
                        "sentence_embedding": torch.nn.functional.normalize(vectors.mean(0),
                                                                            dim=0)})
        return out


def invented_questions(posts: list[Post], count: int, seed: int = 11) -> list[str]:
    """``count`` distinct questions: the file's questions with each word longer than three
    letters swapped, one time in two, for a random word of the file, and a number added."""
    import random

    rng = random.Random(seed)
    asks = [p.text.split() for p in posts if questions.score(p.text).score >= THRESHOLD]
    vocabulary = sorted({w for p in posts for w in p.text.lower().split() if w.isalpha()})
    return [" ".join(w if len(w) <= 3 or rng.random() < 0.5 else rng.choice(vocabulary)
                     for w in rng.choice(asks)) + f" {i}" for i in range(count)]


def scale(posts: list[Post], count: int, backend: str) -> None:
    """Resident memory of ``count`` indexed questions and the per-post rate at that size."""
    import psutil

    process = psutil.Process()
    texts = invented_questions(posts, count + 200)
    model: Any = None
    if backend == "semantic":
        from aggregator.followers.triage.semantic import SemanticIndex, load_model

        model = load_model()
        model.encode(["warm up"], output_value=None)
        before = process.memory_info().rss
        index: DuplicateIndex = SemanticIndex(model=StandInEncoder(model))
    else:
        before = process.memory_info().rss
        index = DuplicateIndex()
    start = time.perf_counter()
    for i, text in enumerate(texts[:count]):
        index.add(f"scale:{i}", text)
    filled = time.perf_counter() - start
    grown = (process.memory_info().rss - before) / 2**20
    size = len(index)
    if model is not None:
        index.encoder = model  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i, text in enumerate(texts[count:], start=count):
        best = index.suggest(text, exclude=f"scale:{i}")
        index.add(f"scale:{i}", text, best.qid if best else "")
    took = time.perf_counter() - start
    print(f"{backend:<8} {size:,} questions indexed in {filled:.1f} s; resident memory "
          f"+{grown:,.0f} MB ({grown * 2**20 / max(1, size) / 1024:.1f} KB a question); "
          f"suggest + add at that size: {200 / took:,.1f} posts/s")


class CachedEncoder:
    """The bundled sentence model, each text encoded once per bench run (``encode`` as the
    model's, for one ``output_value`` at a time)."""

    def __init__(self) -> None:
        from aggregator.followers.triage.semantic import load_model

        self.model = load_model()
        self.tokenizer = self.model.tokenizer
        self.seen: dict[tuple[str, str | None], Any] = {}

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        import numpy as np

        output = kwargs.get("output_value", "sentence_embedding")
        missing = [t for t in texts if (t, output) not in self.seen]
        if missing:
            for t, v in zip(missing, self.model.encode(missing, **kwargs), strict=True):
                self.seen[t, output] = v
        found = [self.seen[t, output] for t in texts]
        return found if output is None else np.stack(found)


def duplicate_counts(posts: list[Post], clusters: dict[str, str | None],
                     index: DuplicateIndex) -> tuple[int, int, int]:
    """Run the posts through triage in order; count the predicted duplicate pairs (two posts
    joined by suggestions, directly or through the question both repeat) against the labels."""
    assessor = Assessor(AbuseCheck(use_model=False), index)
    root: dict[str, str] = {}
    for post, finding in zip(posts, assessor.assess(posts), strict=True):
        target = finding.suggest["qid"] if finding.suggest else post.qid
        root[post.qid] = root.get(target, target)
    truth = pairs({q: c for q, c in clusters.items() if c and q in root})
    said = pairs(root)
    return len(truth & said), len(said - truth), len(truth - said)


DROPPED: list[int] = []  # feature columns --drop leaves out of the fitting (an ablation)


def training_rows(posts: list[Post], clusters: dict[str, str | None],
                  index: DuplicateIndex) -> tuple[Any, Any]:
    """Every (question, indexed candidate) pair the stream produces, with its features and
    whether the labels say both ask the same thing."""
    import numpy as np

    xs, ys = [], []
    for post in posts:
        if questions.score(post.text).score < THRESHOLD:
            continue
        found, x = index.pairs(post.text, exclude=post.qid)
        mine = clusters[post.qid]
        xs.append(x)
        ys.extend(bool(mine) and clusters[q] == mine for q in found)
        index.add(post.qid, post.text)
    x = np.vstack(xs)
    x[:, DROPPED] = 0  # fitted to weight 0: the model never uses them
    return x, np.array(ys)


def fit(posts: list[Post], clusters: dict[str, str | None],
        make: Callable[[], DuplicateIndex]) -> PairModel:
    """A logistic regression on the posts' candidate pairs; then the threshold that gives the
    most recall at precision >= 0.92 on these same posts (the highest F1 if none does)."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_rows(posts, clusters, make())
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    weights = tuple(round(float(w), 3) for w in lr.coef_[0])
    bias = round(float(lr.intercept_[0]), 3)
    best: tuple[float, float, float] = (-1.0, -1.0, 0.5)
    for step in range(20, 91, 5):
        model = PairModel(weights, bias, step / 100)
        index = make()
        index.model, index.threshold = model, model.threshold
        tp, fp, fn = duplicate_counts(posts, clusters, index)
        p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        key = (float(p >= 0.92), r if p >= 0.92 else f1, -model.threshold)
        if key > best:
            best = key
            chosen = model
    return chosen


def folds(posts: list[Post], labels: dict[str, Any], k: int, seed: int = 13) -> list[set[str]]:
    """``k`` sets of posts; a topic's posts (a cluster and its hard negatives) stay together."""
    import random

    groups: dict[str, list[str]] = {}
    for post in posts:
        label = labels[post.qid]
        groups.setdefault(label["topic"] or label["cluster"] or post.qid, []).append(post.qid)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    out: list[set[str]] = [set() for _ in range(k)]
    for i, name in enumerate(names):
        out[i % k].update(groups[name])
    return out


def cross_validate(posts: list[Post], labels: dict[str, Any],
                   make: Callable[[], DuplicateIndex],
                   k: int) -> tuple[tuple[int, int, int], PairModel]:
    """Held-out duplicate counts: for each fold, weights and threshold fitted on the other
    folds, the fold's own posts run through triage alone. Also the model fitted on all."""
    clusters = {p.qid: labels[p.qid]["cluster"] for p in posts}
    total = [0, 0, 0]
    for held in folds(posts, labels, k):
        model = fit([p for p in posts if p.qid not in held], clusters, make)
        index = make()
        index.model, index.threshold = model, model.threshold
        counts = duplicate_counts([p for p in posts if p.qid in held], clusters, index)
        total = [a + b for a, b in zip(total, counts, strict=True)]
    return (total[0], total[1], total[2]), fit(posts, clusters, make)


def read_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (REAL / name).read_text(encoding="utf-8").splitlines() if x]


def fit_cosine(sims: Any, same: Any, floor: float = 0.9) -> float:
    """The threshold with the most recall at precision >= ``floor`` on these pairs (the
    highest F1 if none reaches it): for the training split only."""
    import numpy as np

    order = np.argsort(-sims, kind="stable")
    tp = np.cumsum(same[order])
    k = np.arange(1, len(order) + 1)
    precision, recall = tp / k, tp / max(1, int(same.sum()))
    f1 = np.where(precision + recall > 0, 2 * precision * recall /
                  np.maximum(precision + recall, 1e-12), 0.0)
    ok = precision >= floor
    i = int(np.flatnonzero(ok)[-1]) if ok.any() else int(np.argmax(f1))
    return float(sims[order[i]])


def all_pairs(rows: list[dict[str, Any]], vectors: Any) -> tuple[Any, Any]:
    """Cosine and sameness of every pair of ``rows`` (unit vectors)."""
    import numpy as np

    upper = np.triu_indices(len(rows), k=1)
    sims = (vectors @ vectors.T)[upper]
    labels = np.array([r["cluster"] for r in rows])
    return sims, labels[upper[0]] == labels[upper[1]]


def stream_pairs(rows: list[dict[str, Any]], index: DuplicateIndex) -> tuple[int, int, int]:
    """The rows through the duplicate index in order; the pairs its suggestions join (directly
    or through the question both repeat) against the labels' pairs."""
    root: dict[str, str] = {}
    for row in rows:
        best = index.suggest(row["text"], exclude=row["id"])
        target = best.qid if best else row["id"]
        root[row["id"]] = root.get(target, target)
        index.add(row["id"], row["text"], best.qid if best else "")
    truth = pairs({r["id"]: r["cluster"] for r in rows})
    said = pairs(root)
    return len(truth & said), len(said - truth), len(truth - said)


def every_pair(rows: list[dict[str, Any]], index: DuplicateIndex) -> tuple[int, int, int]:
    """The backend's pair model on every pair of ``rows`` (all indexed, each its own group):
    a pair is said to repeat when its probability reaches the backend's threshold."""
    import numpy as np

    for row in rows:
        index.add(row["id"], row["text"])
    ids = [r["id"] for r in rows if r["id"] in index]
    cluster = {r["id"]: r["cluster"] for r in rows}
    tp = fp = fn = 0
    for i, qid in enumerate(ids[:-1]):
        others = ids[i + 1:]
        text = next(r["text"] for r in rows if r["id"] == qid)
        doc = index._describe(text, "")
        assert doc is not None
        _, meaning = index._meaning(text, doc, others, qid)
        x = index.features(doc, others, None if meaning is None else meaning[:len(others)])
        said = index.model.probability(x) >= index.threshold
        same = np.array([cluster[o] == cluster[qid] for o in others])
        tp += int((said & same).sum())
        fp += int((said & ~same).sum())
        fn += int((~said & same).sum())
    # Questions with no content words are never indexed: their true pairs are all missed.
    truth = pairs({r["id"]: r["cluster"] for r in rows})
    missed = sum(1 for a, b in truth if a not in index or b not in index)
    return tp, fp, fn + missed


def cosine_stream(rows: list[dict[str, Any]], vectors: Any, cut: float) -> tuple[int, int, int]:
    """The cosine baseline as a meeting sees it: each question in turn joins the group whose
    first question is nearest, if at or above ``cut``; else it starts a group."""
    import numpy as np

    firsts: list[int] = []
    root: dict[str, str] = {}
    for i, row in enumerate(rows):
        target = row["id"]
        if firsts:
            sims = vectors[firsts] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= cut:
                target = rows[firsts[best]]["id"]
        if target == row["id"]:
            firsts.append(i)
        root[row["id"]] = target
    truth = pairs({r["id"]: r["cluster"] for r in rows})
    said = pairs(root)
    return len(truth & said), len(said - truth), len(truth - said)


def read_hint3(split: str) -> dict[str, list[dict[str, Any]]]:
    """HINT3's queries of one split (``train`` or ``heldout``) by bot: each bot is one service,
    so duplicates are only ever scored within one bot (see tests/triage/real/DATA.md)."""
    bots: dict[str, list[dict[str, Any]]] = {}
    for row in read_jsonl(f"hint3-{split}.jsonl"):
        bots.setdefault(row["bot"], []).append(row)
    return bots


def read_banking77(split: str) -> list[dict[str, Any]]:
    """BANKING77's queries of one split (``train`` or ``heldout``): one bank's customers."""
    return read_jsonl(f"banking77-{split}.jsonl")


BANKING_PAIRS = 600  # held-out queries scored pair by pair (of 3,080: every pair is 4.7 M)
BANKING_FIT = 2_000  # training queries whose pairs fit the cosine baseline's threshold


def sample(rows: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    """A seeded shuffle of ``rows`` (the files are grouped by label; a meeting's posts are not),
    cut to ``count``."""
    import random

    rows = list(rows)
    random.Random(SEED).shuffle(rows)
    return rows[:count]


def group_sims(groups: list[list[dict[str, Any]]], model: Any) -> tuple[Any, Any]:
    """The MiniLM cosine and sameness of every pair within each group."""
    import numpy as np

    parts = [all_pairs(g, model.encode([r["text"] for r in g], normalize_embeddings=True,
                                       show_progress_bar=False)) for g in groups if len(g) > 1]
    return np.concatenate([s for s, _ in parts]), np.concatenate([t for _, t in parts])


def cosine_groups(held: list[list[dict[str, Any]]], model: Any,
                  cut: float) -> tuple[int, int, int]:
    """The plain cosine baseline at ``cut`` on every pair within each held-out group."""
    scores, same = group_sims(held, model)
    said = scores >= cut
    return int((said & same).sum()), int((said & ~same).sum()), int((~said & same).sum())


# What people add around a question on social media (invented; the questions are real).
STORIES = ("My dad waited 7 hours in A&E last Tuesday.", "I'm 67 and my husband had a stroke "
           "in 2019.", "We've been waiting since March 3rd for news.", "My neighbour Jean "
           "Price, 82, is terrified.", "I work nights on ward 12 at the General.", "Three of us "
           "in this house have asthma and nobody tells us anything.")
ANGER = ("Absolutely disgraceful!!!", "This is a joke.", "Sick of being ignored.",
         "ANSWER THIS ONE.")
CONTACT = ("(I'm in OX4 2PQ)", "from Reading RG1 3EH", "call me on 07700 900123",
           "Slough SL1 1XX here.")
TAGS = ("#APM2026", "#NHS", "@TrustBoard", "#AskTheBoard", "🙏", "😡")


def repost(text: str, rnd: Any) -> str:
    """``text`` as someone else might post it: with a story, anger, their postcode or number,
    tags, markup or capitals (one of seven ways, drawn with ``rnd``)."""
    text = text[0].upper() + text[1:] + ("" if text.endswith("?") else "?")
    way = rnd.randrange(7)
    if way == 0:
        return f"{rnd.choice(STORIES)} {text}"
    if way == 1:
        return f"{rnd.choice(ANGER)} {text} {rnd.choice(TAGS)}"
    if way == 2:
        return f"{text} {rnd.choice(CONTACT)}"
    if way == 3:
        return f"**{text}** {rnd.choice(TAGS)} {rnd.choice(TAGS)}"
    if way == 4:
        return text.upper()
    if way == 5:
        return f"{rnd.choice(TAGS)} {rnd.choice(STORIES)} {text} {rnd.choice(CONTACT)}"
    return f"@TrustBoard Q: {text} &amp; thanks"


def reposts(rows: list[dict[str, Any]], seed: int = SEED) -> list[dict[str, Any]]:
    """A meeting of reposts: one real question of each class of ``rows``, and each reposted
    twice (``repost``), in a seeded order; a question and its reposts share a cluster."""
    import random

    rnd = random.Random(seed)
    firsts = {r["cluster"]: r for r in reversed(rows)}
    out = []
    for cluster, row in sorted(firsts.items()):
        out.append({"id": row["id"], "text": row["text"], "cluster": cluster})
        out += [{"id": f"{row['id']}-{n}", "text": repost(row["text"], rnd), "cluster": cluster}
                for n in (1, 2)]
    rnd.shuffle(out)
    return out


def real(smoke: bool, semantic: bool) -> None:
    """One table: where triage stands on the real held-out splits (nothing fitted on them)."""
    import os
    import random

    from aggregator.followers.triage.semantic import SemanticIndex, available

    few = 40 if smoke else None
    table: list[tuple[str, str, int, str, str, str]] = []

    def pr(tp: int, fp: int, fn: int) -> tuple[str, str]:
        return f"{ratio(tp, tp + fp):.3f}", f"{ratio(tp, tp + fn):.3f}"

    held = read_jsonl("covidq-heldout.jsonl")
    random.Random(SEED).shuffle(held)  # the file is grouped by class; a meeting's posts are not
    again = reposts(held)[:few]
    held = held[:few]
    pairs_data = f"COVID-Q testA, every pair of {len(held)} questions"
    meeting = f"meeting-like: COVID-Q testA, {len(held)} questions in turn"
    reposted = (f"reposts: a real COVID-Q testA question of each class and 2 reposts of it "
                f"(story, tags, contact details, markup), {len(again)} posts in turn")
    makers: list[tuple[str, Callable[[], DuplicateIndex]]] = [("lexical", DuplicateIndex)]
    encoder: CachedEncoder | None = None
    if semantic and available():
        encoder = CachedEncoder()
        makers.append(("semantic", lambda: SemanticIndex(None, encoder)))
    for name, make in makers:
        started = time.perf_counter()
        tp, fp, fn = every_pair(held, make())
        took = time.perf_counter() - started
        table.append((f"duplicate pairs, {name}", pairs_data, tp + fn, *pr(tp, fp, fn),
                      f"shipped pair model >= {pairs_model_threshold(name):.2f} on each pair "
                      f"({took:.0f} s)"))
        started = time.perf_counter()
        tp, fp, fn = stream_pairs(held, make())
        took = time.perf_counter() - started
        table.append((f"duplicate pairs, {name}", meeting, tp + fn, *pr(tp, fp, fn),
                      f"suggestions as the worker makes them; {len(held) / took:,.0f} posts/s"))
        tp, fp, fn = stream_pairs(again, make())
        table.append((f"duplicate pairs, {name}", reposted, tp + fn, *pr(tp, fp, fn),
                      "suggestions as the worker makes them"))
    if encoder is not None:
        train = read_jsonl("covidq-train.jsonl")
        vec = encoder.model.encode([r["text"] for r in train + held], normalize_embeddings=True,
                                   show_progress_bar=False)
        sims, same = all_pairs(train, vec[:len(train)])
        cut = fit_cosine(sims, same)
        sims, same = all_pairs(held, vec[len(train):])
        said = sims >= cut
        tp, fp = int((said & same).sum()), int((said & ~same).sum())
        fn = int((~said & same).sum())
        note = f"MiniLM cosine >= {cut:.3f} (fitted on COVID-Q train3 for precision 0.9)"
        table.append(("duplicate pairs, cosine baseline", pairs_data, tp + fn, *pr(tp, fp, fn),
                      note))
        tp, fp, fn = cosine_stream(held, vec[len(train):], cut)
        table.append(("duplicate pairs, cosine baseline", meeting, tp + fn, *pr(tp, fp, fn),
                      note + "; each to its nearest group's first question"))
        vec = encoder.model.encode([r["text"] for r in again], normalize_embeddings=True,
                                   show_progress_bar=False)
        tp, fp, fn = cosine_stream(again, vec, cut)
        table.append(("duplicate pairs, cosine baseline", reposted, tp + fn, *pr(tp, fp, fn),
                      note + "; each to its nearest group's first question"))
    elif semantic:
        table.append(("duplicate pairs, semantic", pairs_data, 0, "-", "-",
                      "not measured: the [semantic] extra is not installed"))

    # Intent-labelled queries to one service (HINT3: three live chatbots, real users; BANKING77:
    # one bank): every pair within one service, by each backend's pair model and by the cosine
    # baseline (threshold fitted on the training split).
    hint3 = {bot: sample(rows, few) for bot, rows in read_hint3("heldout").items()}
    bank = sample(read_banking77("heldout"), 40 if smoke else BANKING_PAIRS)
    sets = [(f"HINT3 test (real users), every pair within each of {len(hint3)} bots' "
             f"{sum(map(len, hint3.values())):,} queries", list(hint3.values()),
             [sample(rows, few) for rows in read_hint3("train").values()], "HINT3 train"),
            (f"BANKING77 test, every pair of {len(bank)} queries (seeded sample)", [bank],
             [sample(read_banking77("train"), 120 if smoke else BANKING_FIT)],
             f"{'120' if smoke else f'{BANKING_FIT:,}'} BANKING77 train queries")]
    for where, groups, train_groups, train_name in sets:
        for name, make in makers:
            started = time.perf_counter()
            counts = [every_pair(g, make()) for g in groups]
            tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
            took = time.perf_counter() - started
            table.append((f"duplicate pairs, {name}", where, tp + fn, *pr(tp, fp, fn),
                          f"shipped pair model >= {pairs_model_threshold(name):.2f} on each pair "
                          f"({took:.0f} s)"))
        if encoder is not None:
            cut = fit_cosine(*group_sims(train_groups, encoder))
            tp, fp, fn = cosine_groups(groups, encoder, cut)
            table.append(("duplicate pairs, cosine baseline", where, tp + fn, *pr(tp, fp, fn),
                          f"MiniLM cosine >= {cut:.3f} (fitted on {train_name}, every pair "
                          f"within a service, for precision 0.9)"))
    if encoder is not None:
        # As the backends are fitted: one threshold for every set, from the pairs of the
        # training splits they learn from, at the semantic backend's precision.
        pooled = [g for _, _, train_groups, _ in sets for g in train_groups]
        cut = fit_cosine(*group_sims(pooled, encoder), PAIR_PRECISION[True])
        for where, groups in [(pairs_data, [held]), *[(w, g) for w, g, _, _ in sets]]:
            tp, fp, fn = cosine_groups(groups, encoder, cut)
            table.append(("duplicate pairs, cosine baseline, one threshold", where, tp + fn,
                          *pr(tp, fp, fn), f"MiniLM cosine >= {cut:.3f} for every set (fitted "
                          f"on HINT3 and BANKING77 train for precision {PAIR_PRECISION[True]})"))

    table += abuse_rows(few)

    for name, label in (("questions-heldout.jsonl", "NQ-open dev"),
                        ("covidq-heldout.jsonl", "COVID-Q testA")):
        rows = read_jsonl(name)[:few]
        found = sum(questions.score(r["text"]).score >= THRESHOLD for r in rows)
        table.append(("question recall", f"{label}, {len(rows)} questions", len(rows), "-",
                      f"{ratio(found, len(rows)):.3f}",
                      f"threshold {THRESHOLD}; every item a real question: no precision"))
    tweets = [r["text"] for r in read_jsonl("abuse-heldout.jsonl")[:few]
              if r["label"] == "neither" and "?" not in r["text"]]
    called = sum(questions.score(t).score >= THRESHOLD for t in tweets)
    table.append(("called a question", f"Davidson et al. tweets labelled neither, without a "
                  f"question mark, {len(tweets)}", 0, "-", "-",
                  f"{called} called questions (some are: no question labels; a bound on false "
                  f"questions)"))
    count = 120 if smoke else 3_000
    caught, total, kinds = personal_recall(count)
    table.append(("personal data (posts)", f"invented, generated (seed 4), {total} posts", total,
                  "-", f"{ratio(caught, total):.3f}",
                  "a post counts when every kind in it is found; per kind: " + ", ".join(
                      f"{k} {ratio(f, n):.3f}" for k, (f, n) in sorted(kinds.items()))))
    innocent = [r["text"] for name in ("questions-heldout.jsonl", "covidq-heldout.jsonl")
                for r in read_jsonl(name)[:few]]
    masked = sum(bool(personal.find(t)) for t in innocent)
    table.append(("personal data found in real questions", f"NQ-open dev + COVID-Q testA, "
                  f"{len(innocent)} questions", 0, "-", "-",
                  f"{masked} of them masked (none holds personal data)"))
    stream = sum(questions.LIVE.search(t) is not None for t in innocent)
    table.append(("'about the stream or sound'", f"NQ-open dev + COVID-Q testA, "
                  f"{len(innocent)} questions", 0, "-", "-",
                  f"{stream} of them called a post about the stream (none is)"))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Triage on real held-out data (tests/triage/real/; load average {load}"
          f"{'; smoke: the first few of each' if smoke else ''})")
    print("| check | held-out data | positives | precision | recall | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for check, where, n, p, r, note in table:
        print(f"| {check} | {where} | {n:,} | {p} | {r} | {note} |")
    print("targets: duplicates P >= 0.9 at R >= 0.75; abuse R >= 0.85 at P >= 0.8; "
          "question recall >= 0.95; personal data R >= 0.95")


def abuse_rows(few: int | None) -> list[tuple[str, str, int, str, str, str]]:
    """The abuse rows of the real-data table: each source's held-out split, two meeting-like
    mixes at PREVALENCE, HateCheck, and innocent real questions (nothing here was fitted on)."""
    import random

    check = AbuseCheck()
    table: list[tuple[str, str, int, str, str, str]] = []

    def counts(rows: list[tuple[str, bool]]) -> tuple[int, int, int, int]:
        said = [v.abusive for v in check.check_many([t for t, _ in rows])]
        truth = [t for _, t in rows]
        tp = sum(t and s for t, s in zip(truth, said, strict=True))
        fp = sum(s and not t for t, s in zip(truth, said, strict=True))
        return tp, fp, sum(truth) - tp, len(truth) - sum(truth)

    def add(name: str, rows: list[tuple[str, bool]], note: str) -> None:
        tp, fp, fn, neg = counts(rows)
        share = (tp + fn) / max(1, len(rows))
        note += f"; {share:.0%} abusive"
        if abs(share - PREVALENCE) > 0.02:
            note += (f"; precision at {PREVALENCE:.0%} abusive (false positives scaled): "
                     f"{precision_at(tp, fp, tp + fn, neg):.3f}")
        table.append(("abuse", name, tp + fn,
                      f"{ratio(tp, tp + fp):.3f}", f"{ratio(tp, tp + fn):.3f}", note))

    cut = f"model >= {check.threshold:.2f} + word list + aimed insults"
    held = {key: [(r["text"], bool(r["abusive"])) for r in read_jsonl(f"{key}-heldout.jsonl")[:few]]
            for key, _ in ABUSE_SOURCES}
    for key, what in ABUSE_SOURCES:
        add(f"{what}, {len(held[key])}", held[key], cut)
    innocent_q = [(r["text"], False) for name in ("questions-heldout.jsonl",
                                                   "covidq-heldout.jsonl")
                  for r in read_jsonl(name)[:few]]
    # A meeting's balance: innocent held-out posts, and as many held-out abusive ones (drawn at
    # random, seeded) as make one post in ten abusive. The first mix is the one reported before
    # ConvAbuse and Stormfront were added (Davidson and ETHOS only, drawn from the pool of both);
    # the second takes every source, its abusive posts drawn from each source in turn.
    first = held["abuse"] + held["ethos"]
    negatives = [x for x in first if not x[1]] + innocent_q
    positives = [x for x in first if x[1]]
    random.Random(SEED).shuffle(positives)
    mix = negatives + positives[:max(1, round(len(negatives) * PREVALENCE / (1 - PREVALENCE)))]
    add(f"mix as before, {len(mix)} posts: innocent Davidson/ETHOS held-out posts and NQ/COVID-Q "
        "questions", mix, cut)
    negatives = [x for rows in held.values() for x in rows if not x[1]] + innocent_q
    mix = negatives + balanced_draw([[x for x in rows if x[1]] for rows in held.values()],
                                    round(len(negatives) * PREVALENCE / (1 - PREVALENCE)))
    add(f"mix of all four sources, {len(mix)} posts: their innocent held-out posts and NQ/COVID-Q "
        "questions; abusive ones drawn from each source in turn", mix, cut)

    hatecheck = read_jsonl("hatecheck-heldout.jsonl")
    if few is not None:
        hatecheck = hatecheck[::max(1, len(hatecheck) // few)]
    tests = [(r["text"], bool(r["abusive"])) for r in hatecheck
             if r["abusive"] or r["functionality"] in HATECHECK_INNOCENT]
    tp, fp, _, _ = counts([(r["text"], bool(r["abusive"])) for r in hatecheck])
    hateful = sum(bool(r["abusive"]) for r in hatecheck)
    add(f"HateCheck: hateful cases and innocent contrasts, {len(tests)}", tests,
        cut + "; innocent: " + ", ".join(sorted(HATECHECK_INNOCENT)) + "; on the whole suite "
        f"(every non-hateful case a negative, as its paper scores it): P {ratio(tp, tp + fp):.3f}"
        f", R {ratio(tp, hateful):.3f}")
    for what, funcs in (("innocent contrasts", HATECHECK_INNOCENT),
                        ("not hate but abuse at a meeting", HATECHECK_RUDE)):
        texts = [r["text"] for r in hatecheck if r["functionality"] in funcs]
        flagged = sum(v.abusive for v in check.check_many(texts))
        table.append((f"abuse on HateCheck's {what}", ", ".join(sorted(funcs)) +
                      f", {len(texts)}", 0, "-", "-",
                      f"{flagged} flagged ({ratio(flagged, len(texts)):.3f})"))
    texts = [t for t, _ in innocent_q]
    flagged = sum(v.abusive for v in check.check_many(texts))
    table.append(("abuse on innocent questions", f"NQ-open dev + COVID-Q testA, {len(texts)}",
                  0, "-", "-", f"{flagged} flagged ({ratio(flagged, len(texts)):.4f})"))
    # Queries to one service (HINT3's real users of three chatbots, BANKING77's to one bank):
    # the model's innocent training posts include both sets' training queries, so this row
    # measures the same services it was fitted on (an easy row).
    texts = [r["text"] for rows in read_hint3("heldout").values() for r in rows[:few]]
    texts += [r["text"] for r in read_banking77("heldout")[:few]]
    flagged = sum(v.abusive for v in check.check_many(texts))
    table.append(("abuse on innocent questions", f"HINT3 test + BANKING77 test, {len(texts)}",
                  0, "-", "-", f"{flagged} flagged ({ratio(flagged, len(texts)):.4f})"))
    return table


def balanced_draw(pools: list[list[Any]], count: int, seed: int = SEED) -> list[Any]:
    """``count`` items drawn from ``pools`` in turn (each shuffled, seeded) while any lasts."""
    import random

    pools = [list(p) for p in pools]
    for p in pools:
        random.Random(seed).shuffle(p)
    out: list[Any] = []
    while len(out) < count and any(pools):
        for p in pools:
            if p and len(out) < count:
                out.append(p.pop())
    return out


FIRST = ("Harold", "Jean", "Margaret", "Tom", "Aisha", "Priya", "Dave", "Siân", "Gareth",
         "Agnieszka",
         "Mohammed", "Olivia", "Kwame", "Eileen", "Jack", "Fatima", "Rhys", "Bernadette")
LAST = ("Smith", "Price", "O'Neill", "McDonald", "Patel", "Evans", "Kowalski", "Okafor",
        "Hughes", "Begum", "Jones", "Fitzgerald", "Nowak", "Ahmed", "Williams", "MacLeod")
RELATIONS = ("dad", "mum", "father", "mother", "husband", "wife", "partner", "son", "daughter",
             "nan", "grandad", "brother", "sister", "late husband", "elderly mother", "neighbour",
             "friend", "mother-in-law", "uncle", "carer")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def personal_cases(count: int, seed: int = 4) -> list[tuple[str, list[str]]]:
    """``count`` invented posts, each with one or two kinds of UK personal data written in one
    of the forms people use, and the kinds it holds (bench-made: no real labelled set exists).
    Every number is random (phone numbers in Ofcom's drama ranges and real-looking ones, NHS
    numbers with a valid check digit), every name drawn from invented lists."""
    import random

    rng = random.Random(seed)

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    def phone() -> str:
        mobile = "07" + rng.choice(["700 900", "911 ", "400 ", "852 ", "956 "]).replace(" ", "")
        mobile += digits(11 - len(mobile))
        land = rng.choice(["020" + rng.choice("78") + digits(7), "0113496" + digits(4),
                           "0161" + digits(7), "01632960" + digits(3), "029" + "20" + digits(6),
                           "01865" + digits(6), "0141" + digits(7)])
        n = rng.choice([mobile, mobile, land])
        body = n[1:]
        forms = [n, f"{n[:5]} {n[5:]}", f"{n[:5]} {n[5:8]} {n[8:]}", f"{n[:4]} {n[4:7]} {n[7:]}",
                 f"{n[:5]}-{n[5:]}", f"({n[:5]}) {n[5:]}", f"+44 {body[:4]} {body[4:]}",
                 f"+44 (0){body[:4]} {body[4:]}", f"+44{body}", f"0044 {body[:4]} {body[4:]}",
                 f"{n[:5]}.{n[5:8]}.{n[8:]}"]
        if n.startswith("02"):
            forms += [f"{n[:3]} {n[3:7]} {n[7:]}", f"({n[:3]}) {n[3:7]} {n[7:]}"]
        return rng.choice(forms)

    def nhs() -> str:
        while True:
            n = digits(10)
            if personal.nhs_valid(n):
                return rng.choice([n, f"{n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}"])

    def email() -> str:
        first, last = rng.choice(FIRST).lower().replace("â", "a"), rng.choice(LAST).lower()
        last = last.replace("'", "")
        user = rng.choice([f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}",
                           f"{first[0]}{last}", f"{first}_{last}+floor"])
        return user + "@" + rng.choice(["gmail.com", "hotmail.co.uk", "btinternet.com",
                                        "example.org", "nhs.net", "outlook.com"])

    def postcode() -> str:
        area = rng.choice(["LS1 4AP", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT",
                           "W1A 0AX", "EC1A 1BB", "CF10 1AA", "EH1 1YZ", "BS8 1TH", "OX1 2JD",
                           "NE1 4LP", "G2 1DU", "BT1 5GS", "PL4 8AA"])
        return rng.choice([area, area.replace(" ", ""), area.lower(), area])

    def dob() -> str:
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1925, 2005)
        return rng.choice([f"{d:02d}/{m:02d}/{y}", f"{d}/{m}/{y}", f"{d:02d}.{m:02d}.{y % 100:02d}",
                           f"{y}-{m:02d}-{d:02d}", f"{d} {MONTHS[m - 1]} {y}",
                           f"{d}{'th' if d > 3 else ['st', 'nd', 'rd'][d - 1]} of "
                           f"{MONTHS[m - 1]} {y}", f"{MONTHS[m - 1]} {d}, {y}",
                           f"{d} {MONTHS[m - 1][:3]} {y}", f"{d:02d}-{m:02d}-{y}"])

    def name() -> str:
        return rng.choice([f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(FIRST)])

    slots: dict[str, list[str]] = {
        "phone": ["Please ring me on {x}, nobody has called back",
                  "My mum is on {x} if the complaints team want to talk",
                  "call {x} the community team never answers", "tel {x}. Why no reply?"],
        "nhs": ["Appointment for NHS number {x} cancelled three times, why?",
                "my NHS no. is {x} and my referral vanished",
                "NHS {x} - still waiting for the scan results"],
        "email": ["email me at {x} with an answer please", "contact: {x}",
                  "reply to {spelt} please",
                  "I wrote to the board from {x} in May and got nothing"],
        "postcode": ["We live in {x} and waited 6 hours for an ambulance",
                     "Why is there no defib near {x}?", "{x} - the bus to the hospital stopped"],
        "dob": ["My dad was born {x} and they still made him wait", "DOB {x}, still no letter",
                "date of birth: {x}. Please look into it", "I'm 70 (born {x}) and can't drive"],
        "name": ["My {rel}, {x}, waited 9 hours on the floor", "my {rel} {x} was sent home twice",
                 "My {rel} {x} (82) fell and nobody came",
                 "Why did my {rel} {x} wait so long for a bed?",
                 "My name is {x} and I want an answer", "Mrs {last} on ward 4 was wonderful",
                 "my {rel}, {lower}, waited 9 hours", "my {rel} {lower} was sent home",
                 "Mr. {last} the consultant never rang back"],
    }
    out = []
    kinds = sorted(slots)
    makers = {"phone": phone, "nhs": nhs, "email": email, "postcode": postcode, "dob": dob,
              "name": name}
    for i in range(count):
        chosen = [kinds[i % len(kinds)]]
        if rng.random() < 0.3:
            chosen.append(rng.choice([k for k in kinds if k != chosen[0]]))
        parts = []
        for kind in chosen:
            template = rng.choice(slots[kind])
            x = makers[kind]()
            parts.append(template.format(x=x, rel=rng.choice(RELATIONS), last=rng.choice(LAST),
                                         lower=x.lower(), spelt=x.replace("@", " at ").replace(
                                             ".", " dot ")))
        out.append((". ".join(parts), chosen))
    return out


def personal_recall(count: int) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Posts whose personal data is all found (each kind as often as it is there), of
    ``count`` invented ones; and found/present per kind."""
    caught, kinds = 0, {}
    for text, want in personal_cases(count):
        got = Counter(s.kind for s in personal.find(text))
        need = Counter(want)
        caught += all(got[k] >= n for k, n in need.items())
        for k, n in need.items():
            found, total = kinds.get(k, (0, 0))
            kinds[k] = (found + min(n, got[k]), total + n)
    return caught, count, kinds


PREVALENCE = 0.1  # one post in ten abusive: the balance thresholds are chosen for
# The real abuse sources: files ``<prefix>-train.jsonl`` and ``<prefix>-heldout.jsonl`` in
# tests/triage/real/ (DATA.md there), and what the held-out split is. All four are measured;
# only ABUSE_TRAINING's are fitted on.
ABUSE_SOURCES = (
    ("abuse", "Davidson et al. tweets (seeded split)"),
    ("ethos", "ETHOS comments (seeded split)"),
    ("convabuse", "ConvAbuse: users to two chatbots (official test split)"),
    ("stormfront", "Stormfront sentences, de Gibert et al. (official sampled_test)"),
)
# The sources the shipped weights are fitted on: only those whose licence plainly allows
# shipping a model fitted on them in Floor's MIT package with an attribution (Davidson et al.:
# MIT; ConvAbuse: CC BY 4.0), and BANKING77's (CC BY 4.0) and HINT3's (ODbL 1.0) training
# queries as innocent posts.
# ETHOS and COVID-Q (GPL-3.0), Stormfront and NQ-open (CC BY-SA 3.0) are held-out measures
# only: were fitted weights an adaptation of their data, their terms could not be met in an
# MIT package (nor each other's).
ABUSE_TRAINING = ("abuse", "convabuse")
# Innocent posts: the training queries of BANKING77 (CC BY 4.0) and HINT3 (ODbL 1.0: the fitted
# weights are a Produced Work, shipped with its notice), each a source of its own.
INNOCENT_TRAINING = (("banking77", "banking77-train.jsonl"), ("hint3", "hint3-train.jsonl"))
# (source key, file)
# HateCheck's non-hateful functional tests that are innocent at a meeting too (neutral and
# positive mentions of a group, negated hate, counter-speech quoting or naming hate, hate of
# things or non-protected groups, homonyms of slurs), and those that are not hate but that a
# meeting's moderators would still reject (swearing, reclaimed slurs, "I hate you").
HATECHECK_INNOCENT = frozenset({"ident_neutral_nh", "ident_pos_nh", "negate_neg_nh",
                                "counter_quote_nh", "counter_ref_nh", "target_obj_nh",
                                "target_group_nh", "slur_homonym_nh"})
HATECHECK_RUDE = frozenset({"profanity_nh", "slur_reclaimed_nh", "target_indiv_nh"})


def abuse_training() -> tuple[list[str], Any, Any, Any]:
    """The abuse model's training posts (training splits only): each source of ABUSE_TRAINING
    and BANKING77's and HINT3's training queries as innocent posts (INNOCENT_TRAINING); with
    labels, sample weights and each post's source. Every (source, label) group weighs the same
    in all, Davidson's twice (ABUSE_MULT), so ConvAbuse's few hundred abusive turns count beside
    twenty thousand tweets and no source's share of abuse sets the model's prior."""
    import numpy as np

    rows = [(r["text"], bool(r["abusive"]), key) for key in ABUSE_TRAINING
            for r in read_jsonl(f"{key}-train.jsonl")]
    rows += [(r["text"], False, key) for key, name in INNOCENT_TRAINING
             for r in read_jsonl(name)]
    y = np.array([label for _, label, _ in rows])
    source = np.array([key for _, _, key in rows])
    groups = sorted({(key, label) for _, label, key in rows})
    w = np.ones(len(rows))
    for key, label in groups:
        members = (source == key) & (y == label)
        w[members] = len(rows) / (len(groups) * members.sum()) * ABUSE_MULT.get(key, 1.0)
    return [t for t, _, _ in rows], y, w, source


ABUSE_MULT = {"abuse": 2.0}  # Davidson's tweets: the most, and the most like social posts
# Chosen on out-of-fold training scores: the inverse regularisation (1, 4, 16; 32 without the
# ratios) and the ratios' smoothing (0.1, 1). Scaling by the ratios lifted out-of-fold recall at
# precision 0.85 from 0.524 to 0.577 (C 16 without them, 4 with), on all four sources. On
# Davidson's, ConvAbuse's and BANKING77's alone, C 1 gave 0.857 and C 4 0.850 (kept at 4 then,
# against this rule); with HINT3's queries added, C 1 0.851, C 4 0.848, C 16 0.839: C 1.
ABUSE_C = 1.0
ABUSE_NB_ALPHA = 1.0
ABUSE_PRECISION = 0.85  # the threshold's aim at PREVALENCE, leaving room below the 0.8 target
# The innocent posts of the threshold's mix: every innocent training post of the abuse sources
# (Davidson's "neither", ConvAbuse's not abusive) and a seeded draw of THRESHOLD_QUESTIONS of
# BANKING77's and HINT3's queries (from each in turn): as many real questions as the mix held
# when the method was settled (NQ-open's 1,800 and COVID-Q's 267 training questions). All
# 10,003 of one bank's queries, 60% of the mix and hardly ever near the threshold, set it at
# 0.31 (out-of-fold recall 0.919) and flagged 35 of 4,070 held-out innocent questions; with the
# draw it was 0.61 (0.850), 7. With HINT3's queries added (the draw's size kept) and C 1: 0.54.
# Flagging question-form posts (questions.score >= 0.5) only at a higher score was measured on
# the same out-of-fold scores and not taken: the best recall at precision 0.85 falls as that
# cut rises (0.851 at 0.54, 0.848 at 0.7, 0.835 at 0.95), abusive questions lost with the
# innocent ones (most of the innocent questions flagged are swearing or sexual questions that
# Davidson's or ConvAbuse's annotators left unmarked).
# (When ETHOS and Stormfront were fitted on, their "not hate" was left out of the mix: it holds
# swearing and insults a meeting's moderators reject.)
THRESHOLD_INNOCENT = ABUSE_TRAINING
THRESHOLD_QUESTIONS = 2_067


def precision_at(tp: int, fp: int, positives: int, negatives: int,
                 prevalence: float = PREVALENCE) -> float:
    """Precision had the same posts come with ``prevalence`` of them abusive (false
    positives scaled by the ratio of negatives to positives that implies)."""
    scale = (1 - prevalence) / prevalence * positives / max(1, negatives)
    return tp / max(1e-9, tp + scale * fp)


def fit_abuse(out: Path) -> None:
    """Fit the abuse model on the training splits and write its weights to ``out``. The
    threshold gives the most recall at precision ABUSE_PRECISION on 5-fold out-of-fold scores
    of the same training posts, in a mix of every innocent training post of THRESHOLD_INNOCENT's
    sources, THRESHOLD_QUESTIONS of INNOCENT_TRAINING's (seeded, from each source in turn) and
    abusive ones drawn from each source in turn to make PREVALENCE, with the word list and aimed
    insults counted as the check counts them."""
    import numpy as np
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from aggregator.followers.triage import abuse

    texts, y, w, source = abuse_training()
    raw = abuse.counts([abuse.prepare(t) for t in texts])

    def idf_of(rows: Any) -> Any:
        df = np.bincount(rows.indices, minlength=rows.shape[1])
        return np.log((1 + rows.shape[0]) / (1 + df)) + 1

    def model() -> LogisticRegression:
        return LogisticRegression(C=ABUSE_C, max_iter=3000)

    def nb_ratio(x: Any, labels: Any, weights: Any) -> Any:
        """Each feature's log-ratio of its (weighted) share among abusive and innocent posts:
        the features are scaled by it before the regression (NB-LR, Wang and Manning 2012)."""
        def share(rows: Any) -> Any:
            sums = np.asarray(x[rows].multiply(weights[rows][:, None]).sum(axis=0)).ravel()
            return (sums + ABUSE_NB_ALPHA) / (sums + ABUSE_NB_ALPHA).sum()
        return np.log(share(labels) / share(~labels))

    oof = np.zeros(len(y))
    strata = np.array([f"{s}:{int(label)}" for s, label in zip(source, y, strict=True)])
    for train, test in StratifiedKFold(5, shuffle=True, random_state=13).split(texts, strata):
        x = abuse.weigh(raw, idf_of(raw[train]))  # the IDF and ratios from the training folds
        x = x @ sparse.diags(nb_ratio(x[train], y[train], w[train]))
        oof[test] = model().fit(x[train], y[train], sample_weight=w[train]).predict_proba(
            x[test])[:, 1]
    check = abuse.AbuseCheck(use_model=False)
    listed = np.array([v.abusive for v in check.check_many(texts)])
    innocent = list(np.flatnonzero(~y & np.isin(source, THRESHOLD_INNOCENT)))
    innocent += sorted(balanced_draw([list(np.flatnonzero(source == key))
                                      for key, _ in INNOCENT_TRAINING], THRESHOLD_QUESTIONS))
    keep = np.array(innocent + balanced_draw(
        [list(np.flatnonzero(y & (source == key))) for key in ABUSE_TRAINING],
        round(len(innocent) * PREVALENCE / (1 - PREVALENCE))))

    def best_cut(rules: Any) -> tuple[float, float, float]:
        best = (0.0, 0.5, 0.0)
        for cut in np.arange(0.05, 0.99, 0.01):
            said, truth = (oof[keep] >= cut) | rules[keep], y[keep]
            tp, fp = int((said & truth).sum()), int((said & ~truth).sum())
            recall = tp / int(truth.sum())
            if tp / max(1, tp + fp) >= ABUSE_PRECISION and recall > best[0]:
                best = (recall, float(round(cut, 2)), tp / max(1, tp + fp))
        return best

    best = best_cut(listed)
    alone = best_cut(np.zeros(len(y), dtype=bool))
    idf = idf_of(raw)
    x = abuse.weigh(raw, idf)
    nb = nb_ratio(x, y, w)
    lr = model().fit(x @ sparse.diags(nb), y, sample_weight=w)
    # The ratios fold into the coefficients: the check computes what it computed before.
    abuse.AbuseModel(idf, nb * lr.coef_[0], float(lr.intercept_[0]), best[1]).save(out)
    print(f"abuse model: {len(texts):,} training posts ({int(y.sum()):,} abusive); threshold "
          f"{best[1]:.2f}: out-of-fold recall {best[0]:.3f} at precision {best[2]:.3f} "
          f"(aim {ABUSE_PRECISION}) with {PREVALENCE:.0%} abusive, word list included; "
          f"written to {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    print(f"  without the word list and aimed insults: recall {alone[0]:.3f} at precision "
          f"{alone[2]:.3f} (threshold {alone[1]:.2f}); they alone: recall "
          f"{listed[keep][y[keep]].mean():.3f}, precision {y[keep][listed[keep]].mean():.3f}")
    for key in (*ABUSE_TRAINING, *(key for key, _ in INNOCENT_TRAINING)):
        m = source == key
        said = (oof >= best[1]) | listed
        print(f"  out of fold, {key}: recall {said[m & y].mean() if (m & y).any() else 0:.3f}, "
              f"innocent flagged {said[m & ~y].mean():.3f}")


# The sign each feature's weight must have, from what it means (``pairs``' docstring): the
# real training sets label by intent, broader than "asks the same thing", and left free their
# weights turned some hard-negative signals into evidence for a repeat.
SIGNS = {"char": 1, "word": 1, "fuzzy": 1, "overlap": 1, "cover": 1, "meaning": 1, "align": 1,
         "differ": 1, "swap": -1, "kind": -1, "negation": -1, "opposite": -1, "numbers": -1,
         "names": -1}
PAIR_TRAINING_BANK = 1_500  # BANKING77 training queries streamed (of 10,003)
# The precision each backend's threshold is chosen for on the training candidates. The
# semantic one's is above the 0.9 wanted: its sentence cosine scores a different ask on the same
# topic high, and the intent labels count many such pairs as the same, so 0.9 there was 0.83 on
# the invented file's hard negatives (0.97 at 0.93). The lexical one's letters do not (1.0).
PAIR_PRECISION = {False: 0.9, True: 0.93}  # by semantic
# The features each backend's model uses, chosen on the training splits alone (each set held out
# of the fit in turn, its threshold from the others): for the semantic backend the letters, kind
# and the rest added nothing to the embedding's three (every feature: precision 0.904, recall
# 0.124; meaning, align and differ: 0.904, 0.137; meaning alone: 0.892, 0.140). The lexical
# backend has only letters and words (all of them 0.896 / 0.092; char and word 0.876 / 0.090).


def pair_training_sets() -> list[tuple[str, list[dict[str, Any]]]]:
    """The real training splits as meetings, each in a seeded order: BANKING77's (a seeded
    1,500) and each HINT3 bot's questions, and reposts of each (``reposts``). Not COVID-Q's:
    its GPL-3.0 terms would follow weights shipped in Floor's MIT package (DATA.md), and left
    out it measures the weights on a topic they never saw."""
    sets = [("BANKING77 train", sample(read_banking77("train"), PAIR_TRAINING_BANK))]
    sets += [(f"HINT3 train, {bot}", sample(rows, None))
             for bot, rows in sorted(read_hint3("train").items())]
    return sets + [(f"reposts of {name}", reposts(rows)) for name, rows in sets]


def candidate_rows(rows: list[dict[str, Any]], index: DuplicateIndex) -> tuple[Any, Any]:
    """Each row's candidates among the rows before it (as the worker proposes them), with their
    features and whether the labels say both ask the same thing."""
    import numpy as np

    cluster = {r["id"]: r["cluster"] for r in rows}
    xs, ys = [np.zeros((0, len(FEATURES)))], []
    for row in rows:
        found, x = index.pairs(row["text"], exclude=row["id"])
        xs.append(x)
        ys.extend(cluster[q] == row["cluster"] for q in found)
        index.add(row["id"], row["text"])
    return np.vstack(xs), np.array(ys, dtype=bool)


def fit_pairs(make: Callable[[], DuplicateIndex], semantic: bool) -> PairModel:
    """A logistic regression over ``FEATURES`` on the candidates of the real training splits
    (pairs a rule vetoes left out), each weight held to its ``SIGNS`` sign (L-BFGS-B with
    bounds, a little L2); then the threshold with the most recall at ``PAIR_PRECISION`` on
    those same candidates."""
    import numpy as np
    from scipy.optimize import minimize

    from aggregator.followers.triage.pairs import SEMANTIC_FEATURES, VETOES

    parts = [candidate_rows(rows, make()) for _, rows in pair_training_sets()]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    vetoed = (x[:, [FEATURES.index(v) for v in VETOES]] > 0).any(axis=1)
    uses = SEMANTIC_FEATURES if semantic else [f for f in FEATURES
                                                if f not in (*VETOES, *SEMANTIC_FEATURES)]
    cols = [FEATURES.index(f) for f in uses]
    xs, ys = x[~vetoed][:, cols], y[~vetoed].astype(float)

    def loss(theta: Any) -> tuple[float, Any]:
        z = xs @ theta[:-1] + theta[-1]
        gap = 1 / (1 + np.exp(-z)) - ys
        value = float((np.logaddexp(0, z) - ys * z).mean() + 5e-4 * theta[:-1] @ theta[:-1])
        return value, np.append(xs.T @ gap / len(ys) + 1e-3 * theta[:-1], gap.mean())

    bounds = [(0.0, None) if SIGNS[FEATURES[c]] > 0 else (None, 0.0) for c in cols]
    theta = minimize(loss, np.zeros(len(cols) + 1), jac=True, method="L-BFGS-B",
                     bounds=[*bounds, (None, None)]).x
    weights = np.zeros(len(FEATURES))
    weights[cols] = theta[:-1]
    model = PairModel(tuple(round(float(w), 3) for w in weights), round(float(theta[-1]), 3),
                      0.5)
    p = model.probability(x)
    order = np.argsort(-p, kind="stable")
    floor = PAIR_PRECISION[semantic]
    precise = np.flatnonzero(np.cumsum(y[order]) / np.arange(1, len(p) + 1) >= floor)
    threshold = round(float(p[order[precise[-1]]]), 3) if len(precise) else 0.9
    print(f"  {len(y):,} candidate pairs ({int(y.sum()):,} the same), {int(vetoed.sum()):,} "
          f"vetoed; threshold {threshold} for precision {floor}", file=sys.stderr)
    return PairModel(model.weights, model.bias, threshold)


def pairs_model_threshold(backend: str) -> float:
    from aggregator.followers.triage import pairs as pair_models

    return (pair_models.SEMANTIC if backend == "semantic" else pair_models.LEXICAL).threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", default=str(ROOT / "tests/triage/posts.jsonl"))
    parser.add_argument("--labels", default=str(ROOT / "tests/triage/labels.json"))
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--ingest", action="store_true",
                        help="measure ingest speed with a triage worker running")
    parser.add_argument("--posts-count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--semantic", action="store_true",
                        help="also measure the semantic backend (the [semantic] extra)")
    parser.add_argument("--semantic-threshold", type=float, default=None,
                        help="semantic duplicate threshold (default: the fitted one)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="lexical duplicate threshold (default: the fitted one)")
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-validation folds for the held-out duplicate figures "
                             "(0: none, e.g. on a file the weights never saw)")
    parser.add_argument("--drop", default="",
                        help="features (comma-separated) left out of the fitted weights")
    parser.add_argument("--scale", type=int, default=0,
                        help="measure the duplicate index's memory and rate at this size")
    parser.add_argument("--backend", default="", help=argparse.SUPPRESS)  # --scale's child
    parser.add_argument("--real", action="store_true",
                        help="measure triage on the real held-out splits (tests/triage/real/)")
    parser.add_argument("--keep-up", action="store_true",
                        help="the worker against a steady 5,000 posts/min and a 10,000 burst")
    parser.add_argument("--rate", type=int, default=5_000, help="--keep-up: posts a minute")
    parser.add_argument("--seconds", type=float, default=60, help="--keep-up: steady phase")
    parser.add_argument("--burst", type=int, default=10_000, help="--keep-up: burst size")
    parser.add_argument("--workers", type=int, default=1, help="--keep-up: worker processes")
    parser.add_argument("--niceness", type=int, default=10,
                        help="--keep-up: the workers' nice level (floor triage's is 10)")
    parser.add_argument("--fit-abuse", action="store_true",
                        help="fit the abuse model on the training splits and write its weights")
    parser.add_argument("--fit", action="store_true",
                        help="also print the weights fitted on the whole (invented) file")
    parser.add_argument("--fit-pairs", action="store_true",
                        help="fit each backend's pair model on the real training splits and "
                             "print it for aggregator/followers/triage/pairs.py")
    args = parser.parse_args()
    DROPPED.extend(FEATURES.index(name) for name in args.drop.split(",") if name)
    if args.keep_up:
        keep_up(args.rate, args.seconds, args.burst,
                "semantic" if args.semantic else "lexical", args.workers, args.niceness)
        return
    if args.fit_abuse:
        from aggregator.followers.triage.abuse import MODEL

        fit_abuse(MODEL)
        return
    if args.fit_pairs:
        from aggregator.followers.triage.semantic import SemanticIndex, available

        print("LEXICAL =", fit_pairs(DuplicateIndex, semantic=False))
        if available():
            encoder = CachedEncoder()
            print("SEMANTIC =", fit_pairs(lambda: SemanticIndex(None, encoder), semantic=True))
        return
    if args.real:
        real(smoke=False, semantic=True)
        return
    if args.ingest or args.smoke:
        ingest_with_triage(2_000 if args.smoke else args.posts_count,
                           1 if args.smoke else args.rounds, args.smoke,
                           "semantic" if args.semantic and not args.smoke else "lexical")
        if not args.smoke:
            return
        print()
        keep_up(1_200, 2, 300, "lexical", 1, 10)
        print()
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
    if args.backend:
        scale(posts, args.scale, args.backend)
        return
    if args.scale or args.smoke:
        import subprocess

        for backend in ["lexical", "semantic"] if args.semantic else ["lexical"]:
            subprocess.run([sys.executable, __file__, "--posts", args.posts, "--scale",
                            str(300 if args.smoke else args.scale), "--backend", backend],
                           check=True)
        if not args.smoke:
            return
    assessor = Assessor(AbuseCheck(), DuplicateIndex(args.threshold))
    assessor.assess(posts[:1] and [Post("warm-up", "warm up the model")])  # import, not timing
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

    clusters = {p.qid: labels[p.qid]["cluster"] for p in posts}
    print()
    backends = [("lexical", lambda: DuplicateIndex(args.threshold))]
    if args.semantic:
        from aggregator.followers.triage.semantic import SemanticIndex, available

        if not available():
            print("semantic backend: not installed (pip install -e '.[semantic]')")
        else:
            encoder = CachedEncoder()
            backends.append(("semantic", lambda: SemanticIndex(args.semantic_threshold,
                                                               encoder)))
    for name, make in backends:
        index = make()
        start = time.perf_counter()
        tp, fp, fn = duplicate_counts(posts, clusters, index)
        took = time.perf_counter() - start
        print(line("duplicate pairs", tp, fp, fn),
              f"({name}, shipped weights, threshold {index.threshold:.2f}, fitted on the real "
              f"training splits; {len(posts) / took:,.0f} posts/s)")
        if not args.smoke and args.folds > 1:
            held, model = cross_validate(posts, labels, make, args.folds)
            print(line("duplicate pairs", *held),
                  f"({name}, held out: {args.folds} folds by topic)")
            if args.fit:
                print(f"  fitted on the whole file, for pairs.{name.upper()}: {model}")
    for name in ("question", "abuse", "personal"):
        c = counts[name]
        print(line(name if name != "personal" else "personal data (posts)", c["tp"], c["fp"],
                   c["fn"]))
    print("targets: duplicates P >= 0.9, R >= 0.75; question F1 >= 0.9; personal R >= 0.95; "
          "abuse R >= 0.85 at P >= 0.8")
    if args.smoke:
        print()
        real(smoke=True, semantic=args.semantic)


if __name__ == "__main__":
    main()
