"""Sign-in configuration, roles from configuration and claims, the production fail-closed rule."""

from __future__ import annotations

import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from services.core.auth import (
    NEEDS_SIGN_IN,
    cli_actor,
    ensure_can_start,
    roles_for,
    signed_in_actor,
    write_streamlit_auth,
)
from services.core.config import load_settings
from services.core.errors import ConfigError, PermissionDenied

AUTH = {"auth_redirect_uri": "https://console.test/oauth2callback", "auth_cookie_secret": "cookie-s3cret",
        "auth_client_id": "client", "auth_client_secret": 'sec"ret', "auth_server_metadata_url":
        "https://idp.test/.well-known/openid-configuration"}


def test_roles_come_from_the_lists(tmp_path):
    settings = load_settings(nexus_home=tmp_path, role_approvers="ann@x.io, bob@x.io", role_admins="ann@x.io")
    assert roles_for("Ann@x.io", settings) == {"viewer", "approver", "admin"}
    assert roles_for("eve@x.io", settings) == {"viewer"}
    actor = signed_in_actor("eve@x.io", "Eve", {"roles": ["trader", "superuser"]},
                            load_settings(nexus_home=tmp_path, role_claim="roles"))
    assert actor.roles == {"viewer", "trader"}


def test_cli_actor_in_local_and_production_mode(tmp_path):
    assert cli_actor("ann", load_settings(nexus_home=tmp_path)).can("admin")  # local mode: one operator
    production = load_settings(nexus_home=tmp_path, app_env="production", role_approvers="ann@x.io")
    assert cli_actor("ann@x.io", production).can("approver")
    assert not cli_actor("eve@x.io", production).can("approver")
    with pytest.raises(PermissionDenied):
        cli_actor("  ", production)


def test_production_without_sign_in_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="APP_ENV=production needs sign-in"):
        ensure_can_start(load_settings(nexus_home=tmp_path, app_env="production"), tmp_path / "secrets.toml")
    ensure_can_start(load_settings(nexus_home=tmp_path), tmp_path / "secrets.toml")  # local mode is fine


def test_auth_variables_become_streamlit_secrets(tmp_path):
    path = tmp_path / ".streamlit" / "secrets.toml"
    ensure_can_start(load_settings(nexus_home=tmp_path, app_env="production", **AUTH), path)
    section = tomllib.loads(path.read_text())["auth"]
    assert section["client_secret"] == 'sec"ret' and section["redirect_uri"] == AUTH["auth_redirect_uri"]
    assert oct(path.stat().st_mode)[-3:] == "600"
    with pytest.raises(ConfigError, match="half configured: set AUTH_CLIENT_SECRET"):
        write_streamlit_auth(load_settings(nexus_home=tmp_path, **{**AUTH, "auth_client_secret": None}),
                             tmp_path / "other.toml")


def _app() -> AppTest:
    return AppTest.from_file("../../app/main.py", default_timeout=30)


def test_production_app_without_sign_in_shows_only_the_refusal(make_runtime):
    make_runtime(app_env="production")
    at = _app()
    at.run()
    assert any(NEEDS_SIGN_IN[:40] in e.value for e in at.error)
    assert not at.title


def test_signed_out_user_sees_the_sign_in_button_and_no_page(runtime):
    at = _app()
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Trade Nexus Console"]


def test_signed_in_viewer_cannot_approve(make_runtime):
    make_runtime(role_approvers="boss@x.io")
    at = _app()
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": True, "email": "eve@x.io", "name": "Eve"}
    at.run()
    assert not at.exception
    assert any("eve@x.io (viewer)" in c.value for c in at.sidebar.caption)
