"""Settings: the example documents every key, and mistakes are named precisely."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from aggregator.settings import ConfigError, Settings, load
from aggregator.sources import registry

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
