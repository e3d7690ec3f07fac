"""Personal access tokens: the credential of the CLI in production and of the HTTP API.

An admin issues a token for a person (``owner``, a normalised e-mail) with roles (what the CLI may do as them)
and scopes (what the API may do with it: ``data:read``, ``knowledge:read``, ``orders:propose``). The secret is
shown once and stored only as its SHA-256 (it is 256 random bits, so a fast hash is enough); a token can be
revoked at any time. Issuing and revoking are audited; each use stamps ``last_used_at``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from services.core import clock
from services.core.audit import write_audit
from services.core.auth import ROLES, Actor, cli_actor, normalise_identity
from services.core.db import reading
from services.core.errors import BadInput, NexusError, PermissionDenied
from services.core.records import access_tokens

SCOPES = ("data:read", "knowledge:read", "orders:propose")
SCOPE_HELP = {"data:read": "read datasets and candles, export for Lona",
              "knowledge:read": "search the knowledge base", "orders:propose": "propose orders into the inbox"}
PREFIX = "tnx"
#: how often a token's last use is written (a busy API client must not write on every request)
_STAMP_EVERY_S = 60.0


class InvalidToken(PermissionDenied):
    """The presented token is unknown, malformed, revoked or expired."""


@dataclass(frozen=True)
class AccessToken:
    """A token as stored (never its secret)."""

    id: str
    owner: str
    label: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > clock.now())

    def actor(self) -> Actor:
        """The person this token acts for, with the roles it was issued with (every person is a viewer)."""
        return Actor(name=self.owner, roles=frozenset({"viewer", *self.roles}), email=self.owner,
                     via=f"token {self.id}")

    def require_scope(self, scope: str) -> None:
        """Raise PermissionDenied unless the token carries ``scope``."""
        if scope not in self.scopes:
            raise PermissionDenied(f"token {self.id} lacks the {scope} scope ({SCOPE_HELP.get(scope, scope)}); "
                                   f"ask an admin for a token with it")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(row) -> AccessToken:
    values = dict(row._mapping)
    values.pop("secret_hash")
    values["roles"], values["scopes"] = tuple(values["roles"]), tuple(values["scopes"])
    return AccessToken(**values)


def _checked(values: Iterable[str], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise BadInput(f"unknown {what} {', '.join(unknown)}: choose from {', '.join(allowed)}")
    return chosen


class Tokens:
    """Issue, list, revoke and authenticate personal access tokens."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._stamped: dict[str, float] = {}

    def issue(self, actor: Actor, owner: str, *, roles: Iterable[str] = (), scopes: Iterable[str] = (),
              label: str = "", expires_at: datetime | None = None) -> tuple[AccessToken, str]:
        """Issue a token for ``owner``; return it and its secret (shown once, never stored). Admins only."""
        actor.require("admin", "issue access tokens")
        person = normalise_identity(owner)
        if not person:
            raise BadInput("say whom the token is for (an e-mail address)")
        chosen_roles = _checked(roles, ROLES, "role")
        chosen_scopes = _checked(scopes, SCOPES, "scope")
        if not chosen_roles and not chosen_scopes:
            raise BadInput(f"a token needs a role ({', '.join(ROLES)}) or a scope ({', '.join(SCOPES)})")
        if expires_at is not None and expires_at <= clock.now():
            raise BadInput("the expiry must be in the future")
        token_id = secrets.token_hex(6)
        secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as connection:
            connection.execute(insert(access_tokens).values(
                id=token_id, owner=person, label=label.strip()[:200], roles=list(chosen_roles),
                scopes=list(chosen_scopes), secret_hash=_digest(secret), created_by=actor.name,
                created_at=clock.now(), expires_at=expires_at))
            write_audit(connection, f"token:{token_id}", actor.name, "token_issued", None, "active",
                        label or "issued", details={"owner": person, "roles": list(chosen_roles),
                                                    "scopes": list(chosen_scopes)})
        return self.get(token_id), secret

    def revoke(self, actor: Actor, token_id: str, reason: str) -> AccessToken:
        """Revoke a token at once (its next use is refused). Admins only; a reason is required."""
        actor.require("admin", "revoke access tokens")
        if not (reason or "").strip():
            raise BadInput("say why the token is revoked")
        with self.engine.begin() as connection:
            done = connection.execute(update(access_tokens).where(
                access_tokens.c.id == token_id, access_tokens.c.revoked_at.is_(None)).values(
                revoked_at=clock.now(), revoked_by=actor.name)).rowcount
            if not done:
                raise BadInput(f"no active token {token_id}")
            write_audit(connection, f"token:{token_id}", actor.name, "token_revoked", "active", "revoked",
                        reason.strip())
        return self.get(token_id)

    def listing(self, actor: Actor, owner: str | None = None) -> list[AccessToken]:
        """Every token (revoked ones too), newest first, for an admin (who holds which roles is not for all)."""
        actor.require("admin", "list access tokens")
        return self.list(owner)

    def get(self, token_id: str) -> AccessToken:
        """One token by its id; BadInput when unknown."""
        with reading(self.engine) as connection:
            row = connection.execute(select(access_tokens).where(access_tokens.c.id == token_id)).first()
        if row is None:
            raise BadInput(f"no token {token_id}")
        return _row(row)

    def list(self, owner: str | None = None) -> list[AccessToken]:
        """Every token (revoked ones too), newest first."""
        query = select(access_tokens).order_by(access_tokens.c.created_at.desc())
        if owner:
            query = query.where(access_tokens.c.owner == normalise_identity(owner))
        with reading(self.engine) as connection:
            return [_row(r) for r in connection.execute(query)]

    def authenticate(self, secret: str) -> AccessToken:
        """The active token whose secret this is; InvalidToken (saying nothing of the secret) otherwise."""
        parts = (secret or "").strip().split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise InvalidToken("not a Trade Nexus access token (they start with tnx_); ask an admin for one")
        try:
            token = self.get(parts[1])
            with reading(self.engine) as connection:
                stored = connection.execute(select(access_tokens.c.secret_hash).where(
                    access_tokens.c.id == token.id)).scalar_one()
        except NexusError:
            raise InvalidToken("unknown access token; ask an admin for one") from None
        if not hmac.compare_digest(stored, _digest(secret.strip())):
            raise InvalidToken("unknown access token; ask an admin for one")
        if token.revoked_at is not None:
            raise InvalidToken(f"token {token.id} was revoked by {token.revoked_by}; ask an admin for a new one")
        if not token.active:
            raise InvalidToken(f"token {token.id} expired; ask an admin for a new one")
        self._stamp(token.id)
        return token

    def _stamp(self, token_id: str) -> None:
        now = clock.now()
        if now.timestamp() - self._stamped.get(token_id, 0.0) < _STAMP_EVERY_S:
            return
        self._stamped[token_id] = now.timestamp()
        with self.engine.begin() as connection:
            connection.execute(update(access_tokens).where(access_tokens.c.id == token_id).values(last_used_at=now))


NEEDS_TOKEN = ("in production the CLI acts only with a personal access token: set NEXUS_TOKEN to the secret an admin "
               "issued you (Settings → Access tokens, or nexus tokens create --for YOU --role …); a bare --as NAME "
               "is not accepted")


def command_actor(tokens: Tokens, settings, secret: str | None, claimed: str | None, fallback: str) -> Actor:
    """The person behind a CLI command.

    With a token (``NEXUS_TOKEN``), its owner with the token's roles; an ``--as`` claim must then name the same
    person. Without one, production refuses (a claimed name proves nothing) and local mode takes the ``--as``
    claim, or ``fallback`` (the OS user) for commands that do not ask who decides.
    """
    if secret and secret.strip():
        actor = tokens.authenticate(secret).actor()
        if claimed is not None and normalise_identity(claimed) not in ("", actor.name):
            raise PermissionDenied(f"NEXUS_TOKEN belongs to {actor.name}, not {normalise_identity(claimed)}; "
                                   "drop --as or use that person's token")
        return actor
    if settings.app_env == "production":
        raise PermissionDenied(NEEDS_TOKEN)
    return cli_actor(fallback if claimed is None else claimed, settings)
