"""Settings: the example documents every key, and mistakes are named precisely."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from aggregator.base.settings import ConfigError, Settings, load
from aggregator.ingest.sources import registry

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "event.example.toml"


def test_the_example_loads_and_documents_every_key() -> None:
    settings = load(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    sections: dict[str, type[BaseModel]] = {
        name: field.annotation  # type: ignore[misc]
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    for section, model in sections.items():
        assert set(model.model_fields) <= set(data[section]), f"[{section}] is missing keys"
    for name, source in registry().items():
        if source.__module__.startswith("aggregator."):  # not sources made by other tests
            documented = set(re.findall(rf"(?m)^\[sources\.{name}\]", text))
            assert documented, f"[sources.{name}] is not in the example"
            keys = {k for k in re.findall(r"(?m)^#?\s*(\w+)\s*=", text.split(
                f"[sources.{name}]", 1)[1].split("\n[", 1)[0])}
            assert set(source.settings_model.model_fields) <= keys, f"{name}: undocumented keys"
    assert settings.enabled_sources() == []


def test_missing_named_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[event\nslug=1")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load(bad)


def test_wrong_types_name_the_key_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "event.toml"
    path.write_text('[event]\nslug = "Not A Slug"\n[screen]\nqueue_length = "three"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert f"{path}: 'event.slug': Value error, use lower-case letters" in message
    assert f"{path}: 'screen.queue_length': Input should be a valid integer" in message
    assert "'three'" in message


@pytest.mark.parametrize(("config", "problem"), [
    ('[event]\nhashtags = []\n[sources.x]\nenabled = true\n',
     "[sources.x]: X searches for the event's hashtags, and there are none"),
    ('[event]\nhashtags = ["#", " "]\n[sources.x]\nenabled = true\n',
     "[sources.x]: X searches for the event's hashtags, and there are none"),
    ('[event]\nhashtags = []\n[sources.youtube]\nenabled = true\nvideo_id = "abcdefghijk"\n'
     'require_hashtag = true\n',
     "[sources.youtube]: require_hashtag needs the event's hashtags"),
    ('[event]\nhashtags = []\n[sources.facebook]\nenabled = true\nrequire_hashtag = true\n',
     "[sources.facebook]: require_hashtag needs the event's hashtags"),
])
def test_no_hashtags_for_a_source_that_needs_them_is_an_error(
        tmp_path: Path, config: str, problem: str) -> None:
    path = tmp_path / "event.toml"
    path.write_text(config)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"{path}: {problem}" in str(caught.value)
    # Every path that builds settings gets the same rule, not only the file loader.
    data = tomllib.loads(config)
    with pytest.raises(ValueError, match=re.escape(problem.split(": ", 1)[1][:30])):
        Settings.model_validate(data)


@pytest.mark.parametrize("config", [
    '[event]\nhashtags = []\n[sources.x]\nenabled = false\n',  # not enabled
    '[event]\nhashtags = []\n[sources.x]\nenabled = true\nhashtags = ["#APM2026"]\n',
    '[event]\nhashtags = []\n[sources.instagram]\nenabled = true\nrequire_hashtag = true\n'
    'hashtags = ["apm2026"]\n',
    '[event]\nhashtags = []\n[sources.youtube]\nenabled = true\nvideo_id = "abcdefghijk"\n',
])
def test_no_hashtags_is_fine_where_nothing_needs_them(tmp_path: Path, config: str) -> None:
    path = tmp_path / "event.toml"
    path.write_text(config)
    load(path)


def test_validating_a_config_imports_no_platform_library() -> None:
    """The settings know every source's settings model without importing the sources' SDKs
    (which also broke the settings <-> sources import cycle)."""
    code = ("import sys\nfrom aggregator.base.settings import load\n"
            f"load({str(EXAMPLE)!r})\n"
            "print(sorted(m for m in ('tweepy', 'facebook', 'googleapiclient', 'instaloader',"
            " 'aggregator.ingest.sources.x', 'aggregator.ingest.sources.youtube')"
            " if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"

