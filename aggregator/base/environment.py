"""The environment: every variable a Floor process reads, in one object.

The event's settings (``config/event.toml``, ``aggregator/base/settings.py``) say what the meeting
is; the environment says where this process runs and holds what must not be written in a file
in the repository: Redis's address, the web app's session key, the platforms' tokens. Each
field is one variable, named by its alias; a field marked secret (``SECRET``) is masked in
every log line and message (``aggregator/base/redaction.py``). ``floor`` reads ``.env`` from the
current folder into the environment first, so a process's children see the same values.

Read it with ``read_environment()`` where a value is needed, not at import: tests and
``floor demo`` set variables in-process, and the read costs microseconds. A value that cannot
be used (``FLOOR_TRUSTED_PROXIES=yes``) raises ``EnvironmentProblem``: one line per variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# The marker of a field whose value is a credential: masked everywhere, never logged, and left
# empty in the example environment file.
SECRET: dict[str, Any] = {"secret": True}


def _var(name: str, description: str, *, secret: bool = False, default: Any = None,
         **limits: Any) -> Any:
    return Field(default, alias=name, description=description, repr=not secret,
                 json_schema_extra=SECRET if secret else None, **limits)


class Environment(BaseSettings):
    """What this process is told by its environment (each field's alias is the variable)."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, frozen=True,
                                      populate_by_name=True, case_sensitive=True)

    # -- where the event and its data are
    config: Path | None = _var(
        "FLOOR_CONFIG", "The event's settings file (default: config/event.toml, else the "
        "built-in rehearsal defaults). Same as `floor --config`.")
    data_dir: Path | None = _var(
        "FLOOR_DATA_DIR", "Where the embedded Redis keeps its data when REDIS_URL is not set "
        "(default: the user's data folder). Same as `floor --data-dir`.")
    redis_url: str | None = _var(
        "REDIS_URL", "The event's Redis: redis://, rediss://, unix://, redis+sentinel:// or "
        "redis+cluster:// (docs/deployment.md). Unset: an embedded Redis in FLOOR_DATA_DIR. "
        "A password in it is masked in every log line and message, like a secret's value.")
    verbose: bool = _var("FLOOR_VERBOSE", "1: log debug detail. Same as `floor -v`.",
                         default=False)

    # -- the web app
    secret_key: SecretStr | None = _var(
        "FLOOR_SECRET_KEY", "Signs the moderators' sessions and remembered browsers: a long "
        "random string, the same for every web process of the event. Unset: a new one each "
        "start, so logins end at every restart.", secret=True)
    https: bool = _var(
        "FLOOR_HTTPS", "1 when the site is served over HTTPS (behind a proxy that ends TLS): "
        "cookies are sent only over HTTPS and HSTS is on.", default=False)
    trusted_proxies: int = _var(
        "FLOOR_TRUSTED_PROXIES", "How many proxies in front of the web app to believe about "
        "the client's address and scheme (X-Forwarded-For, X-Forwarded-Proto), 0 to 5: the "
        "rate limits of /login and /ask count per address.", default=0, ge=0, le=5)
    sockets: int | None = _var(
        "FLOOR_SOCKETS", "Most Socket.IO connections (screens, consoles) one web process "
        "holds; past it a screen is told the server is full and tries again (web/capacity.py). "
        "Default: `floor web --threads` less 100 kept for pages and health.", ge=1, le=100_000)
    base_url: str | None = _var(
        "FLOOR_BASE_URL", "Where browsers reach the web app (https://floor.example.org, or "
        "http://192.168.1.20:5002 at the venue): the start of the links `floor screen-link "
        "create` prints. Same as its --base-url.")
    metrics_token: SecretStr | None = _var(
        "FLOOR_METRICS_TOKEN", "Lets a scraper on another machine read /metrics with "
        "`Authorization: Bearer <token>` (unset: /metrics answers this machine only).",
        secret=True)

    # -- the platforms' credentials (README, "Sources")
    x_bearer_token: SecretStr | None = _var(
        "X_BEARER_TOKEN", "The X app's bearer token (the x source).", secret=True)
    facebook_page_token: SecretStr | None = _var(
        "FACEBOOK_PAGE_TOKEN", "The Facebook Page's access token (the facebook source).",
        secret=True)
    instagram_graph_token: SecretStr | None = _var(
        "INSTAGRAM_GRAPH_TOKEN", "A token of the Instagram professional account (the "
        "instagram source's graph backend).", secret=True)
    instagram_session_file: Path | None = _var(
        "INSTAGRAM_SESSION_FILE", "Where `floor instagram-login` saves, and the instaloader "
        "backend reads, the Instagram session (default: instaloader's own path). The file is "
        "a credential: keep it private.")
    youtube_api_key: SecretStr | None = _var(
        "YOUTUBE_API_KEY", "An API key of a Google Cloud project with the YouTube Data API v3 "
        "(the youtube source).", secret=True)
    youtube_oauth_token_file: Path | None = _var(
        "YOUTUBE_OAUTH_TOKEN_FILE", "The OAuth token file of the channel's owner, used instead "
        "of YOUTUBE_API_KEY. The file is a credential: keep it private.")

    bluesky_app_password: SecretStr | None = _var(
        "BLUESKY_APP_PASSWORD", "An app password of the Bluesky account named by [sources.bluesky] "
        "handle (Settings, Privacy and security, App passwords; never the account's own "
        "password) (the bluesky source).", secret=True)
    mastodon_access_token: SecretStr | None = _var(
        "MASTODON_ACCESS_TOKEN", "An access token (read scope) of an account on the instance "
        "named by [sources.mastodon] token_instance; unset: public timelines are read without "
        "one (the mastodon source).", secret=True)

    def token(self, name: str) -> str:
        """The value of the secret variable ``name`` (e.g. ``FACEBOOK_PAGE_TOKEN``), stripped;
        "" when unset. For code that names its credential by its variable."""
        field = VARIABLES[name]
        if not is_secret(name):
            raise KeyError(f"{name} is not a secret variable")
        value = getattr(self, field)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return (value or "").strip()


class EnvironmentProblem(ValueError):
    """A variable holds a value Floor cannot use; the message has one line per variable."""


# Each variable's name -> its field's name.
VARIABLES: dict[str, str] = {str(info.alias): name
                             for name, info in Environment.model_fields.items()}


def is_secret(variable: str) -> bool:
    extra = Environment.model_fields[VARIABLES[variable]].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("secret"))


SECRET_VARIABLES: tuple[str, ...] = tuple(name for name in VARIABLES if is_secret(name))


def read_environment() -> Environment:
    """The process's environment, now; ``EnvironmentProblem`` names each unusable variable."""
    try:
        return Environment()
    except ValidationError as exc:
        raise EnvironmentProblem("\n".join(
            _explain(str(problem["loc"][0]), problem["msg"], problem.get("input"))
            for problem in exc.errors(include_url=False))) from None


def _explain(variable: str, problem: str, value: Any) -> str:
    shown = "a secret, not shown" if variable in SECRET_VARIABLES else repr(value)
    return f"{variable}: {problem} (got {shown})"
