"""infra/logicapp/: every HTTP action of the sample workflows calls an operation the app serves (or one
listed below as waiting for its issue), with the key from an app setting, never inline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.connector.schemas import PositionNoteIn
from shared.operations import ALL_OPERATIONS
from tests.support.app import REPO

LOGICAPP = REPO / "infra" / "logicapp"
# Logic Apps Standard loads a workflow only from `<project root>/<WorkflowName>/workflow.json`, beside
# host.json and connections.json (Microsoft Learn, "Logic app project structure":
# https://learn.microsoft.com/azure/logic-apps/devops-deployment-single-tenant-azure-logic-apps#logic-app-project-structure,
# MicrosoftDocs/azure-docs includes/logic-apps-single-tenant-project-structure-visual-studio-code.md).
WORKFLOWS = sorted(LOGICAPP.glob("*/workflow.json"))
BASE = "@{appsetting('INVOICE_BRIDGE_URL')}/"
# Each workflow calls with its own key, held in its own app setting (a Key Vault reference): a key has
# only the rights its workflow needs, and one can be revoked without stopping the other.
KEY_SETTINGS = {"record-note": "INVOICE_BRIDGE_NOTE_APIKEY", "monthly-invoicing": "INVOICE_BRIDGE_INVOICING_APIKEY"}

# Operations the monthly workflow calls that are built by issues still open. When one lands, this
# test fails until the entry is removed, so the sample is then checked against the real route.
PENDING: dict[tuple[str, str], str] = {}


def http_actions(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """HTTP actions, also those nested in scopes, conditions and loops."""
    found: dict[str, dict[str, Any]] = {}
    pending = [definition["actions"]]
    while pending:
        for name, action in pending.pop().items():
            if action.get("type") == "Http":
                found[name] = action
            pending.extend(inner for inner in (action.get("actions"), action.get("else", {}).get("actions")) if inner)
    return found


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def routes() -> set[tuple[str, str]]:
    return {(spec.method, spec.route) for spec in ALL_OPERATIONS}


def test_the_sample_has_both_workflows_and_a_project_host_file() -> None:
    assert {p.parent.name for p in WORKFLOWS} == {"record-note", "monthly-invoicing"}
    # Nothing nested deeper: a workflow.json below <root>/<folder>/ is never loaded (same source).
    assert sorted(LOGICAPP.rglob("workflow.json")) == WORKFLOWS
    assert (
        load(LOGICAPP / "host.json")["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle.Workflows"
    )
    assert set(load(LOGICAPP / "connections.json")) <= {"managedApiConnections", "serviceProviderConnections"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.parent.name)
def test_every_http_action_calls_a_served_or_pending_operation_with_a_hidden_key(path: Path) -> None:
    workflow = load(path)
    actions = http_actions(workflow["definition"])
    assert actions, "no HTTP action found"

    for name, action in actions.items():
        inputs = action["inputs"]
        assert inputs["uri"].startswith(BASE), name
        route = inputs["uri"][len(BASE) :]
        call = (inputs["method"], route)
        assert call in routes() or call in PENDING, f"{name}: {call} is neither served nor pending"
        assert inputs["queries"] == {"apikey": f"@{{appsetting('{KEY_SETTINGS[path.parent.name]}')}}"}, name
        assert action["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"], name
        assert inputs["retryPolicy"]["type"] == "exponential", name
        assert "Idempotency-Key" in inputs["headers"], name


def test_pending_operations_are_still_pending() -> None:
    landed = [
        f"{method} {route} ({issue})" for (method, route), issue in PENDING.items() if (method, route) in routes()
    ]

    assert landed == [], "these landed: remove them from PENDING so the workflows are checked against them"


def test_the_note_workflow_sends_the_fields_the_operation_requires() -> None:
    workflow = load(LOGICAPP / "record-note" / "workflow.json")
    body = http_actions(workflow["definition"])["Record_position_note"]["inputs"]["body"]
    required = {name for name, field in PositionNoteIn.model_fields.items() if field.is_required()}

    assert required <= set(body)
    assert set(body) <= set(PositionNoteIn.model_fields)


def test_the_monthly_workflow_runs_on_the_first_in_a_time_zone_then_exports_after_the_run() -> None:
    definition = load(LOGICAPP / "monthly-invoicing" / "workflow.json")["definition"]
    (trigger,) = definition["triggers"].values()
    actions = definition["actions"]

    assert trigger["type"] == "Recurrence"
    assert trigger["recurrence"]["frequency"] == "Month"
    assert trigger["recurrence"]["schedule"]["monthDays"] == [1]
    assert trigger["recurrence"]["timeZone"]
    assert actions["Start_economic_export"]["runAfter"] == {"Start_invoicing_run": ["Succeeded"]}
    assert actions["Start_invoicing_run"]["inputs"]["body"] == {"period": "@{outputs('Previous_month')}"}


def test_no_workflow_file_holds_a_key() -> None:
    for path in LOGICAPP.rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"ib_[0-9a-f]{16}_", text), path
        assert not re.search(r"\"apikey\"\s*:\s*\"[^@]", text, re.I), path


def test_the_note_workflow_answers_its_caller_also_when_the_call_timed_out_or_got_no_response() -> None:
    """An action ends Succeeded, Failed, Skipped or TimedOut, and a successor runs only after the
    statuses its `runAfter` lists (Microsoft Learn, "Handle errors and exceptions in Azure Logic Apps":
    https://learn.microsoft.com/azure/logic-apps/error-exception-handling#manage-the-run-after-behavior).
    What `outputs(...)['statusCode']` holds when no response came is not documented (UNVERIFIED): the
    Response must not depend on it, so the status and body fall back with `coalesce`."""
    respond = load(LOGICAPP / "record-note" / "workflow.json")["definition"]["actions"]["Respond"]
    inputs = respond["inputs"]

    assert set(respond["runAfter"]["Record_position_note"]) >= {"Succeeded", "Failed", "TimedOut"}
    assert re.fullmatch(
        r"@if\(equals\(actions\('Record_position_note'\)\?\['status'\], 'TimedOut'\), 504, "
        r"coalesce\(outputs\('Record_position_note'\)\?\['statusCode'\], 502\)\)",
        inputs["statusCode"],
    )
    assert inputs["body"].startswith("@coalesce(outputs('Record_position_note')?['body'], ")


def _readme_key_commands() -> dict[str, dict[str, str]]:
    """The README's `keys create` commands, by the app setting their key ends up in: the options given."""
    readme = (LOGICAPP / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, dict[str, str]] = {}
    for setting in KEY_SETTINGS.values():
        block = re.search(rf"^ *# {setting}\n(.*?)(?=^ *# |^ *```)", readme, re.M | re.S)
        assert block, f"README: no key set-up for {setting}"
        create = re.search(r"manage keys create (.*)", block.group(1))
        assert create, f"README: {setting} is not made with `manage keys create`"
        found[setting] = dict(re.findall(r"--(\w+) (\"[^\"]*\"|\S+)", create.group(1)))
        assert f"{setting}=@Microsoft.KeyVault(" in readme, setting
    return found


def test_the_readme_makes_each_workflow_its_own_key_with_the_rights_its_calls_need_in_the_deployed_tables() -> None:
    """Issue 15, item 5: one key per workflow with the rights of the operations it calls (the specs'
    `right`), created in the deployed storage account with the pepper from the deployed vault: the CLI
    reads the app's settings (shared/config.py; identity-based storage via
    `AzureWebJobsStorage__accountName`, shared/adapters/storage.py; the pepper from `KEY_VAULT_URL`),
    and `--settings /dev/null` keeps local.settings.json's Azurite connection string out."""
    readme = (LOGICAPP / "README.md").read_text(encoding="utf-8")
    rights_of = {(spec.method, spec.route): spec.right for spec in ALL_OPERATIONS}
    commands = _readme_key_commands()

    for path in WORKFLOWS:
        setting = KEY_SETTINGS[path.parent.name]
        actions = http_actions(load(path)["definition"]).values()
        calls = {(a["inputs"]["method"], a["inputs"]["uri"][len(BASE) :]) for a in actions}
        needed = {rights_of[call] for call in calls if call in rights_of}
        assert needed <= set(commands[setting].get("rights", "").split(",")), setting
        assert set(commands[setting].get("rights", "").split(",")) <= needed, f"{setting}: more rights than needed"
    assert re.search(r"AzureWebJobsStorage__accountName=\"?\$AZURE_STORAGE_ACCOUNT_NAME", readme)
    assert re.search(r"KEY_VAULT_URL=\"?\$AZURE_KEY_VAULT_URL", readme)
    assert "--settings /dev/null" in readme
