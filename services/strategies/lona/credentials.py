"""Whether Lona is configured, where its token comes from, and a client built from the settings."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from pydantic import SecretStr

from services.core.config import Settings
from services.core.errors import ConfigError
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy
from services.core.secrets import shared_secrets
from services.strategies.lona.client import LonaClient
from services.strategies.lona.errors import LonaNotConfigured
from services.strategies.lona.results import Registration

_TOKEN_KEYS = ("lona_token", "token", "api_key", "lona_api_key")
#: name of the registered token in the replicas' shared secret store
SHARED_NAME = "lona_agent_token"


def stored_token(settings: Settings) -> SecretStr | None:
    """The token `nexus lona register` saved: in the records database (NEXUS_SECRETS_KEY set), else in
    ``settings.lona_credentials_path`` on this machine, if any."""
    shared = shared_secrets(settings)
    if shared is not None and (token := shared.get(SHARED_NAME)) is not None:
        return token
    path = settings.lona_credentials_path
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{path} is not readable JSON: delete it and run `nexus lona register` again") from None
    token = next((saved[k] for k in _TOKEN_KEYS if isinstance(saved, dict) and saved.get(k)), None)
    return SecretStr(str(token)) if token else None


def agent_token(settings: Settings) -> SecretStr | None:
    """LONA_AGENT_TOKEN, else the token saved by registration."""
    token = settings.lona_agent_token
    return token if token and token.get_secret_value() else stored_token(settings)


def is_configured(settings: Settings) -> bool:
    """True when the console has a Lona token to call the gateway with."""
    return agent_token(settings) is not None


def not_configured_message(settings: Settings) -> str:
    """What to set to connect the console to Lona."""
    register = (
        "LONA_AGENT_REGISTRATION_SECRET is set, so `nexus lona register` will use it"
        if settings.lona_agent_registration_secret
        else "`nexus lona register` gets one by invite code (or set LONA_AGENT_REGISTRATION_SECRET first)"
    )
    return (
        f"Lona is not configured: set LONA_AGENT_TOKEN to the agent's API token (gateway LONA_GATEWAY_URL="
        f"{settings.lona_gateway_url}, agent LONA_AGENT_ID={settings.lona_agent_id}). No token yet? {register}."
    )


def connect(
    settings: Settings,
    *,
    require_token: bool = True,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy = DEFAULT_POLICY,
) -> LonaClient:
    """A LonaClient configured from ``settings``; LonaNotConfigured (saying what to set) without a token."""
    token = agent_token(settings)
    if require_token and token is None:
        raise LonaNotConfigured(not_configured_message(settings))
    return LonaClient(
        settings.lona_gateway_url,
        settings.lona_agent_id,
        token,
        agent_name=settings.lona_agent_name,
        registration_secret=settings.lona_agent_registration_secret,
        token_ttl_days=settings.lona_token_ttl_days,
        timeout_s=settings.lona_timeout_seconds,
        generate_timeout_s=settings.lona_generate_timeout_seconds,
        retry=retry,
        transport=transport,
    )


#: where a registered token is kept when NEXUS_SECRETS_KEY is set
SHARED_PLACE = "the records database (encrypted with NEXUS_SECRETS_KEY)"


def save_registration(settings: Settings, registration: Registration, actor: str = "") -> str:
    """Keep the new token where the console reads it; return where, as text.

    With NEXUS_SECRETS_KEY: in the records database, encrypted, so every replica and worker uses it. Without:
    in ``settings.lona_credentials_path`` (owner-only), which only this machine sees.
    """
    shared = shared_secrets(settings)
    if shared is not None:
        shared.put(SHARED_NAME, registration.token, actor or "nexus lona register")
        return SHARED_PLACE
    path = settings.lona_credentials_path
    path.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "lona_token": registration.token.get_secret_value(),
        "agent_id": settings.lona_agent_id,
        "gateway_url": settings.lona_gateway_url,
        "partner_id": registration.partner_id,
        "expires_at": registration.expires_at,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # O_CREAT's mode applies only to a new file
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(body, handle)
    os.replace(tmp, path)
    return str(path)
