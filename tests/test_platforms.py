"""The platform catalogue (aggregator/base/platforms.py) is the one definition of a platform: every
surface that names platforms knows exactly the catalogue's, none keeps a table of its own, and
the settings read the catalogue without importing a source."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.base import platforms as catalogue_module
from aggregator.base.platforms import CATALOGUE, OPTIONS, PLATFORMS, WEB_FORM, Platform
from aggregator.base.settings import ConfigError, load
from aggregator.core import filters
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.followers.ledger import PUBLIC_ID, QUESTION_ID, public_id
from aggregator.followers.record.build import platform_name
from aggregator.ingest.sources import registry, source_class
from web.ask import SOURCE as FORM_SOURCE
from web.console import health_report

ROOT = Path(__file__).resolve().parent.parent
POLLED = [p for p in CATALOGUE if p.settings is not None]
CODED = [p for p in CATALOGUE if p.code]
# The code that shows or checks platforms: none of it may spell one out itself.
CODE_DIRS = ("aggregator", "web")
# The module itself, wherever it lives (a path written here went stale when the layout moved it).
CATALOGUE_FILE = Path(catalogue_module.__file__).resolve()


def test_each_name_code_and_label_is_given_once() -> None:
    for field in ("name", "code", "label"):
        values = [getattr(p, field) for p in CATALOGUE if getattr(p, field)]
        assert len(values) == len(set(values)), f"two platforms share a {field}: {values}"
    for p in CATALOGUE:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", p.name), p  # a module name, a TOML key
        # Question ids are "{code}:{post id}" and public ids "{code}-{hex}".
        assert p.code == "" or re.fullmatch(r"[a-z][a-z0-9]*", p.code), p
    assert PLATFORMS == {p.code: p.label for p in CODED}


def test_every_polled_platform_is_a_source_with_the_catalogue_settings() -> None:
    sources = {name: s for name, s in registry().items() if s.__module__.startswith("aggregator.")}
    assert set(sources) == {p.name for p in POLLED} == set(OPTIONS)
    for p in POLLED:
        assert sources[p.name].platform is p
        assert sources[p.name].settings_model is p.settings is OPTIONS[p.name]
        assert source_class(p.name) is sources[p.name]
    assert FORM_SOURCE == WEB_FORM.code == WEB_FORM.name  # the form is a source and a platform


@pytest.mark.parametrize("platform", POLLED, ids=lambda p: p.name)
def test_the_settings_read_each_source_with_its_own_model(
        tmp_path: Path, platform: Platform) -> None:
    path = tmp_path / "event.toml"
    path.write_text(f'[sources.{platform.name}]\nenabled = "perhaps"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"'sources.{platform.name}.enabled'" in str(caught.value)
    assert "unknown source" not in str(caught.value)


def test_the_settings_refuse_a_source_the_catalogue_lacks(tmp_path: Path) -> None:
    path = tmp_path / "event.toml"
    path.write_text("[sources.elsewhere]\nenabled = false\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"known: {', '.join(sorted(p.name for p in POLLED))}")):
        load(path)


@pytest.mark.parametrize("platform", CODED, ids=lambda p: p.code)
def test_each_platform_code_is_known_to_ingest_the_ledger_and_the_filters(
        platform: Platform) -> None:
    question = normalise(Post(platform=platform.code, native_id="123", text="Why now?"))
    assert question.id == platform.question_id("123")
    assert QUESTION_ID.match(question.id)
    assert PUBLIC_ID.match(public_id("00" * 16, question.id))
    assert filters.parse({"platform": platform.code}).platform == platform.code
    assert platform_name(platform.code) == platform.label


def test_a_code_outside_the_catalogue_is_refused() -> None:
    with pytest.raises(filters.FilterError, match="there is no platform"):
        filters.parse({"platform": "elsewhere"})
    assert not QUESTION_ID.match("elsewhere:123")


def test_the_health_panel_labels_every_source() -> None:
    rows = health_report({p.name: {} for p in CATALOGUE}, datetime.now(UTC))
    assert {row["name"]: row["label"] for row in rows} == {p.name: p.label for p in CATALOGUE}


def test_the_js_fixture_config_holds_the_catalogue() -> None:
    """tests/js/test_config_fixture.py checks the fixture is what the console page gets."""
    fixture = json.loads((ROOT / "tests" / "js" / "fixtures" / "config.json").read_text())
    assert fixture["platforms"] == PLATFORMS


def test_the_procfile_runs_a_poller_of_every_source() -> None:
    """The rehearsal's too: a source the settings leave off waits quietly (docs/deployment.md,
    "Procfile")."""
    lines = set((ROOT / "Procfile").read_text(encoding="utf-8").splitlines())
    polled = {line.split(": ", 1)[0] for line in lines if line.startswith("poll-")}
    assert polled == {f"poll-{p.name}" for p in POLLED}
    for p in POLLED:
        assert f"poll-{p.name}: floor poll {p.name} --quiet" in lines


def _code_files(*suffixes: str) -> list[Path]:
    return [path for folder in CODE_DIRS for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in suffixes and "vendor" not in path.parts and path != CATALOGUE_FILE]


def test_no_module_keeps_a_platform_table_of_its_own() -> None:
    """No string that is a platform's label, no ``platform=`` given as a literal, and no dict
    literal keyed by two platforms, anywhere but the catalogue."""
    labels = {p.label for p in CATALOGUE if len(p.label) > 1}
    words = {p.name for p in CATALOGUE} | {p.code for p in CODED}
    found = []
    for path in _code_files(".py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and node.value in labels:
                found.append(f"{where}: the label {node.value!r}")
            elif isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys & words) >= 2:
                    found.append(f"{where}: a table keyed by platforms {sorted(keys & words)}")
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "platform" and isinstance(keyword.value, ast.Constant):
                        found.append(f"{where}: platform={keyword.value.value!r}")
    quoted = re.compile("[\"'`](" + "|".join(map(re.escape, sorted(labels))) + ")[\"'`]")
    for path in _code_files(".js", ".mjs", ".html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if quoted.search(line) or re.search(r"[{,]\s*(fb|ig|yt)\s*:", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert not found, "platforms spelt out beside the catalogue:\n" + "\n".join(found)


def test_the_settings_import_no_source() -> None:
    """aggregator.base.settings reads the catalogue, which holds only pydantic models: loading a
    config imports nothing from aggregator/ingest/sources/ (so no cycle, and no platform SDK)."""
    code = ("import sys\nfrom aggregator.base.settings import load\n"
            f"load({str(ROOT / 'config' / 'event.example.toml')!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('aggregator.ingest.sources')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
