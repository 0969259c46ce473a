"""What a reviewer of infra/ checks, asserted: the exact roles granted and where, nothing secret in any
template, the storage the app uses declared, and azd's files consistent with the Bicep.
(checkov scans the same files in `make infra-check`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.container import TABLES
from tests.support.app import REPO

INFRA = REPO / "infra"
BICEP = sorted(INFRA.rglob("*.bicep"))

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# (principal, role id, scope) for every assignment: the least-privilege table of infra/README.md.
EXPECTED_ASSIGNMENTS = {
    ("appPrincipalId", STORAGE_BLOB_DATA_OWNER, "storage"),
    ("appPrincipalId", STORAGE_QUEUE_DATA_CONTRIBUTOR, "storage"),
    ("appPrincipalId", STORAGE_TABLE_DATA_CONTRIBUTOR, "storage"),
    ("appPrincipalId", KEY_VAULT_SECRETS_USER, "vault"),
    ("appPrincipalId", MONITORING_METRICS_PUBLISHER, "appInsights"),
    ("userPrincipalId", STORAGE_TABLE_DATA_CONTRIBUTOR, "storage"),
    ("userPrincipalId", KEY_VAULT_SECRETS_OFFICER, "vault"),
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _blocks(text: str, resource_type: str) -> list[str]:
    """The bodies of the resources of one type (top-level `resource x '<type>@...' ... = {...}`)."""
    blocks = []
    for match in re.finditer(rf"^resource \w+ '{re.escape(resource_type)}@[^']+'[^\n]*=[^\n]*\{{\n", text, re.M):
        end = text.index("\n}\n", match.end())
        blocks.append(text[match.end() : end])
    return blocks


def role_assignments(texts: dict[str, str] | None = None) -> set[tuple[str, str, str]]:
    found = set()
    for name, text in (texts or {path.name: _text(path) for path in BICEP}).items():
        role_vars = dict(re.findall(r"^var (\w+) = '([0-9a-f-]{36})'", text, re.M))
        for block in _blocks(text, "Microsoft.Authorization/roleAssignments"):
            principal = re.search(r"principalId: (\w+)", block)
            scope = re.search(r"^  scope: (\w+)", block, re.M)
            role = re.search(r"roleDefinitions', (\w+)\)", block)
            if not (principal and scope and role):
                raise AssertionError(f"{name}: a role assignment must name its principal, scope and role")
            found.add((principal.group(1), role_vars.get(role.group(1)) or role.group(1), scope.group(1)))
    return found


def test_exactly_the_expected_roles_are_granted_each_on_one_resource() -> None:
    assert role_assignments() == EXPECTED_ASSIGNMENTS


def test_every_assignment_scope_is_a_resource_not_a_group_or_subscription() -> None:
    roles = _text(INFRA / "modules" / "roles.bicep")
    scopes = {name: kind for name, kind in re.findall(r"^resource (\w+) '([^@]+)@[^']+' existing", roles, re.M)}

    assert scopes == {
        "storage": "Microsoft.Storage/storageAccounts",
        "vault": "Microsoft.KeyVault/vaults",
        "appInsights": "Microsoft.Insights/components",
    }
    for path in BICEP:
        assert not re.search(r"scope: (resourceGroup|subscription)\(\)", _text(path)), path.name


def test_the_role_check_would_notice_a_broader_role_or_scope() -> None:
    roles = _text(INFRA / "modules" / "roles.bicep")
    contributor = "b24988ac-6181-42e3-ab7b-2d5f8c6a3b7c"

    assert role_assignments({"roles.bicep": roles.replace(KEY_VAULT_SECRETS_USER, contributor)}) != EXPECTED_ASSIGNMENTS
    assert role_assignments({"roles.bicep": roles.replace("scope: vault", "scope: storage")}) != EXPECTED_ASSIGNMENTS


SECRET_PATTERNS = {
    "storage account key": re.compile(r"AccountKey\s*=|listKeys\(|primaryKey|SharedAccessSignature", re.I),
    "SAS signature": re.compile(r"[?&]sig=", re.I),
    "Invoice Bridge API key": re.compile(r"ib_[0-9a-f]{16}_[A-Za-z0-9_-]{43}"),
    "an apikey value": re.compile(r"apikey=[A-Za-z0-9]", re.I),
    "password": re.compile(r"password\s*[:=]\s*['\"][^'\"]+", re.I),
    "instrumentation key": re.compile(r"InstrumentationKey=[0-9a-f-]{36}", re.I),
    "client secret": re.compile(r"client_?secret\s*[:=]\s*['\"][^'\"]+", re.I),
}
TEMPLATES = [
    p for p in sorted(INFRA.rglob("*")) if p.is_file() and p.suffix in (".bicep", ".json", ".yaml", ".yml", ".md")
] + [REPO / "azure.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_template_holds_anything_secret(path: Path) -> None:
    text = _text(path)

    found = [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    assert found == []


def test_the_secret_scan_would_catch_a_key_in_a_template() -> None:
    leaked = "AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc=='"

    assert any(pattern.search(leaked) for pattern in SECRET_PATTERNS.values())


def test_no_output_or_parameter_is_a_secret_and_no_registry_module_is_used() -> None:
    for path in BICEP:
        text = _text(path)
        assert "@secure()" not in text, (
            f"{path.name}: a template that takes a secret would put it in deployment history"
        )
        assert not re.search(r"^module \w+ '(br[:/]|ts[:/])", text, re.M), f"{path.name}: registry module"
    for target in re.findall(r"^module \w+ '([^']+)'", _text(INFRA / "main.bicep"), re.M):
        assert (INFRA / target).is_file(), target


def test_storage_is_identity_only_and_declares_every_table_and_queue_the_app_uses() -> None:
    storage = _text(INFRA / "modules" / "storage.bicep")
    tables = re.search(r"var appTables = \[(.*?)\]", storage, re.S)
    queues = re.search(r"var appQueues = \[(.*?)\]", storage, re.S)
    assert tables
    assert queues

    assert set(re.findall(r"'(\w+)'", tables.group(1))) >= set(TABLES.values())
    assert set(re.findall(r"'([\w-]+)'", queues.group(1))) >= {"economic-export", "economic-export-poison"}
    assert "allowSharedKeyAccess: false" in storage
    assert "allowBlobPublicAccess: false" in storage
    assert "minimumTlsVersion: 'TLS1_2'" in storage


def test_the_function_app_is_flex_python_311_with_identity_based_settings() -> None:
    app = _text(INFRA / "modules" / "functionapp.bicep")
    settings = set(re.findall(r"\{ name: '([\w_]+)'", app))

    assert "name: 'FC1'" in app
    assert re.search(r"runtime: \{\s*name: 'python'\s*version: '3.11'", app)
    assert "type: 'SystemAssigned'" in app
    assert "type: 'SystemAssignedIdentity'" in app  # the deployment container, without a key
    assert {
        "AzureWebJobsStorage__accountName",
        "KEY_VAULT_URL",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "DEFAULT_TIMEZONE",
    } <= settings
    assert "AzureWebJobsStorage'" not in app  # no connection-string variant
    assert "httpsOnly: true" in app
    assert "ftpsState: 'Disabled'" in app
    assert "minTlsVersion: '1.2'" in app
    assert "DisableLocalAuth: true" in _text(INFRA / "modules" / "monitoring.bicep")
    assert "enableRbacAuthorization: true" in _text(INFRA / "modules" / "keyvault.bicep")


def test_azd_files_match_the_bicep() -> None:
    main = _text(INFRA / "main.bicep")
    params = set(re.findall(r"^param (\w+)", main, re.M))
    parameters = json.loads(_text(INFRA / "main.parameters.json"))["parameters"]
    azure_yaml = _text(REPO / "azure.yaml")

    assert set(parameters) <= params
    assert {p for p in params if not re.search(rf"^param {p} \w+ = ", main, re.M)} <= set(parameters)
    assert "host: function" in azure_yaml
    assert "language: python" in azure_yaml
    assert "'azd-service-name': 'api'" in main
    assert re.search(r"^  api:$", azure_yaml, re.M)


def test_checkov_skips_each_give_a_reason() -> None:
    for path in BICEP:
        for line in _text(path).splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_AZURE_\d+:\S.{20,}", line), f"{path.name}: {line.strip()}"
