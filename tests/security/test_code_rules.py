"""Rules the code itself must keep: no raw HTML rendering, no Streamlit in services, no secrets in files."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.secrets import SECRET_PATTERNS

ROOT = Path(__file__).resolve().parents[2]
UI = [p for folder in ("app", "pages", "components") for p in (ROOT / folder).rglob("*.py")]


def test_no_html_is_ever_rendered_unescaped():
    offenders = [str(p.relative_to(ROOT)) for p in UI
                 if re.search(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.v1", p.read_text())]
    assert offenders == []


def test_services_and_models_never_import_streamlit():
    offenders = [str(p.relative_to(ROOT)) for folder in ("services", "models") for p in (ROOT / folder).rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+streamlit", p.read_text(), re.M)]
    assert offenders == []


def test_pages_never_reach_storage_databases_or_http_directly():
    banned = re.compile(r"^\s*(import|from)\s+(sqlalchemy|httpx|requests|azure|psycopg|ccxt|alpaca)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in UI if banned.search(p.read_text())]
    assert offenders == []


def test_no_secret_shaped_values_are_committed():
    """Code, configuration and docs carry no secret (tests hold only dummy keys of their fakes, so they are out)."""
    files = [p for p in ROOT.rglob("*") if p.is_file() and p.suffix in {".py", ".toml", ".yml", ".yaml", ".md", ".cfg"}
             and not any(part in {".venv", "node_modules", ".git", "var", "tests"} for part in p.parts)]
    # the generic "name = long value" rule is for configuration: in code it would flag every widget key="…"
    offenders = {str(p.relative_to(ROOT)): name for p in files for name, pattern in SECRET_PATTERNS.items()
                 if not (p.suffix == ".py" and name == "literal secret assignment")
                 and pattern.search(p.read_text(errors="ignore"))}
    assert offenders == {}


def test_the_lock_file_pins_registry_versions_only():
    """A fresh machine installs from the lock: every line is name==version, never a local file or URL."""
    text = (ROOT / "requirements.lock").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^\s@]+", line)] == []
