"""Secrets obtained at run time (the Lona token from `nexus lona register`), shared by every replica.

They live in the records database (``runtime_secrets``), each value encrypted with Fernet (AES-128-CBC +
HMAC-SHA256) under ``NEXUS_SECRETS_KEY``, a key that is itself a secret set on every replica like
``DATABASE_URL``. Nothing is stored, logged or shown in clear; without the key there is no shared store and
callers say where else the secret must be set.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import Engine, delete, insert, select

from services.core import clock
from services.core.config import Settings
from services.core.db import ensure_schema, make_engine
from services.core.errors import ConfigError
from services.core.records import runtime_secrets

#: how to make a key, for the messages that ask for one
MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class SharedSecrets:
    """Named secrets in the records database, encrypted with one key."""

    def __init__(self, engine: Engine, key: SecretStr):
        try:
            self._fernet = Fernet(key.get_secret_value().encode())
        except ValueError:
            raise ConfigError(f"NEXUS_SECRETS_KEY must be a Fernet key (32 url-safe base64 bytes): make one with "
                              f"{MAKE_KEY}") from None
        self.engine = engine

    def put(self, name: str, value: SecretStr, actor: str) -> None:
        """Store ``value`` under ``name`` (replacing any earlier one), encrypted."""
        ciphertext = self._fernet.encrypt(value.get_secret_value().encode()).decode()
        with self.engine.begin() as connection:
            connection.execute(delete(runtime_secrets).where(runtime_secrets.c.name == name))
            connection.execute(insert(runtime_secrets).values(name=name, ciphertext=ciphertext, updated_by=actor,
                                                              updated_at=clock.now()))

    def get(self, name: str) -> SecretStr | None:
        """The secret ``name``, or None when none is stored; ConfigError when this key cannot decrypt it."""
        with self.engine.connect() as connection:
            ciphertext = connection.execute(
                select(runtime_secrets.c.ciphertext).where(runtime_secrets.c.name == name)).scalar()
        if ciphertext is None:
            return None
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise ConfigError(f"the stored {name} was encrypted with another NEXUS_SECRETS_KEY: give every replica "
                              "the same key, or register again") from None


def shared_secrets(settings: Settings) -> SharedSecrets | None:
    """The replicas' shared secret store when NEXUS_SECRETS_KEY is set, else None."""
    if not settings.nexus_secrets_key:
        return None
    return SharedSecrets(_records_engine(settings.records_url), settings.nexus_secrets_key)


@lru_cache(maxsize=4)
def _records_engine(url: str) -> Engine:
    # callers hold only the settings (the Lona client is built from them): one migrated engine per URL
    engine = make_engine(url)
    ensure_schema(engine)
    return engine
