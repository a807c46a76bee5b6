"""The environment variables triagebot reads, read once: store, port, surfaces' secrets, the
board's users, and the sources' credentials. Nothing else reads ``os.environ``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from triagebot.config.people import ID_PATTERN
from triagebot.config.secret import SecretStr
from triagebot.errors import ConfigError
from triagebot.paths import packaged_path

if TYPE_CHECKING:
    from triagebot.config.file import FileConfig


@dataclass(frozen=True)
class Environment:
    """The environment variables triagebot reads, read once."""

    database_url: SecretStr | None = None
    db_path: Path = Path("data/triagebot.json")
    port: int = 3000
    dyno: str | None = None
    allow_ephemeral: bool = False
    #: False (TRIAGEBOT_RUN_JOBS=0) keeps this process out of the scheduled jobs for good.
    run_jobs: bool = True
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    microsoft_app_id: str | None = None
    microsoft_app_password: SecretStr | None = None
    microsoft_app_tenant_id: str | None = None
    #: TRIAGEBOT_TEAMS=1: serve Teams without MICROSOFT_APP_ID (local mode, for the playground).
    teams_local: bool = False
    config_path: Path | None = None
    rules_path: Path | None = None
    #: The web board (integrations/board): users as name -> password hash, buttons, signing key.
    board_users: Mapping[str, str] = field(default_factory=dict)
    board_write: bool = False
    board_secret: SecretStr | None = None
    board_off: bool = False

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def secret(name: str) -> SecretStr | None:
            value = text(name)
            return SecretStr(value) if value else None

        port_text = text("PORT") or "3000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"environment: PORT: {port_text!r} is not a TCP port number")
        return cls(
            database_url=secret("DATABASE_URL"),
            db_path=Path(text("TRIAGEBOT_DB") or "data/triagebot.json"),
            port=int(port_text),
            dyno=text("DYNO"),
            allow_ephemeral=text("TRIAGEBOT_ALLOW_EPHEMERAL") in {"1", "true", "yes"},
            run_jobs=text("TRIAGEBOT_RUN_JOBS") not in {"0", "false", "no"},
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_api_url=text("SLACK_API_URL"),
            microsoft_app_id=text("MICROSOFT_APP_ID"),
            microsoft_app_password=secret("MICROSOFT_APP_PASSWORD"),
            microsoft_app_tenant_id=text("MICROSOFT_APP_TENANT_ID"),
            teams_local=text("TRIAGEBOT_TEAMS") in {"1", "true", "yes"},
            config_path=Path(p) if (p := text("TRIAGEBOT_CONFIG")) else None,
            rules_path=Path(p) if (p := text("TRIAGEBOT_RULES")) else None,
            board_users=_board_users(text("TRIAGEBOT_BOARD_USERS")),
            board_write=_flag("TRIAGEBOT_BOARD_WRITE", text("TRIAGEBOT_BOARD_WRITE")),
            board_secret=secret("TRIAGEBOT_BOARD_SECRET"),
            board_off=text("TRIAGEBOT_BOARD") in {"0", "off", "false", "no"},
        )


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.lower() in {"0", "false", "no", "off"}:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    raise ConfigError(f"environment: {name}: {value!r} is not one of 1, true, yes, 0, false, no")


def board_login(name: str) -> str:
    """A board login as the login form compares it (trimmed, lower case); ValueError if the
    name cannot be one (``TRIAGEBOT_BOARD_USERS`` would refuse it)."""
    login = name.strip().lower()
    if not ID_PATTERN.match(login):
        raise ValueError(
            f"{name[:60]!r} cannot be a board login: a letter, then letters, digits, - or _ "
            "(at most 40)"
        )
    return login


def _board_users(value: str | None) -> dict[str, str]:
    """``name:hash,name:hash`` (hashes from ``triagebot board hash-password``)."""
    users: dict[str, str] = {}
    for entry in (value or "").split(","):
        name, _, hashed = entry.strip().partition(":")
        if not entry.strip():
            continue
        if not ID_PATTERN.match(name) or not hashed.startswith("scrypt$"):
            raise ConfigError(
                f"environment: TRIAGEBOT_BOARD_USERS: {name or entry.strip()[:20]!r}: write "
                "name:hash pairs separated by commas, names in lower case, hashes from "
                "`triagebot board hash-password`"
            )
        users[name] = hashed
    return users


#: Credential variables the source adapters read when a source names none of its own.
SOURCE_CREDENTIALS = (
    "X_BEARER_TOKEN",
    "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
    "STACKEXCHANGE_KEY",
    "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON",
    "DISCOURSE_API_KEY",
    "FACEBOOK_PAGE_TOKEN",
    "FACEBOOK_APP_SECRET",
    "INSTAGRAM_ACCESS_TOKEN",
    "INSTAGRAM_APP_SECRET",
    "REDDIT_CLIENT_ID",
    "REDDIT_CLIENT_SECRET",
    "REDDIT_USERNAME",
    "REDDIT_PASSWORD",
    "REDDIT_REFRESH_TOKEN",
    # the brand accounts' write credentials, apart from the read ones (public replies)
    "X_REPLY_TOKEN",
    "X_REPLY_CONSUMER_KEY",
    "X_REPLY_CONSUMER_SECRET",
    "X_REPLY_ACCESS_TOKEN",
    "X_REPLY_ACCESS_TOKEN_SECRET",
    "MASTODON_REPLY_TOKEN",
    "BLUESKY_REPLY_HANDLE",
    "BLUESKY_REPLY_APP_PASSWORD",
    "REDDIT_REPLY_REFRESH_TOKEN",
    "REDDIT_REPLY_USERNAME",
    "REDDIT_REPLY_PASSWORD",
    "DISCOURSE_REPLY_API_KEY",
    "STACKEXCHANGE_REPLY_ACCESS_TOKEN",
    "GOOGLE_PLAY_REPLY_SERVICE_ACCOUNT_JSON",
    "FACEBOOK_REPLY_TOKEN",
    "INSTAGRAM_REPLY_TOKEN",
    "APP_STORE_CONNECT_ISSUER_ID",
    "APP_STORE_CONNECT_KEY_ID",
    "APP_STORE_CONNECT_PRIVATE_KEY",
)


def source_env(config: FileConfig, environ: Mapping[str, str]) -> dict[str, SecretStr]:
    names = set(SOURCE_CREDENTIALS)
    for source in config.sources:
        names.update(source.credential_variables())
    return {n: SecretStr(v.strip()) for n in sorted(names) if (v := environ.get(n, "")).strip()}


def example_config_path() -> Path:
    """The complete, commented example configuration shipped with triagebot."""
    return packaged_path("triagebot.example.toml")


def find_config_file(env: Environment, *, fallback_to_example: bool) -> Path:
    """TRIAGEBOT_CONFIG, else ./triagebot.toml, else (if allowed) the shipped example."""
    if env.config_path is not None:
        return env.config_path
    local = Path("triagebot.toml")
    if local.exists() or not fallback_to_example:
        return local
    return example_config_path()
