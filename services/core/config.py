"""Settings: every environment variable the console reads, validated once at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.core.errors import ConfigError

Venue = Literal["paper", "live-engine", "alpaca-paper"]


class Settings(BaseSettings):
    """The console's configuration. Field names are the environment variable names (case-insensitive).

    Secrets are ``SecretStr``: they print as ``**********`` and are read with ``.get_secret_value()``
    only where a client needs them.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: Literal["local", "production", "test"] = "local"
    nexus_home: Path = Path("./var")

    # sign-in (OIDC through st.login: Clerk or Microsoft Entra ID) and roles
    auth_redirect_uri: str | None = None  # e.g. https://console.example.com/oauth2callback
    auth_cookie_secret: SecretStr | None = None
    auth_client_id: str | None = None
    auth_client_secret: SecretStr | None = None
    auth_server_metadata_url: str | None = None  # the provider's .well-known/openid-configuration
    role_claim: str | None = None  # an OIDC claim listing role names (e.g. "roles"), besides the lists below
    role_traders: str = ""  # comma-separated e-mails (or "*"); everyone signed in is a viewer
    role_approvers: str = ""
    role_admins: str = ""

    # blob storage
    azure_storage_connection_string: SecretStr | None = None
    azure_storage_account_url: str | None = None
    ohlcv_container: str = "ohlcv"
    max_import_mb: int = Field(100, gt=0, le=2000)
    cache_max_mb: int = Field(2048, gt=0)  # this replica's local columnar cache; least recently used files go first
    exports_container: str = "exports"

    # records database (SQLite under NEXUS_HOME when unset)
    database_url: SecretStr | None = None
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None

    # key of the secrets obtained at run time (the Lona token of `nexus lona register`), kept encrypted in the
    # records database so every replica reads them; the same Fernet key must be set on every replica
    nexus_secrets_key: SecretStr | None = None

    # job queue (Huey: SQLite under NEXUS_HOME by default, Redis when set; production with several replicas
    # needs Redis: a SQLite queue is one replica's own)
    redis_url: SecretStr | None = None
    jobs_queued_too_long_seconds: float = Field(900.0, gt=0)  # then queued again once, then failed with a reason
    worker_shutdown_grace_seconds: float = Field(20.0, ge=0)  # SIGTERM: running jobs finish or are handed back

    # execution
    execution_venue: Venue = "paper"
    inbox_refresh_seconds: float = Field(5.0, gt=0, le=3600)  # how often an open Approvals inbox re-reads
    live_engine_url: str | None = None
    live_engine_service_api_key: SecretStr | None = None
    live_engine_timeout_seconds: float = Field(8.0, gt=0)
    live_engine_tenant_id: str = "trade-nexus"
    live_engine_user_id: str = "console"
    live_engine_portfolio_id: str | None = None  # unset: the account sums every portfolio of the tenant
    paper_slippage_bps: float = Field(5.0, ge=0)
    paper_fee_bps: float = Field(10.0, ge=0)
    paper_initial_cash: float = Field(100_000.0, gt=0)
    # lot rules: whether each venue takes fractions of a unit (off: whole shares/units only, for every order)
    paper_fractional: bool = True
    live_engine_fractional: bool = True
    alpaca_fractional: bool = True

    # market data providers
    alpaca_api_key: SecretStr | None = None
    alpaca_api_secret: SecretStr | None = None
    alpaca_base_url: str | None = None
    alpaca_timeout_seconds: float = Field(10.0, gt=0)
    alpaca_data_url: str | None = None
    alpaca_feed: Literal["iex", "sip", "otc", "delayed_sip"] = "iex"
    alpaca_adjustment: Literal["raw", "split", "dividend", "all"] = "all"
    binance_api_url: str | None = None
    ccxt_api_key: SecretStr | None = None
    ccxt_api_secret: SecretStr | None = None
    alpaca_requests_per_minute: float = Field(200.0, ge=0)  # 0 turns the throttle off
    ingest_timeout_seconds: float = Field(10.0, gt=0)
    ingest_retry_attempts: int = Field(4, ge=1)
    ingest_retry_base_delay_seconds: float = Field(0.5, ge=0)

    # Lona
    lona_gateway_url: str = "https://gateway.lona.agency"
    lona_agent_id: str = "trade-nexus"
    lona_agent_name: str = "Trade Nexus Orchestrator"
    lona_agent_token: SecretStr | None = None
    lona_agent_registration_secret: SecretStr | None = None
    lona_token_ttl_days: int = Field(30, ge=1)
    lona_credentials_file: Path | None = None  # where `nexus lona register` keeps the token; default under NEXUS_HOME
    lona_timeout_seconds: float = Field(60.0, gt=0)
    lona_generate_timeout_seconds: float = Field(180.0, gt=0)
    lona_poll_interval_seconds: float = Field(5.0, gt=0)
    lona_poll_timeout_seconds: float = Field(300.0, gt=0)

    # LLM and tracing
    xai_api_key: SecretStr | None = None
    xai_model: str = "grok-4-1-fast-non-reasoning"
    xai_base_url: str | None = None
    xai_timeout_seconds: float = Field(20.0, gt=0)
    langsmith_api_key: SecretStr | None = None
    langsmith_project: str = "trade-nexus-console"
    langsmith_endpoint: str = "https://api.smith.langchain.com"
    langsmith_tracing: bool = False
    langsmith_timeout_seconds: float = Field(5.0, gt=0)

    # agent graph: trained models and cached detector results live in this blob container
    models_container: str = "models"
    # predictor training budget per run (unset: the model's defaults, 20 epochs of 8,192 windows, which train
    # 10 symbols x 2,500 bars in about 11 s, bench/graph.py); tests set a tiny one
    predictor_max_epochs: int | None = Field(None, ge=1, le=200)
    predictor_samples_per_epoch: int | None = Field(None, ge=64)

    # the HTTP API (api/) and notifications to approvers (services/notifications)
    api_rate_limit_per_minute: float = Field(600.0, ge=0)  # per access token; 0 turns the limit off
    api_max_candles: int = Field(5_000_000, gt=0)  # largest answer of GET /api/v1/candles
    console_url: str = "http://localhost:8000"  # base of the deep links in notifications
    notify_urls: SecretStr | None = None  # apprise URLs, comma- or space-separated (they hold webhook secrets)
    notify_expiry_warning_minutes: float = Field(5.0, gt=0)  # warn when a proposal expires within this

    @model_validator(mode="after")
    def _venue_has_its_settings(self) -> Settings:
        if self.execution_venue == "live-engine" and not (self.live_engine_url and self.live_engine_service_api_key):
            raise ValueError("EXECUTION_VENUE=live-engine needs LIVE_ENGINE_URL and LIVE_ENGINE_SERVICE_API_KEY")
        if self.execution_venue == "alpaca-paper" and not (self.alpaca_api_key and self.alpaca_api_secret):
            raise ValueError("EXECUTION_VENUE=alpaca-paper needs ALPACA_API_KEY and ALPACA_API_SECRET")
        return self

    @property
    def venue_fractional(self) -> bool:
        """True when the chosen venue may be sent fractions of a unit (PAPER_/LIVE_ENGINE_/ALPACA_FRACTIONAL)."""
        return {"paper": self.paper_fractional, "live-engine": self.live_engine_fractional,
                "alpaca-paper": self.alpaca_fractional}[self.execution_venue]

    # --- derived locations -------------------------------------------------------------------------
    @property
    def blob_root(self) -> Path:
        """Folder of the local blob store (one sub-folder per container)."""
        return self.nexus_home / "blob"

    @property
    def max_import_bytes(self) -> int:
        """Largest candle file accepted for import (NEXUS_MAX_IMPORT_MB / MAX_IMPORT_MB)."""
        return self.max_import_mb * 1024 * 1024

    @property
    def cache_dir(self) -> Path:
        """Folder of the local columnar cache."""
        return self.nexus_home / "cache"

    @property
    def records_url(self) -> str:
        """SQLAlchemy URL of the records database."""
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.nexus_home / 'console.db').resolve()}"

    @property
    def uses_postgres(self) -> bool:
        """True when the records database (and so the graph checkpoints) is PostgreSQL."""
        return self.records_url.startswith(("postgres://", "postgresql"))

    @property
    def checkpoints_path(self) -> Path:
        """SQLite file of the agent graph's checkpoints when the records database is SQLite.

        A file of its own: LangGraph's saver keeps one connection open for a whole run, and sharing the
        records file would make it queue behind (and hold up) the order transactions.
        """
        return self.nexus_home / "graph-checkpoints.db"

    @property
    def queue_is_per_replica(self) -> bool:
        """True in production without REDIS_URL: the SQLite job queue belongs to one replica only, and several
        replicas (or a replica and separate workers) do not share it. /health and Settings say so loudly."""
        return self.app_env == "production" and not self.redis_url

    @property
    def tracing_enabled(self) -> bool:
        """LangSmith tracing is on: LANGSMITH_TRACING is true and an API key is set."""
        return bool(self.langsmith_tracing and self.langsmith_api_key)

    @property
    def lona_credentials_path(self) -> Path:
        """File holding the Lona token saved by registration (JSON, owner-only permissions)."""
        return self.lona_credentials_file or self.nexus_home / "lona-credentials.json"

    @property
    def uses_azure_blob(self) -> bool:
        """True when blob storage points at Azure (or Azurite) instead of the local folder."""
        return bool(self.azure_storage_connection_string or self.azure_storage_account_url)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]).upper() or "configuration"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(message if not item["loc"] else f"{name}: {message}")
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; a bad or missing value raises ConfigError naming it."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"Invalid configuration: {_describe(error)}") from None
    settings.nexus_home.mkdir(parents=True, exist_ok=True)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
