"""deploy/: the Bicep `azd up` provisions, checked here without a Bicep compiler or Azure. Every
file parses (pycep-parser); checkov, in a virtual environment of its own (.checkov-venv, made by
`make test`), finds no failed check and every skip says why; the app settings the template gives
the bot satisfy infra/settings.py in production (so the two cannot drift); the role-assignment
condition allows exactly the lab's four roles."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from infra.settings import Settings, missing_for_production
from skills.provisioning.roles import LAB_ROLES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BICEP = sorted(DEPLOY.glob("*.bicep"))
CHECKOV = ROOT / ".checkov-venv" / "bin" / "checkov"
NOT_FOR_CHECKOV = "app-registration.bicep"
"""checkov 3.3.30 pins pycep-parser 0.5.1, which cannot read Bicep's `extension` statement; the
file holds only Microsoft.Graph resources, for which checkov has no check (the test below proves
both), and pycep-parser 0.7.1 parses it here."""
PLATFORM = {
    "SCM_DO_BUILD_DURING_DEPLOYMENT",  # App Service's build (Oryx)
    "APPLICATIONINSIGHTS_CONNECTION_STRING",  # App Service's Python autoinstrumentation
    "ApplicationInsightsAgent_EXTENSION_VERSION",
    "WEBSITES_PORT",  # the port App Service sends requests to
    "AZURE_CLIENT_ID",  # azure-identity: which managed identity DefaultAzureCredential uses
}
"""App settings that are not the bot's own settings but the platform's or an SDK's."""


def _parse(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = BicepParser(add_line_numbers=True).parse(file_path=path)
    return parsed


@pytest.mark.parametrize("path", BICEP, ids=[p.name for p in BICEP])
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = _parse(path)
    assert parsed["resources"] or parsed.get("modules"), path.name


def test_checkov_finds_no_failed_check_and_every_skip_has_its_reason() -> None:
    assert CHECKOV.exists(), "checkov is missing: `make test` makes .checkov-venv"
    done = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(DEPLOY),
            "--framework",
            "bicep",
            "--skip-download",
            "--skip-path",
            NOT_FOR_CHECKOV,
            "--output",
            "json",
        ],  # fmt: skip
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # offline: no policy mapping download
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0, [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]
    ]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 20
    scanned = {c["file_path"] for c in report["results"]["passed_checks"]}
    assert {"/bot.bicep", "/subscription-access.bicep"} <= scanned
    for skipped in report["results"]["skipped_checks"]:
        why = (skipped.get("check_result") or {}).get("suppress_comment", "").strip()
        assert len(why) > 20, skipped["check_id"]
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_file_checkov_cannot_read_holds_only_graph_resources() -> None:
    parsed = _parse(DEPLOY / NOT_FOR_CHECKOV)
    assert list(parsed["extensions"]) == ["microsoftGraphV1"]
    types = {resource["type"] for resource in parsed["resources"].values()}
    assert types and all(t.startswith("Microsoft.Graph/") for t in types), types
    lines = (DEPLOY / NOT_FOR_CHECKOV).read_text(encoding="utf-8").splitlines()
    assert lines.count("extension microsoftGraphV1") == 1
    for other in BICEP:
        if other.name != NOT_FOR_CHECKOV:
            assert "extension " not in other.read_text(encoding="utf-8"), other.name


def app_settings() -> dict[str, str | None]:
    """The bot's App Service settings in deploy/bot.bicep: name -> the literal value, or None
    where the template computes it (a parameter, an output of another resource)."""
    parsed = _parse(DEPLOY / "bot.bicep")
    [resource] = [
        r
        for r in parsed["resources"].values()
        if r["type"] == "Microsoft.Web/sites/config" and r["config"]["name"] == "appsettings"
    ]
    names = [name for name in resource["config"]["properties"] if not name.startswith("__")]
    text = (DEPLOY / "bot.bicep").read_text(encoding="utf-8")
    found: dict[str, str | None] = {}
    for name in names:
        literal = re.search(rf"^\s*{re.escape(name)}: '([^'$]*)'", text, re.MULTILINE)
        found[name] = literal.group(1) if literal else None
    return found


def test_the_template_sets_every_setting_the_bot_needs_in_production() -> None:
    """The drift test: the template's app settings, with a stand-in for what it computes, are
    settings that load in production (infra/settings.py's validators), lack nothing
    `missing_for_production` asks for, and are each a setting the bot reads (or the platform's)."""
    values = app_settings()
    stand_in = "00000000-0000-4000-8000-000000000001"
    env = {name: stand_in if value is None else value for name, value in values.items()}
    settings = Settings(**{k: v for k, v in env.items() if k not in PLATFORM}, _env_file=None)
    assert settings.production and settings.backend == "azure" and settings.state == "blob"
    assert missing_for_production(settings) == []
    assert settings.federated_client_id and not settings.app_password.get_secret_value()
    assert env["FTBOT_FEDERATED_CLIENT_ID"] == stand_in and env["AZURE_CLIENT_ID"] == stand_in
    known = {
        str(alias)
        for field in Settings.model_fields.values()
        for alias in getattr(field.validation_alias, "choices", ())
    }
    assert [name for name in values if name not in known | PLATFORM] == []


def test_the_role_condition_allows_exactly_the_lab_roles() -> None:
    """Microsoft's "constrain roles" format, for write (the request's role) and delete (the
    assignment's role), over the GUIDs skills/provisioning/roles.py assigns."""
    text = (DEPLOY / "lab-access.bicep").read_text(encoding="utf-8")
    guids = dict(re.findall(r"^var (\w+) = '([0-9a-f-]{36})'", text, re.MULTILINE))
    block = text.split("var labRoles = [", 1)[1].split("]", 1)[0]
    listed = []
    for entry in re.findall(r"^\s*('?[\w-]+'?)", block, re.MULTILINE):
        listed.append(entry.strip("'") if entry.startswith("'") else guids[entry])
    assert sorted(listed) == sorted(role.guid for role in LAB_ROLES)
    condition = re.search(r"^var onlyLabRoles = '(.*)'$", text, re.MULTILINE)
    assert condition is not None
    assert condition.group(1).count("ForAnyOfAnyValues:GuidEquals {${join(labRoles, ', ')}}") == 2
    assert "(!(ActionMatches{\\'Microsoft.Authorization/roleAssignments/write\\'}))" in text
    assert "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]" in text
    assert "(!(ActionMatches{\\'Microsoft.Authorization/roleAssignments/delete\\'}))" in text
    assert "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId]" in text
    assert text.count("conditionVersion: '2.0'") == 1


def test_azd_finds_the_template_and_the_service() -> None:
    """azure.yaml points azd at deploy/ (./infra is our Python package), its service is the
    site tagged with its name, and main.parameters.json gives every parameter without a default."""
    azure_yaml = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^infra:\n  provider: bicep\n  path: deploy\n", azure_yaml, re.MULTILINE)
    assert re.search(r"^  bot:\n    project: \.\n    language: python\n    host: appservice$",
                     azure_yaml, re.MULTILINE)  # fmt: skip
    assert "'azd-service-name': 'bot'" in (DEPLOY / "bot.bicep").read_text(encoding="utf-8")
    main = _parse(DEPLOY / "main.bicep")["parameters"]
    given = json.loads((DEPLOY / "main.parameters.json").read_text(encoding="utf-8"))
    required = {name for name, p in main.items() if p.get("default") is None}
    assert required <= set(given["parameters"]) <= set(main)
