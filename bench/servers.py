"""Which server for `floor web`: bench/latency.py and bench/fanout.py under each candidate, in
one run, as one table.

    python bench/servers.py [--screens 50] [--rounds 100] [--fanout-screens 500]
                            [--fanout-rounds 10] [--smoke]

Candidates: Werkzeug's development server (the old `floor web`, the baseline), gunicorn with
its thread worker and simple-websocket (one process, as web/serve.py runs it), gunicorn's
gevent worker, and the thread worker again with the clients going through nginx (configured
as docs/deployment.md says): the proxy's cost against the bare server in the same run. Each
bench starts its own server subprocess; they run one after the other so they do not compete
for the cores. Needs gevent for the last candidate (the bench extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests import nginx_proxy  # noqa: E402

CANDIDATES = {
    "Werkzeug dev server (threading)": ["--server", "dev"],
    "gunicorn gthread, 1 worker": ["--server", "gunicorn"],
    "gunicorn gevent, 1 worker": ["--server", "gunicorn", "--async-mode", "gevent"],
    "gunicorn gthread behind nginx": ["--server", "gunicorn", "--via-nginx"],
}
# (bench, line label, figure) -> column
COLUMNS = {
    ("latency.py", "bare Socket.IO emit -> receive round trip", "p50"): "round trip p50",
    ("latency.py", "approve -> the last-served screen updated", "p50"): "approve->screen p50",
    ("latency.py", "approve -> the last-served screen updated", "p99"): "approve->screen p99",
    ("fanout.py", "approve -> all screens have the board", "p50"): "fan-out p50",
    ("fanout.py", "approve -> all screens have the board", "worst"): "fan-out worst",
    ("fanout.py", "bare broadcast -> all screens have it", "p50"): "bare fan-out p50",
}


def figures(report: str, bench: str) -> dict[str, str]:
    found = {}
    for (name, label, figure), column in COLUMNS.items():
        if name != bench:
            continue
        for line in report.splitlines():
            if line.startswith(label):
                match = re.search(rf"{figure}\s+([\d.]+) ms", line)
                if match:
                    found[column] = match[1]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screens", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--fanout-screens", type=int, default=500)
    parser.add_argument("--fanout-rounds", type=int, default=10)
    parser.add_argument("--smoke", action="store_true",
                        help="fanout.py's smoke mode under each candidate (CI runs this, and "
                             "latency.py's own smoke mode apart; figures mean nothing).")
    args = parser.parse_args()
    runs = {
        "latency.py": ["--screens", str(args.screens), "--rounds", str(args.rounds)],
        "fanout.py": ["--screens", str(args.fanout_screens), "--rounds",
                      str(args.fanout_rounds)],
    }
    if args.smoke:  # each candidate's server flags are the same in both benches
        del runs["latency.py"]
    rows: dict[str, dict[str, str]] = {}
    failed = False
    candidates = dict(CANDIDATES)
    if importlib.util.find_spec("gevent") is None:
        print("bench/servers: gevent is not installed (pip install -e '.[bench]'): its "
              "candidate is left out")
        del candidates["gunicorn gevent, 1 worker"]
    if nginx_proxy.NGINX is None:
        print("bench/servers: nginx is not installed: the candidate behind it is left out")
        del candidates["gunicorn gthread behind nginx"]
    for name, flags in candidates.items():
        rows[name] = {}
        for bench, sizes in runs.items():
            command = [sys.executable, str(HERE / bench), *flags,
                       *(["--smoke"] if args.smoke else sizes)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
            print(done.stdout, end="", flush=True)
            if done.returncode != 0:  # a candidate that fails is a finding: say so, go on
                print(f"bench/servers: {' '.join(command)} failed:\n{done.stderr[-3000:]}")
                failed = True
            rows[name].update(figures(done.stdout, bench))
    columns = list(COLUMNS.values())
    print("\n| server | " + " | ".join(f"{c} (ms)" for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(
            row.get(c, "failed" if bench in runs else "not run")
            for (bench, _, _), c in COLUMNS.items()) + " |")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
