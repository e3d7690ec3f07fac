"""A token obtained at run time on one replica (`nexus lona register`) is used by a worker on another."""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet
from sqlalchemy import select

from services.core.auth import local_operator
from services.core.records import runtime_secrets
from services.strategies import backtests as strategies
from services.strategies.lona.credentials import SHARED_PLACE
from tests.fakes.lona_gateway import SECRET
from tests.support.replicas import start_together


def test_a_registered_token_reaches_every_replica_with_the_key_and_never_in_clear(make_runtime, lona_gateway,
                                                                                    postgres_url, tmp_path):
    key = Fernet.generate_key().decode()
    console = make_runtime(nexus_home=tmp_path / "console", database_url=postgres_url,
                           lona_gateway_url=lona_gateway.url, lona_agent_registration_secret=SECRET,
                           nexus_secrets_key=key)
    registration, where = strategies.register_agent(console, actor=local_operator())
    token = registration.token.get_secret_value()
    assert where == SHARED_PLACE
    assert not (tmp_path / "console" / "lona-credentials.json").exists()
    with console.engine.connect() as connection:
        stored = connection.execute(select(runtime_secrets.c.ciphertext)).scalar_one()
    assert token not in stored

    env = {"DATABASE_URL": postgres_url, "LONA_GATEWAY_URL": lona_gateway.url, "APP_ENV": "test"}
    [with_key] = start_together([["lona-status"]], lead_s=0,
                                env={**env, "NEXUS_HOME": str(tmp_path / "w1"), "NEXUS_SECRETS_KEY": key})
    [without] = start_together([["lona-status"]], lead_s=0, env={**env, "NEXUS_HOME": str(tmp_path / "w2")})

    assert with_key.code == 0 and without.code == 0, with_key.output + without.output
    assert with_key.output.split()[-2:] == ["configured", hashlib.sha256(token.encode()).hexdigest()[:16]]
    assert without.output.strip().endswith("not configured")  # a replica without the key cannot read it
