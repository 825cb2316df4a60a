"""The test suite's own hygiene: it cannot pass by skipping, it declares what it imports, and its
modules import helpers, never each other or a bench."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_browser_tests_fail_when_chromium_is_missing() -> None:
    env = {**os.environ, "FLOOR_CHROMIUM": "/nonexistent/chromium"}
    env.pop("CI", None)  # outside CI too: a skip would pass unseen anywhere
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_ask_browser.py", "-k", "reaches_the_console"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout
    assert "Chromium not found" in run.stdout and " skipped" not in run.stdout


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def _undeclared(folders: list[str], declared: set[str]) -> dict[str, str]:
    """Top-level third-party imports in these folders that no declared requirement provides."""
    ours = {"aggregator", "web", "cli", "tests", "conftest", "bench"}
    distributions = packages_distributions()
    missing = {}
    for path in sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ours or top in sys.stdlib_module_names:
                    continue
                dists = distributions.get(top, [top])
                if len(dists) > 1:  # a namespace package (google.*): the one holding this module
                    inside = "/".join(name.split(".")[:2]) + "/"
                    dists = [d for d in dists if any(str(f).startswith(inside)
                                                     for f in distribution(d).files or [])]
                dists = {d.lower().replace("_", "-") for d in dists}
                if not dists & declared:
                    missing[top] = str(path.relative_to(ROOT))
    return missing


def test_every_third_party_import_is_declared() -> None:
    """Imported directly means declared directly: a package that arrives only as another's
    dependency can vanish in any release of that other package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    # A process's packages are declared by its extra (the triage worker's, the pollers'), as is
    # an optional backend's (imported only when installed); the tests install them all.
    runtime = _requirement_names(project["dependencies"])
    processes = _requirement_names(extras["triage"]) | _requirement_names(extras["sources"])
    tests = runtime | processes | _requirement_names(extras["test"])
    optional = processes | _requirement_names(extras["semantic"])
    assert _undeclared(["aggregator", "web", "cli"], runtime | optional) == {}
    assert _undeclared(["tests"], tests) == {}


# aggregator/'s folders, each above those it may import (docs/architecture.md, "Processes").
LAYERS = ["base", "core", "ingest", "followers"]


def test_aggregator_imports_run_one_way() -> None:
    """base imports nothing else of Floor; core only base; ingest core and base; the followers
    any of them. An import the other way is a rule in the wrong place."""
    upward = []
    for path in sorted((ROOT / "aggregator").rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 3:
            continue
        layer = LAYERS.index(parts[1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                target = name.split(".")
                if target[0] in ("aggregator", "web", "cli") and (
                        target[0] != "aggregator" or len(target) < 2
                        or LAYERS.index(target[1]) > layer):
                    upward.append(f"{path.relative_to(ROOT)}: {name}")
    assert upward == []


def _imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, by its full dotted name (relative imports resolved within
    tests/, ``from x import y`` listed as both ``x`` and ``x.y``)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def _forbidden(module: str) -> bool:
    """A test module (pytest collects it: sharing from one couples two tests' files and runs
    its fixtures twice), conftest (pytest's to load, not ours to import) or a bench."""
    parts = module.split(".")
    return (parts[0] == "bench"
            or (parts[0] == "tests" and any(p.startswith("test_") or p == "conftest"
                                            for p in parts[1:])))


def test_no_test_module_imports_another_or_a_bench() -> None:
    """What two test modules share lives in a helper module (tests/waiting.py, tests/posts.py,
    ...) or a fixtures plugin (tests/fixtures/, listed in conftest.py's ``pytest_plugins``)."""
    found = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        modules = {m for m in _imported_modules(path) if _forbidden(m)}
        if modules:  # the modules, not each name taken from them
            found[str(path.relative_to(ROOT))] = sorted(
                m for m in modules if not any(m.startswith(f"{o}.") for o in modules))
    assert found == {}


def test_the_web_app_never_imports_the_command_line() -> None:
    """cli/ stands above web/ and aggregator/: it starts them, never the other way."""
    found = [f"{path.relative_to(ROOT)}: {name}"
             for path in sorted((ROOT / "web").rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                          [alias.name for alias in node.names] if isinstance(node, ast.Import)
                          else [])
             if name.split(".")[0] == "cli"]
    assert found == []


def test_the_console_preloads_every_module_it_imports() -> None:
    # A module left out of the list still loads, one import level later: only a slower first
    # paint would show it, so the list is checked against the imports here.
    static = ROOT / "web" / "static"
    imported: set[str] = set()
    waiting = [static / "console" / "main.js"]
    while waiting:
        module = waiting.pop()
        name = module.relative_to(static).with_suffix("").as_posix()
        if name in imported:
            continue
        imported.add(name)
        text = module.read_text(encoding="utf-8")
        waiting += [(module.parent / path).resolve()
                    for path in re.findall(r'^import [^;]*? from "(\.\.?/[^"]+)";', text, re.M)]
    template = (ROOT / "web" / "templates" / "console.html").read_text(encoding="utf-8")
    listed = re.search(r'{% for module in \(([^)]*)\) %}<link rel="modulepreload"', template)
    assert listed, "console.html no longer lists its modules to preload"
    assert set(re.findall(r'"([^"]+)"', listed[1])) == imported
