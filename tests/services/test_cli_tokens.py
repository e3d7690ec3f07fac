"""Who decided is really who decided: one spelling of a person everywhere, personal access tokens as the CLI's
credential (NEXUS_TOKEN), no bare --as in production, and local mode listening on loopback only."""

from __future__ import annotations

from typing import ClassVar

import pytest
from typer.testing import CliRunner

from cli.main import app
from services.core.auth import Actor, listen_address, roles_for, signed_in_actor
from services.core.config import load_settings
from services.core.errors import Conflict
from tests.support.orders import proposal, write_prices

ADMIN = Actor("root@bank.com", frozenset({"viewer", "admin"}))


@pytest.fixture
def production(make_runtime):
    runtime = make_runtime(app_env="production", role_approvers="alice@bank.com,bob@bank.com",
                           role_admins="root@bank.com")
    write_prices(runtime)
    return runtime


@pytest.fixture
def nexus(monkeypatch):
    runner = CliRunner()

    def run(*args: str, token: str | None = None):
        if token is None:
            monkeypatch.delenv("NEXUS_TOKEN", raising=False)
        else:
            monkeypatch.setenv("NEXUS_TOKEN", token)
        return runner.invoke(app, list(args))

    return run


def _big_order(runtime):
    policy, gate = runtime.orders.policy()
    runtime.orders.set_policy(policy.model_dump(exclude_none=True), {**gate.model_dump(), "maxPositionWeight": 1.0},
                              ADMIN, "allow a large test position")
    (order,) = runtime.orders.propose("run-1", [proposal(quantity=600)])  # 60,000 USD: four eyes
    assert order.approvals_needed == 2
    return order


# --- 4a: one normalisation ------------------------------------------------------------------------------------
def test_four_eyes_counts_people_not_spellings(production):
    settings = production.settings
    first = signed_in_actor("alice@bank.com", "Alice", {}, settings)
    again = signed_in_actor(" ALICE@Bank.com", "Alice", {}, settings)
    assert again.can("approver") and again.name == first.name == "alice@bank.com"
    order = _big_order(production)
    production.orders.approve(order.id, first)
    with pytest.raises(Conflict, match="second, different approver"):
        production.orders.approve(order.id, again)
    _token, secret = production.tokens.issue(ADMIN, "Alice@BANK.com", roles=["approver"])
    with pytest.raises(Conflict, match="second, different approver"):
        production.orders.approve(order.id, production.tokens.authenticate(secret).actor())
    assert production.orders.get(order.id).approved_by == ["alice@bank.com"]
    assert [e.action for e in production.orders.audit(actor="ALICE@bank.com ")] == ["first_approval"]


def test_role_lists_and_tokens_use_the_same_spelling(tmp_path):
    settings = load_settings(nexus_home=tmp_path, role_approvers=" Alice@Bank.COM ")
    assert roles_for("alice@bank.com", settings) == roles_for("ALICE@bank.com", settings) == {"viewer", "approver"}


# --- 4b: tokens from the CLI, NEXUS_TOKEN -----------------------------------------------------------------------
def _secret(output: str) -> str:
    return output.rsplit(": ", 1)[1].strip()


def test_tokens_create_list_revoke_from_the_cli(runtime, nexus):
    made = nexus("tokens", "create", "--for", "Alice@Bank.com", "--role", "approver", "--expires", "30d",
                 "--label", "desk laptop")
    assert made.exit_code == 0, made.output
    secret = _secret(made.output)
    assert secret.startswith("tnx_") and "alice@bank.com" in made.output
    (token,) = runtime.tokens.list()
    assert token.owner == "alice@bank.com" and token.roles == ("approver",) and token.expires_at is not None
    listing = nexus("tokens", "list")
    assert listing.exit_code == 0 and token.id in listing.output and secret not in listing.output
    assert "active" in listing.output
    revoked = nexus("tokens", "revoke", token.id, "--reason", "laptop lost")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert runtime.tokens.get(token.id).revoked_at is not None
    bad = nexus("tokens", "create", "--for", "bob@bank.com", "--role", "pilot")
    assert bad.exit_code == 2 and "unknown role pilot" in bad.output
    late = nexus("tokens", "create", "--for", "bob@bank.com", "--role", "approver", "--expires", "yesterday")
    assert late.exit_code == 2 and "expiry 'yesterday' must look like 30d" in late.output
    past = nexus("tokens", "create", "--for", "bob@bank.com", "--role", "approver", "--expires", "2020-01-01")
    assert past.exit_code == 2 and "must be in the future" in past.output


def test_only_an_admin_token_manages_tokens(production, nexus):
    _token, approver = production.tokens.issue(ADMIN, "alice@bank.com", roles=["approver"])
    for args in (("tokens", "create", "--for", "eve@bank.com", "--role", "admin"), ("tokens", "list")):
        refused = nexus(*args, token=approver)
        assert refused.exit_code == 2 and "admin role" in refused.output
    _token, admin = production.tokens.issue(ADMIN, "root@bank.com", roles=["admin"])
    assert nexus("tokens", "list", token=admin).exit_code == 0


def test_production_refuses_a_bare_as_and_acts_with_the_token_owner(production, nexus):
    (order,) = production.orders.propose("run-1", [proposal()])
    claimed = nexus("orders", "approve", order.id, "--as", "alice@bank.com")
    assert claimed.exit_code == 2 and "NEXUS_TOKEN" in claimed.output and "--as" in claimed.output
    assert nexus("killswitch", "on", "--as", "root@bank.com", "--reason", "x").exit_code == 2
    assert production.orders.get(order.id).status == "pending_approval" and not production.orders.kill_switch_on()

    _token, secret = production.tokens.issue(ADMIN, "alice@bank.com", roles=["approver"])
    other = nexus("orders", "approve", order.id, "--as", "bob@bank.com", token=secret)
    assert other.exit_code == 2 and "belongs to alice@bank.com" in other.output
    done = nexus("orders", "approve", order.id, "--reason", "checked", token=secret)
    assert done.exit_code == 0, done.output
    trail = production.orders.audit(subject=order.id)
    assert {e.actor for e in trail if e.action in ("approve", "submit")} == {"alice@bank.com"}
    halt = nexus("killswitch", "on", "--reason", "x", token=secret)  # an approver token is no admin
    assert halt.exit_code == 2 and "admin role" in halt.output


def test_a_revoked_or_foreign_token_acts_for_nobody(production, nexus):
    (order,) = production.orders.propose("run-1", [proposal()])
    token, secret = production.tokens.issue(ADMIN, "alice@bank.com", roles=["approver"])
    production.tokens.revoke(ADMIN, token.id, "left the desk")
    for attempt in (secret, "tnx_000000000000_guess", "not-a-token"):
        refused = nexus("orders", "reject", order.id, "--reason", "no", token=attempt)
        assert refused.exit_code == 2 and secret not in refused.output
    assert production.orders.get(order.id).status == "pending_approval"


def test_local_mode_keeps_as(runtime, nexus):
    write_prices(runtime)
    (order,) = runtime.orders.propose("run-1", [proposal()])
    missing = nexus("orders", "reject", order.id, "--reason", "no")
    assert missing.exit_code == 2 and "--as NAME" in missing.output
    done = nexus("orders", "reject", order.id, "--as", "Ann", "--reason", "not today")
    assert done.exit_code == 0, done.output
    assert runtime.orders.audit(subject=order.id)[0].actor == "ann"


# --- 4c: where the console listens -------------------------------------------------------------------------------
def test_local_mode_listens_on_loopback_and_warns_when_opened_up(tmp_path):
    local = load_settings(nexus_home=tmp_path)
    assert listen_address(local, None, signed_in=False) == ("127.0.0.1", None)
    address, warning = listen_address(local, "0.0.0.0", signed_in=False)
    assert address == "0.0.0.0" and "without sign-in" in warning
    assert listen_address(local, None, signed_in=True) == ("0.0.0.0", None)
    assert listen_address(local, "localhost", signed_in=False) == ("localhost", None)
    production = load_settings(nexus_home=tmp_path, app_env="production")
    assert listen_address(production, None, signed_in=True) == ("0.0.0.0", None)  # the container


def test_policy_from_the_cli_needs_an_admin_token_in_production(production, nexus, tmp_path):
    change = tmp_path / "change.json"
    change.write_text('{"gate": {"checksOff": ["market open"]}}')
    assert nexus("policy", "set", str(change), "--reason", "24h desk").exit_code == 2  # no token: refused
    _token, approver = production.tokens.issue(ADMIN, "alice@bank.com", roles=["approver"])
    refused = nexus("policy", "set", str(change), "--reason", "24h desk", token=approver)
    assert refused.exit_code == 2 and "admin role" in refused.output
    _token, admin = production.tokens.issue(ADMIN, "root@bank.com", roles=["admin"])
    done = nexus("policy", "set", str(change), "--reason", "24h desk", token=admin)
    assert done.exit_code == 0, done.output
    assert production.orders.policy()[1].checksOff == ["market open"]
    assert production.orders.audit(subject="risk-policy")[0].actor == "root@bank.com"
    assert '"checksOff"' in nexus("policy", "show").output
    change.write_text('{"policy": {"limits": {"maxNotionalUsd": Infinity}}}')
    bad = nexus("policy", "set", str(change), "--reason", "x", token=admin)
    assert bad.exit_code == 2 and "nothing was changed" in bad.output
    missing = nexus("policy", "set", str(change), token=admin)
    assert missing.exit_code == 2 and "reason is required" in missing.output


class _Exited:
    """A child process that ends at once (serve's loop stops and nothing keeps running)."""

    launched: ClassVar[list[list[str]]] = []

    def __init__(self, args: list[str], **_kwargs):
        self.launched.append(args)

    def poll(self) -> int:
        return 0

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_serve_listens_on_loopback_without_sign_in_and_warns_for_every_interface(runtime, monkeypatch):
    import cli.main

    monkeypatch.setattr(cli.main.subprocess, "Popen", _Exited)
    monkeypatch.setattr(cli.main.signal, "signal", lambda *_args: None)  # pytest keeps its own SIGTERM handler
    monkeypatch.setattr("services.market_data.seed.seed", lambda *_a, **_k: [])
    runner = CliRunner()
    for args, address, warned in ((["serve", "--no-worker"], "127.0.0.1", False),
                                  (["serve", "--no-worker", "--host", "0.0.0.0"], "0.0.0.0", True)):
        _Exited.launched.clear()
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        (streamlit,) = _Exited.launched
        assert streamlit[streamlit.index("--server.address") + 1] == address
        assert ("warning: listening on 0.0.0.0 without sign-in" in done.output) is warned
