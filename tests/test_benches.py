"""Every bench still runs: each one's smoke mode (a few rounds, figures not judged), as CI runs
it, so a change that breaks a bench fails here instead of on the night of a measurement."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): each bench works
# both cores (in its smoke mode too, which judges nothing).
pytestmark = pytest.mark.xdist_group("benches")

REPO = Path(__file__).resolve().parent.parent

# bench -> a line its report must contain (it got to the end and measured Floor).
BENCHES = {
    "latency.py": "approve -> all 3 screens updated",
    "fanout.py": "screens served 7 of 10; 3 refused: 'this server is full",
    "ingest.py": "floor normalise+dedupe+store:",
    "console_paint.py": "approve from the keyboard -> the console shows it approved",
    "triage.py": "| duplicate pairs, lexical | HINT3 test",
    "servers.py": "| gunicorn gthread, 1 worker |",
    "record.py": "verify it (chain, signature, questions):",
    "public_page.py": "viewers held within 5 s: floor /record",
}
IN_CHROMIUM = {"console_paint.py"}


@pytest.mark.slow
@pytest.mark.parametrize("bench", [
    pytest.param(name, marks=[pytest.mark.browser] if name in IN_CHROMIUM else [])
    for name in sorted(BENCHES)])
def test_bench_smoke(bench: str, redis_url: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, str(REPO / "bench" / bench), "--smoke"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert BENCHES[bench] in done.stdout, done.stdout + done.stderr
