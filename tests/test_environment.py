"""The environment object (aggregator/base/environment.py): every variable Floor reads is one of
its fields, each read as documented, and an unusable value is refused in one line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from aggregator.base.environment import (
    SECRET_VARIABLES,
    VARIABLES,
    Environment,
    EnvironmentProblem,
    read_environment,
)
from aggregator.base.redaction import redact

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "aggregator" / "base" / "environment.py"
# Where the process's environment is scanned, not read by name: any variable whose name says it
# is a secret is masked, declared or not.
SCANS = {ROOT / "aggregator" / "base" / "redaction.py"}

# A value of each variable, and what its field holds then.
SAMPLES: dict[str, tuple[str, Any]] = {
    "FLOOR_CONFIG": ("/srv/floor/event.toml", Path("/srv/floor/event.toml")),
    "FLOOR_DATA_DIR": ("/srv/floor/data", Path("/srv/floor/data")),
    "REDIS_URL": ("redis://db.example:6379/2", "redis://db.example:6379/2"),
    "FLOOR_VERBOSE": ("1", True),
    "FLOOR_SECRET_KEY": ("a-long-random-session-key", "a-long-random-session-key"),
    "FLOOR_HTTPS": ("1", True),
    "FLOOR_TRUSTED_PROXIES": ("2", 2),
    "FLOOR_BASE_URL": ("https://floor.example.org", "https://floor.example.org"),
    "FLOOR_METRICS_TOKEN": ("scraper-token-123", "scraper-token-123"),
    "FLOOR_SOCKETS": ("800", 800),
    "X_BEARER_TOKEN": ("x-bearer-not-real-0123", "x-bearer-not-real-0123"),
    "FACEBOOK_PAGE_TOKEN": ("EAAfake-page-token-0123", "EAAfake-page-token-0123"),
    "INSTAGRAM_GRAPH_TOKEN": ("ig-graph-not-real-0123", "ig-graph-not-real-0123"),
    "INSTAGRAM_SESSION_FILE": ("/srv/floor/ig.session", Path("/srv/floor/ig.session")),
    "YOUTUBE_API_KEY": ("AIza-not-a-real-key-0123", "AIza-not-a-real-key-0123"),
    "YOUTUBE_OAUTH_TOKEN_FILE": ("/srv/floor/yt.json", Path("/srv/floor/yt.json")),
    "BLUESKY_APP_PASSWORD": ("abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop"),
    "MASTODON_ACCESS_TOKEN": ("masto-token-not-real-0123", "masto-token-not-real-0123"),
}


def _reads_of_the_environment(path: Path) -> list[str]:
    """Where ``path`` reads a variable itself: os.environ.get / [name] / `in`, os.getenv."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def is_environ(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ"
                and isinstance(node.value, ast.Name) and node.value.id == "os")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if ((node.func.attr == "get" and is_environ(node.func.value))
                    or (node.func.attr == "getenv" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "os")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif (isinstance(node, ast.Subscript) and is_environ(node.value)
              and isinstance(node.ctx, ast.Load)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_reads_a_variable_but_the_environment_object() -> None:
    """Writing variables for child processes (floor --config, floor demo) is fine; reading one
    goes through read_environment(), so every variable is a documented field."""
    reads = [where for package in ("aggregator", "web", "cli")
             for path in sorted((ROOT / package).rglob("*.py"))
             if path != HOME and path not in SCANS
             for where in _reads_of_the_environment(path)]
    assert reads == []


def test_every_variable_is_known_documented_and_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(VARIABLES) == set(SAMPLES)  # a new variable needs a sample here
    for name, (value, _) in SAMPLES.items():
        monkeypatch.setenv(name, value)
    environment = read_environment()
    for name, (value, expected) in SAMPLES.items():
        field = Environment.model_fields[VARIABLES[name]]
        assert field.description and len(field.description) > 20, name
        held = getattr(environment, VARIABLES[name])
        if isinstance(held, SecretStr):
            assert name in SECRET_VARIABLES, name
            held = held.get_secret_value()
            assert value not in repr(environment), name
        assert held == expected, name


def test_the_secrets_are_the_credentials() -> None:
    assert set(SECRET_VARIABLES) == {
        "FLOOR_SECRET_KEY", "FLOOR_METRICS_TOKEN", "X_BEARER_TOKEN", "FACEBOOK_PAGE_TOKEN",
        "INSTAGRAM_GRAPH_TOKEN", "YOUTUBE_API_KEY", "BLUESKY_APP_PASSWORD",
        "MASTODON_ACCESS_TOKEN"}


@pytest.mark.parametrize("name", sorted(SECRET_VARIABLES))
def test_every_secret_is_masked_wherever_it_is_said(name: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    value = "plainvalue0123456789"  # no token shape: masked because the variable is a secret
    monkeypatch.setenv(name, value)
    assert redact(f"refused: {value}!") == "refused: ***!"


def test_unset_and_empty_variables_mean_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLOOR_SECRET_KEY", "")
    monkeypatch.setenv("FLOOR_TRUSTED_PROXIES", "")
    environment = read_environment()
    assert environment.secret_key is None and environment.trusted_proxies == 0
    assert environment.https is False and environment.redis_url is None
    assert environment.token("X_BEARER_TOKEN") == ""


@pytest.mark.parametrize(("name", "value"), [
    ("FLOOR_TRUSTED_PROXIES", "yes"), ("FLOOR_TRUSTED_PROXIES", "9"),
    ("FLOOR_TRUSTED_PROXIES", "-1"), ("FLOOR_HTTPS", "maybe"), ("FLOOR_VERBOSE", "loud")])
def test_an_unusable_value_is_one_line_naming_the_variable(
        name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(EnvironmentProblem) as refused:
        read_environment()
    said = str(refused.value)
    assert said.startswith(f"{name}: ") and "\n" not in said
    assert repr(value) in said


def test_floor_says_an_unusable_variable_in_one_line(floor_env: dict[str, str]) -> None:
    """Every command reads the environment first: a problem is one line and EX_CONFIG (so
    `floor run` does not restart the process), before Redis or the settings are touched."""
    env = {**floor_env, "FLOOR_TRUSTED_PROXIES": "6"}
    done = subprocess.run([sys.executable, "-m", "cli", "moderator", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78
    assert done.stderr.strip().splitlines() == [
        "Error: the environment: FLOOR_TRUSTED_PROXIES: Input should be less than or equal "
        "to 5 (got '6')"]
