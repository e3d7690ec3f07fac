"""Who is acting and what they may do: roles from configuration, enforced here (not only in the UI)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.core.errors import ConfigError, PermissionDenied

ROLES = ("viewer", "trader", "approver", "admin")
#: what each role may do; higher roles do not imply lower ones except through the lists below
ROLE_HELP = {
    "viewer": "read everything",
    "trader": "start runs, ingest data, submit to Lona",
    "approver": "approve, edit or reject orders",
    "admin": "kill switch, risk limits, settings",
}
LOCAL_OPERATOR = "local-operator"


def normalise_identity(text: str) -> str:
    """The one spelling of a person for roles, four eyes and the audit: trimmed and case-folded
    (``ALICE@bank.com `` and ``alice@bank.com`` are one person)."""
    return (text or "").strip().casefold()


@dataclass(frozen=True)
class Actor:
    """A signed-in person (or the local operator, or a CLI user) and their roles.

    ``name`` is always normalised (``normalise_identity``), so comparing names compares people.
    ``via`` says how the person was identified when it was not a browser sign-in (e.g. ``token 3f2a…``).
    """

    name: str
    roles: frozenset[str]
    email: str = ""
    via: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalise_identity(self.name))
        object.__setattr__(self, "email", normalise_identity(self.email))

    def can(self, role: str) -> bool:
        """True when the actor holds ``role``."""
        return role in self.roles

    def require(self, role: str, action: str) -> None:
        """Raise PermissionDenied naming the missing role and the refused action."""
        if role not in self.roles:
            raise PermissionDenied(f"{self.name} may not {action}: the {role} role is needed ({ROLE_HELP[role]})")

    @property
    def label(self) -> str:
        """Name and roles, for the sidebar."""
        return f"{self.name} ({', '.join(r for r in ROLES if r in self.roles) or 'no role'})"


def local_operator(name: str = LOCAL_OPERATOR) -> Actor:
    """The single operator of local mode: every role."""
    return Actor(name=name, roles=frozenset(ROLES))


def roles_for(identity: str, settings) -> frozenset[str]:
    """Roles of an e-mail or user name from the role lists in the settings (everyone is a viewer)."""
    identity = normalise_identity(identity)
    roles = {"viewer"}
    for role in ("trader", "approver", "admin"):
        members = {normalise_identity(m) for m in getattr(settings, f"role_{role}s").split(",") if m.strip()}
        if identity in members or "*" in members:
            roles.add(role)
    return frozenset(roles)


def auth_configured(settings) -> bool:
    """True when role lists are configured (sign-in decides who is who)."""
    return any(getattr(settings, f"role_{r}s").strip() for r in ("trader", "approver", "admin"))


def cli_actor(name: str, settings) -> Actor:
    """The actor behind a CLI command run ``--as NAME``: roles from the lists, or every role in local mode."""
    if not name.strip():
        raise PermissionDenied("say who you are with --as NAME (local mode) or set NEXUS_TOKEN; every decision is "
                               "recorded with who and why")
    if settings.app_env != "production" and not auth_configured(settings):
        return local_operator(name.strip())
    return Actor(name=name.strip(), roles=roles_for(name, settings), email=name.strip())


LOOPBACK = "127.0.0.1"
ANY_ADDRESS = "0.0.0.0"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def listen_address(settings, requested: str | None, signed_in: bool) -> tuple[str, str | None]:
    """Where ``nexus serve`` listens, and a warning to print (None when there is nothing to warn about).

    Local mode (no sign-in: one operator with every role) listens on 127.0.0.1 unless an address is asked for
    explicitly, which is then warned about; with sign-in configured, or in production (the container, which
    refuses to start without sign-in), the default is every interface.
    """
    address = requested or (ANY_ADDRESS if signed_in or settings.app_env == "production" else LOOPBACK)
    if signed_in or address in _LOOPBACK_NAMES:
        return address, None
    return address, (f"warning: listening on {address} without sign-in: anyone who can reach this machine acts as "
                     "the local operator with every role (approve orders, kill switch, risk limits); configure "
                     "sign-in (AUTH_* variables or .streamlit/secrets.toml) or listen on 127.0.0.1")


AUTH_FIELDS = ("auth_redirect_uri", "auth_cookie_secret", "auth_client_id", "auth_client_secret",
               "auth_server_metadata_url")


def _secret(value) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def secrets_file_has_auth(path: Path) -> bool:
    """True when a Streamlit secrets file carries an [auth] section with a provider."""
    try:
        section = tomllib.loads(path.read_text()).get("auth", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return bool(section.get("redirect_uri") and section.get("cookie_secret"))


def write_streamlit_auth(settings, path: Path) -> bool:
    """Write Streamlit's [auth] section from the AUTH_* variables (how a container gets its secrets);
    return True when sign-in is configured afterwards. An existing secrets file is left alone."""
    if secrets_file_has_auth(path):
        return True
    values = {name: getattr(settings, name) for name in AUTH_FIELDS}
    missing = [name.upper() for name, value in values.items() if not value]
    if len(missing) == len(AUTH_FIELDS):
        return False
    if missing:
        raise ConfigError(f"sign-in is half configured: set {', '.join(missing)}")
    quoted = {name: json.dumps(_secret(value)) for name, value in values.items()}  # a TOML basic string
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = {"auth_redirect_uri": "redirect_uri", "auth_cookie_secret": "cookie_secret", "auth_client_id": "client_id",
            "auth_client_secret": "client_secret", "auth_server_metadata_url": "server_metadata_url"}
    path.write_text("[auth]\n" + "".join(f"{keys[name]} = {quoted[name]}\n" for name in AUTH_FIELDS))
    path.chmod(0o600)
    return True


NEEDS_SIGN_IN = (
    "APP_ENV=production needs sign-in: set AUTH_REDIRECT_URI, AUTH_COOKIE_SECRET, AUTH_CLIENT_ID, "
    "AUTH_CLIENT_SECRET and AUTH_SERVER_METADATA_URL (Clerk or Microsoft Entra ID OIDC), or provide an [auth] "
    "section in .streamlit/secrets.toml; and the role lists ROLE_TRADERS / ROLE_APPROVERS / ROLE_ADMINS"
)


def ensure_can_start(settings, secrets_path: Path) -> None:
    """Fail closed: production refuses to start without sign-in, saying what to set."""
    if settings.app_env == "production" and not write_streamlit_auth(settings, secrets_path):
        raise ConfigError(NEEDS_SIGN_IN)


def signed_in_actor(email: str, name: str, claims: dict, settings) -> Actor:
    """The actor of a signed-in browser session: roles from the lists and, if configured, an OIDC claim."""
    roles = set(roles_for(email or name, settings))
    if settings.role_claim:
        claimed = claims.get(settings.role_claim) or []
        claimed = claimed.split(",") if isinstance(claimed, str) else claimed
        roles |= {str(r).strip().lower() for r in claimed if str(r).strip().lower() in ROLES}
    return Actor(name=email or name or "unknown", roles=frozenset(roles), email=email)


_PROJECT = Path(__file__).resolve().parents[2]
#: where Streamlit reads ``secrets.toml``, whose ``[auth]`` table configures ``st.login``, in its order: user-wide,
#: the project (``streamlit run`` starts there), then beside ``app/main.py``
SIGN_IN_FILES = tuple(folder / ".streamlit" / "secrets.toml" for folder in (Path.home(), _PROJECT, _PROJECT / "app"))
SIGN_IN_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class SignIn:
    """The OIDC sign-in configuration, by key names only (values are secrets and never leave the file)."""

    providers: tuple[str, ...]
    missing: tuple[str, ...]


def sign_in_config(files: Sequence[Path] | None = None) -> SignIn | None:
    """The ``[auth]`` table of the Streamlit secrets files (later files win, as in Streamlit); None when absent.

    A provider is either the table itself (``[auth]`` with ``client_id``…) or a sub-table (``[auth.microsoft]``).
    """
    auth: dict = {}
    for path in files or SIGN_IN_FILES:
        if path.is_file():
            with path.open("rb") as handle:
                auth.update(tomllib.load(handle).get("auth", {}))
    if not auth:
        return None
    providers = {name: table for name, table in auth.items() if isinstance(table, dict)}
    if any(auth.get(key) for key in PROVIDER_KEYS):
        providers = {"default": auth, **providers}
    missing = [key for key in SIGN_IN_KEYS if not auth.get(key)]
    missing += [key if name == "default" else f"{name}.{key}"
                for name, table in providers.items() for key in PROVIDER_KEYS if not table.get(key)]
    if not providers:
        missing.append("a provider (" + ", ".join(PROVIDER_KEYS) + ")")
    return SignIn(tuple(providers), tuple(missing))
