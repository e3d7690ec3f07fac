"""The one place secrets are blanked out of text: errors, logs, health details, traces, API answers.

``redact`` blanks given secret values (an upstream may echo what it was sent); ``redactor`` builds a function
that blanks every secret the settings hold plus any credentials written into a URL; ``public_url`` strips a
URL down to what may be shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from pydantic import SecretStr

from services.core.config import Settings

MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
#: the secret parts of a connection string (``AccountKey=…;``), as opposed to its endpoints and names
_SECRET_PART = re.compile(r"(?:^|;)\s*[\w ]*(?:key|secret|signature|password|token)\s*=\s*([^;]+)", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str | SecretStr | None]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***`` (unset ones are skipped)."""
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if value:
            text = text.replace(value, MASK)
    return text


def _secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, plus the parts of one that could appear alone (URL password, AccountKey)."""
    values = []
    for name in type(settings).model_fields:
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr) and secret:
            text = secret.get_secret_value()
            values += [text, *_SECRET_PART.findall(text)]
            password = urlsplit(text).password if "://" in text else None
            values += [password] if password else []
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def redactor(settings: Settings) -> Callable[[str], str]:
    """A function that blanks every secret of ``settings`` and any credentials written into a URL."""
    secrets = _secret_values(settings)

    def redact_all(text: str) -> str:
        return _URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}@", redact(text, secrets))

    return redact_all


def public_url(url: str) -> str:
    """``url`` without credentials, query or fragment (a SAS token or key can hide in either)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/") if parts.scheme else url
