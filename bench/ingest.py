"""Ingest throughput: posts per second through normalise + dedupe + store, against the raw rate
of pipelined XADD of the same payloads to the same server, in the same run.

    python bench/ingest.py [--posts 20000] [--batch 200] [--rounds 3] [--muted]

Uses REDIS_URL when set, else an embedded server in a temporary folder. Prints both rates and
the ratio (target: >= 0.25). Posts are the bundled rehearsal posts, cycled with fresh ids.
With --muted one of their authors is muted first, so ingest checks every post against the muted
authors and sets that one's posts aside (with nobody muted it skips the check).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.base.keys import Keys  # noqa: E402
from aggregator.base.redis_server import connect  # noqa: E402
from aggregator.core.normalise import normalise  # noqa: E402
from aggregator.core.question import Post  # noqa: E402
from aggregator.core.store import Store  # noqa: E402
from aggregator.ingest.sources.rehearsal import BUNDLED  # noqa: E402


def sample_posts(count: int) -> list[Post]:
    lines = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if len(line["text"]) < 2_000]  # the wall of text is one post
    return [
        Post(platform=line["platform"], native_id=f"{line['id']}-{i}", text=line["text"],
             author_name=line.get("author", ""), author_handle=line.get("handle", ""),
             posted_at="2026-05-14T10:00:05+00:00", raw=line)
        for i, line in ((i, lines[i % len(lines)]) for i in range(count))
    ]


def cpu_seconds(conn) -> float:
    """CPU time used so far by this process and by the Redis server: what a phase costs,
    whatever else the machine is running (wall-clock rates on a shared machine measure the
    neighbours as much as the code)."""
    info = conn.info("cpu")
    return time.process_time() + float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def costed(conn, measure, *args) -> tuple[float, float]:
    """(posts/s by the wall clock, posts per CPU-second of client and server) of one phase."""
    count = next(len(a) for a in args if isinstance(a, list))
    before = cpu_seconds(conn)
    rate = measure(*args)
    return rate, count / max(1e-9, cpu_seconds(conn) - before)


def raw_xadd(conn, key: str, posts: list[Post], batch: int) -> float:
    """The baseline: each post's raw payload, XADDed in pipelines of ``batch``."""
    start = time.perf_counter()
    for i in range(0, len(posts), batch):
        pipe = conn.pipeline(transaction=False)
        for post in posts[i:i + batch]:
            pipe.xadd(key, {"qid": post.qid, "raw": json.dumps(post.raw, ensure_ascii=False)})
        pipe.execute()
    return len(posts) / (time.perf_counter() - start)


def floor_ingest(store: Store, posts: list[Post], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(posts), batch):
        chunk = posts[i:i + batch]
        store.ingest("bench", [(normalise(p), p.raw) for p in chunk], checkpoint=str(i))
    return len(posts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true",
                        help="400 posts, one round, to see that the bench still works (CI runs "
                             "this; its figures mean nothing).")
    parser.add_argument("--muted", action="store_true",
                        help="mute the first post's author before each run")
    args = parser.parse_args()
    if args.smoke:
        args.posts, args.rounds = 400, 1
    conn = connect(data_dir=Path(tempfile.mkdtemp(prefix="floor-bench-")))
    posts = sample_posts(args.posts)
    avg = statistics.mean(len(json.dumps(p.raw)) for p in posts)
    print(f"{args.posts} posts (mean raw payload {avg:.0f} bytes), batches of {args.batch}, "
          f"{args.rounds} rounds, server {conn.info('server')['redis_version']}")
    raw_rates, floor_rates, raw_cpu, floor_cpu, pairs = [], [], [], [], []
    for _ in range(args.rounds):
        event = "bench-" + uuid.uuid4().hex[:8]
        raw_key = Keys(event).prefix + "raw"
        rate, per_cpu = costed(conn, raw_xadd, conn, raw_key, posts, args.batch)
        raw_rates.append(rate)
        raw_cpu.append(per_cpu)
        store = Store(conn, event)
        if args.muted:
            conn.sadd(store.keys.muted, normalise(posts[0]).author_key)
        rate, per_cpu = costed(conn, floor_ingest, store, posts, args.batch)
        floor_rates.append(rate)
        floor_cpu.append(per_cpu)
        pairs.append(floor_rates[-1] / raw_rates[-1])
        again = floor_ingest(store, posts, args.batch)  # replay: everything is a duplicate
        assert conn.zcard(store.keys.questions) == len(posts), "a post was lost or doubled"
        for key in conn.scan_iter(Keys(event).pattern, count=1000):
            conn.unlink(key)
    raw, ours = statistics.median(raw_rates), statistics.median(floor_rates)
    cpu_ratio = statistics.median(floor_cpu) / statistics.median(raw_cpu)
    print(f"raw pipelined XADD:           {raw:10,.0f} posts/s")
    print(f"floor normalise+dedupe+store: {ours:10,.0f} posts/s")
    print(f"replay of the same posts:     {again:10,.0f} posts/s (all duplicates)")
    print(f"ratio floor/raw:              {ours / raw:10.2f}  (target >= 0.25; per round: "
          f"{', '.join(f'{r:.2f}' for r in pairs)})")
    print(f"CPU cost ratio:               {cpu_ratio:10.2f}  (posts per CPU-second of client "
          f"and server, floor/raw: {statistics.median(floor_cpu):,.0f} / "
          f"{statistics.median(raw_cpu):,.0f}; unaffected by other work on the machine)")


if __name__ == "__main__":
    main()
