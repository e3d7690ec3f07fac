"""The Dockerfile, the deploy workflow and the Container App spec say what production needs, and hold no secret."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from services.core.config import Settings
from tests.support.secrets import SECRET_PATTERNS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
SPEC = ROOT / ".github" / "containerapp.yaml"
DEPLOYMENT_DOC = ROOT / "docs" / "DEPLOYMENT.md"
TOOLS = Path(sys.executable).parent  # hadolint, actionlint and shellcheck come with the dev extras

#: what runs, and so all the runtime image copies (the .dockerignore allow-list says the same)
RUNS = {"pyproject.toml", "requirements.lock", ".streamlit/config.toml", "app/", "pages/", "components/",
        "services/", "cli/", "api/", "models/"}
#: secrets deliberately not passed to the app: registration is a CLI step
NOT_DEPLOYED = {"LONA_AGENT_REGISTRATION_SECRET"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(row.split(None, 1)[0].upper(), row.split(None, 1)[1] if " " in row else "") for row in rows]


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    steps = instructions(DOCKERFILE)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def spec_container() -> dict:
    return yaml.safe_load(SPEC.read_text())["properties"]["template"]["containers"][0]


def secret_settings() -> set[str]:
    """Environment names of the settings that are secrets."""
    return {name.upper() for name, field in Settings.model_fields.items()
            if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)}


def step(job: str, uses: str) -> dict:
    return next(s for s in workflow()["jobs"][job]["steps"] if s.get("uses", "").startswith(uses))


# --- Dockerfile -----------------------------------------------------------------------------------------------
def test_every_stage_is_python_311_slim_and_the_build_is_multi_stage():
    stages = [args for keyword, args in instructions(DOCKERFILE) if keyword == "FROM"]
    assert len(stages) >= 2
    assert all(args.split()[0] == "python:3.11-slim" for args in stages)


def test_the_image_runs_as_a_non_root_user():
    users = [args for keyword, args in runtime_stage() if keyword == "USER"]
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit()
    assert any(keyword == "RUN" and f"--uid {user}" in args for keyword, args in runtime_stage())


def test_port_8000_health_check_on_health_and_production_serving():
    stage = runtime_stage()
    assert ("EXPOSE", "8000") in stage
    check = next(args for keyword, args in stage if keyword == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/health" in check and "--timeout=" in check
    command = json.loads(next(args for keyword, args in stage if keyword == "CMD"))
    assert command[:4] == ["python", "-m", "cli.main", "serve"]
    assert command[command.index("--port") + 1] == "8000" and command[command.index("--address") + 1] == "0.0.0.0"
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    for setting in ("APP_ENV=production", "STREAMLIT_SERVER_HEADLESS=true",
                    "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=true", "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none"):
        assert setting in env.split(), setting


def test_torch_is_the_cpu_build_at_the_pinned_version():
    pinned = next(d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
                  if d.startswith("torch"))
    installs = [args for keyword, args in instructions(DOCKERFILE) if keyword == "RUN" and "torch==" in args]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    assert words[words.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert pinned in words and "--no-deps" in words
    assert "torch==2.13.0+cpu" in (ROOT / "requirements.lock").read_text().split()


def test_only_what_runs_is_copied_and_the_dockerignore_allows_exactly_that():
    copies = [shlex.split(args) for keyword, args in runtime_stage() if keyword == "COPY"]
    assert [words for words in copies if words[0].startswith("--from")] == [["--from=build", "/opt/venv", "/opt/venv"]]
    assert {source for words in copies if not words[0].startswith("--from") for source in words[:-1]} == RUNS
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {line[1:] for line in lines if line.startswith("!")} == RUNS


def test_every_package_the_project_installs_is_in_the_image():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {f"{name.rstrip('*')}/" for name in packages["include"]} <= RUNS


# --- workflow ---------------------------------------------------------------------------------------------------
def test_workflow_tests_then_builds_then_deploys_on_push_to_main():
    flow = workflow()
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    jobs = flow["jobs"]
    assert any(s.get("run", "").strip() == "make test" for s in jobs["test"]["steps"])
    assert jobs["build-push"]["needs"] == "test" and jobs["deploy"]["needs"] == "build-push"


def test_both_tags_are_pushed_to_the_registry():
    flow = workflow()
    repository = flow["env"]["IMAGE_REPOSITORY"]
    assert repository == "tradenexusacr.azurecr.io/trade-nexus-console"
    build = step("build-push", "docker/build-push-action@")
    assert build["with"]["push"] is True
    tags = build["with"]["tags"].strip().splitlines()
    assert tags == ["${{ env.IMAGE_REPOSITORY }}:${{ github.sha }}", "${{ env.IMAGE_REPOSITORY }}:latest"]
    assert flow["env"]["REGISTRY"] == "tradenexusacr"


def test_azure_sign_in_is_oidc_and_every_credential_comes_from_secrets_by_name():
    flow = workflow()
    for job in ("build-push", "deploy"):
        assert flow["jobs"][job]["permissions"]["id-token"] == "write"
        login = step(job, "azure/login@")["with"]
        assert set(login) == {"client-id", "tenant-id", "subscription-id"}
        assert all(re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", value) for value in login.values())
    assert flow["permissions"] == {"contents": "read"}


def test_deploy_targets_the_container_app_with_the_image_of_this_commit():
    flow = workflow()
    deploy = step("deploy", "azure/container-apps-deploy-action@")["with"]
    env = flow["env"]
    resolved = {k: re.sub(r"\$\{\{ env\.(\w+) \}\}", lambda m: env[m.group(1)], v) for k, v in deploy.items()}
    assert resolved["resourceGroup"] == "trade-nexus"
    assert resolved["containerAppName"] == "trade-nexus-console"
    assert resolved["containerAppEnvironment"] == "trade-nexus-env"
    assert resolved["imageToDeploy"] == "tradenexusacr.azurecr.io/trade-nexus-console:${{ github.sha }}"
    assert resolved["yamlConfigPath"] == "${{ runner.temp }}/containerapp.yaml"


# --- Container App spec -------------------------------------------------------------------------------------
def test_spec_scales_from_zero_to_three_with_probes_within_azure_limits():
    template = yaml.safe_load(SPEC.read_text())["properties"]["template"]
    assert (template["scale"]["minReplicas"], template["scale"]["maxReplicas"]) == (0, 3)
    container = spec_container()
    assert (container["resources"]["cpu"], container["resources"]["memory"]) == (1.0, "2Gi")
    probes = {probe["type"]: probe for probe in container["probes"]}
    assert probes["Readiness"]["httpGet"] == {"path": "/health", "port": 8000}
    assert probes["Liveness"]["httpGet"] == probes["Startup"]["httpGet"] == {"path": "/_stcore/health", "port": 8000}
    for probe in probes.values():
        assert 1 <= probe.get("failureThreshold", 3) <= 10 and 1 <= probe.get("initialDelaySeconds", 1) <= 60
        assert 1 <= probe.get("periodSeconds", 10) <= 240 and 1 <= probe.get("timeoutSeconds", 1) <= 240


def test_secrets_are_referenced_by_name_and_every_one_of_settings_is_covered():
    env = spec_container()["env"]
    secrets = secret_settings()
    for entry in env:
        if entry["name"] in secrets or entry["name"] == "STREAMLIT_SERVER_COOKIE_SECRET":
            assert set(entry) == {"name", "secretRef"}, entry
            assert entry["secretRef"] == entry["name"].lower().replace("_", "-")
    deploy_env = workflow()["jobs"]["deploy"]["env"]
    optional = set(deploy_env["OPTIONAL_SECRETS"].split())
    required = {entry["name"] for entry in env if "secretRef" in entry}
    assert secrets == (optional | required | NOT_DEPLOYED) - {"STREAMLIT_SERVER_COOKIE_SECRET"}
    plain = set(deploy_env["PLAIN_SETTINGS"].split())
    assert not plain & secrets
    assert all(name.lower() in Settings.model_fields or name.startswith("ROLE_") for name in plain), plain
    assert {"name": "APP_ENV", "value": "production"} in env


def test_the_render_step_adds_set_variables_and_held_secrets_only(tmp_path):
    render = next(s for s in workflow()["jobs"]["deploy"]["steps"] if s.get("name", "").startswith("Render"))
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "az").write_text("#!/bin/sh\nprintf 'database-url\\nxai-api-key\\nunrelated-secret\\n'\n")
    (stub / "az").chmod(0o755)
    deploy_env = workflow()["jobs"]["deploy"]["env"]
    env = {**os.environ, "PATH": f"{stub}:{TOOLS}:{os.environ['PATH']}", "RESOURCE_GROUP": "trade-nexus",
           "CONTAINER_APP": "trade-nexus-console", "IMAGE": "tradenexusacr.azurecr.io/trade-nexus-console:abc123",
           "SPEC": str(tmp_path / "spec.yaml"), "PLAIN_SETTINGS": deploy_env["PLAIN_SETTINGS"],
           "OPTIONAL_SECRETS": deploy_env["OPTIONAL_SECRETS"],
           "CONFIG_VARS": json.dumps({"EXECUTION_VENUE": "live-engine", "LIVE_ENGINE_URL": "https://live.example",
                                      "LONA_GATEWAY_URL": "", "SOMETHING_ELSE": "x"})}
    subprocess.run(["bash", "-e", "-c", render["run"]], cwd=ROOT, env=env, check=True, capture_output=True)

    container = yaml.safe_load((tmp_path / "spec.yaml").read_text())["properties"]["template"]["containers"][0]
    assert container["image"] == "tradenexusacr.azurecr.io/trade-nexus-console:abc123"
    added = container["env"][len(spec_container()["env"]):]
    assert added == [{"name": "EXECUTION_VENUE", "value": "live-engine"},
                     {"name": "LIVE_ENGINE_URL", "value": "https://live.example"},
                     {"name": "XAI_API_KEY", "secretRef": "xai-api-key"}]


# --- no secrets, docs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [DOCKERFILE, DOCKERIGNORE, WORKFLOW, SPEC, DEPLOYMENT_DOC], ids=lambda p: p.name)
def test_no_secret_is_written_in_the_file(path):
    text = path.read_text()
    found = {name: pattern.findall(text) for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)}
    assert not found


def test_the_secret_patterns_catch_what_they_are_for():
    leaks = ["AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6", "postgresql://app:hunter22@db.example/x",
             "XAI_API_KEY=xai-abcdefghijklmnopqrstuvwx", "api_key: 'abcdefghijklmnop1234'"]
    assert all(any(p.search(leak) for p in SECRET_PATTERNS.values()) for leak in leaks)
    fine = ['database-url="$DATABASE_URL"', "XAI_API_KEY=secretref:xai-api-key", "${{ secrets.AZURE_CLIENT_ID }}",
            "AccountKey=<key>", "secretRef: azure-storage-connection-string"]
    assert not any(p.search(line) for p in SECRET_PATTERNS.values() for line in fine)


def test_the_deployment_doc_has_the_first_time_commands_and_the_way_back():
    doc = DEPLOYMENT_DOC.read_text()
    for needed in ("az containerapp create", "--min-replicas 0 --max-replicas 3", "--ingress external",
                   "--target-port 8000", "=secretref:database-url", "--yaml .github/containerapp.yaml",
                   "az containerapp revision list", "az containerapp revision activate",
                   "trade-nexus-console:<previous sha>", "700 MB compressed"):
        assert needed in doc, needed


# --- linters from the dev extras -----------------------------------------------------------------------------------
def _tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]' brings it)")
    return path


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = subprocess.run([_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_and_shellcheck_find_nothing_in_the_workflow():
    _tool("shellcheck")
    env = {**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}"}  # actionlint runs shellcheck on every `run:`
    result = subprocess.run([_tool("actionlint"), "-no-color", str(WORKFLOW)], capture_output=True, text=True,
                            cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
