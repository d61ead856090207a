"""Static checks of the deployment templates in infra/ (issues 7 and 19).

Nothing here talks to Azure. The checks:
  * every .bicep file parses (pycep-parser, the parser checkov uses);
  * the compiler's and ARM's rules that broke deployments (tests/support/bicep_rules.py): nothing known
    only at run time feeds a name, location, scope, condition or loop; every role assignment takes its
    principal from a parameter and derives its name from it;
  * checkov (framework bicep, offline) reports no failed check and no parse error, and every
    suppression carries a written reason;
  * role assignments only use allow-listed built-in roles or the custom Data Factory role, whose actions
    are allow-listed too (never Owner / Contributor / User Access Administrator / RBAC Administrator),
    each at the narrowest scope;
  * no key material: no listKeys(), account keys, SAS or key-bearing connection strings;
  * Flex Consumption limits and rejected properties, identity-based settings, the Event Grid subscription
    filters, the ledger retention rule against the ledger's own constants, the azd and example parameters
    files, and scripts/post-up.sh (with a fake az).

Each scanner is also run against planted bad input (the defects of the earlier templates among them),
so a broken scanner fails too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import lark
import pytest

from shared import content_versions, events, ledger, retention
from shared.config import parse_config
from shared.ledger_index import index_tags
from shared.targets import DEFAULT_KIND, TARGET_KINDS
from tests.support.bicep_rules import Template, body, render

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
SCRIPTS = REPO / "scripts"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in role definition IDs (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
# Not here any more: Storage Queue Data Contributor (no queue triggers, no Durable Functions) and Data
# Factory Contributor (replaced by a custom role with only the operations the bridge calls).
ALLOWED_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",
}
# Actions a custom role in infra/ may hold (Microsoft.DataFactory resource provider operations).
ALLOWED_CUSTOM_ACTIONS = {
    "Microsoft.DataFactory/factories/pipelines/createrun/action",
    "Microsoft.DataFactory/factories/pipelineruns/read",
    "Microsoft.DataFactory/factories/querypipelineruns/action",
    "Microsoft.DataFactory/factories/querypipelineruns/read",
}
DENIED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    # The issue text quoted this (non-existent) ID for Contributor; refuse it as well.
    "b24988ac-6180-42a0-ab8b-6ab5a3a44a00": "Contributor (as quoted in issue 7)",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Anything that would put a storage account key, SAS or key-bearing connection string in play.
FORBIDDEN = [
    (re.compile(r"listkeys\s*\(", re.I), "listKeys()"),
    (re.compile(r"list(account|service)sas\s*\(", re.I), "listAccountSas()/listServiceSas()"),
    (re.compile(r"AccountKey\s*=", re.I), "AccountKey="),
    (re.compile(r"SharedAccessSignature", re.I), "SharedAccessSignature"),
    (re.compile(r"show-connection-string", re.I), "az storage account show-connection-string"),
    (re.compile(r"--account-key\b", re.I), "--account-key"),
    (re.compile(r"\baccount\s+keys\s+list\b", re.I), "az storage account keys list"),
    (re.compile(r"--auth-mode\s+key\b", re.I), "--auth-mode key"),
]

# Flex Consumption rejects or ignores these ("Flex Consumption plan deprecations" in the Functions app
# settings reference): app settings whose job moved to functionAppConfig, and site properties.
FLEX_DEPRECATED_SETTINGS = [
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "WEBSITE_NODE_DEFAULT_VERSION",
]
FLEX_REJECTED_SITE_PROPERTIES = [
    "alwaysOn",
    "containerSize",
    "ftpsState",
    "isXenon",
    "javaVersion",
    "linuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "functionAppScaleLimit",
    "functionsRuntimeScaleMonitoringEnabled",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "windowsFxVersion",
]



# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def parse_bicep(text: str) -> dict:
    from pycep import BicepParser

    return BicepParser().parse(text=text)


_PARSED: dict[Path, dict] = {}


def parsed(path: Path) -> dict:
    if path not in _PARSED:
        _PARSED[path] = parse_bicep(path.read_text(encoding="utf-8"))
    return _PARSED[path]


def _role_assignments(template: dict) -> dict[str, dict]:
    return {
        name: res
        for name, res in template.get("resources", {}).items()
        if res["type"].lower() == "microsoft.authorization/roleassignments" and not res.get("existing")
    }


def _custom_role(template: dict, ref: object) -> dict | None:
    """The roleDefinitions resource of this template that `<symbol>.name` names, if any."""
    if not isinstance(ref, dict) or ref.get("operator", {}).get("type") != "property_accessor":
        return None
    operands = ref["operator"]["operands"]
    res = template.get("resources", {}).get(operands["operand_1"])
    if res and operands["operand_2"] == "name" and res["type"].lower() == "microsoft.authorization/roledefinitions":
        return body(res)
    return None


def _custom_role_problems(name: str, definition: dict, variables: dict) -> list[str]:
    problems = []
    for permission in definition["properties"]["permissions"]:
        actions = permission.get("actions", [])
        actions = variables.get(actions, actions) if isinstance(actions, str) else actions
        extra = set(actions) - ALLOWED_CUSTOM_ACTIONS
        if extra or any("*" in a for a in actions):
            problems.append(f"{name}: custom role holds actions outside the allow-list: {sorted(extra)}")
        if permission.get("dataActions"):
            problems.append(f"{name}: custom role holds data actions {permission['dataActions']}")
    return problems


def _builtin_role_ids(res: dict, ref: object, variables: dict) -> list[str]:
    """The role ids `subscriptionResourceId(..., ref)` names: a variable, a literal, or the item of a
    `for role in <variable list>` loop."""
    loop = res["config"].get("loop_type")
    if loop and loop["detail"]["item_name"] == ref and isinstance(variables.get(loop["detail"]["array_name"]), list):
        return [str(variables.get(item, item)).lower() for item in variables[loop["detail"]["array_name"]]]
    return [str(variables.get(ref, ref)).lower()]


def role_assignment_violations(template: dict) -> list[str]:
    """Role assignments in a parsed template whose role is neither allow-listed nor a narrow custom role."""
    variables = {name: v.get("value") for name, v in template.get("variables", {}).items()}
    problems = []
    for name, res in _role_assignments(template).items():
        role_ref = body(res).get("properties", {}).get("roleDefinitionId")
        fn = role_ref.get("function", {}) if isinstance(role_ref, dict) else {}
        if fn.get("type") != "subscription_resource_id":
            problems.append(f"{name}: roleDefinitionId must be subscriptionResourceId(..., <role GUID>)")
            continue
        ref = fn["parameters"]["resource_name_1"]
        custom = _custom_role(template, ref)
        if custom is not None:
            problems += _custom_role_problems(name, custom, variables)
            continue
        for role_id in _builtin_role_ids(res, ref, variables):
            if role_id in DENIED_ROLES:
                problems.append(f"{name}: privileged role {DENIED_ROLES[role_id]} ({role_id})")
            elif role_id not in ALLOWED_ROLES:
                problems.append(f"{name}: role {role_id!r} is not in the allow-list")
    return problems


def assigned_roles(template: dict) -> set[str]:
    """Built-in role ids assigned in a template (a for loop over a variable list counts each item)."""
    variables = {name: v.get("value") for name, v in template.get("variables", {}).items()}
    roles = set()
    for res in _role_assignments(template).values():
        ref = body(res)["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        if _custom_role(template, ref) is not None:
            continue
        roles |= set(_builtin_role_ids(res, ref, variables))
    return roles


def forbidden_findings(text: str) -> list[str]:
    return [label for pattern, label in FORBIDDEN if pattern.search(text)]


def denied_role_findings(text: str) -> list[str]:
    return [DENIED_ROLES[g.lower()] for g in GUID.findall(text) if g.lower() in DENIED_ROLES]


def infra_text_files() -> list[Path]:
    files = [p for p in INFRA.rglob("*") if p.is_file()]
    files += [p for p in SCRIPTS.rglob("*") if p.is_file()]
    files.append(REPO / "azure.yaml")
    return files


def run_checkov(*args: str) -> dict:
    """Run checkov (offline) and return its JSON report for the bicep framework."""
    env = dict(os.environ)
    env.setdefault("LOG_LEVEL", "WARNING")
    proc = subprocess.run(
        [sys.executable, "-m", "checkov.main", *args, "--framework", "bicep", "--skip-download", "-o", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.stdout.strip(), f"checkov printed nothing (rc={proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    # A directory with nothing to scan yields a bare summary; several frameworks yield a list.
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "bicep")
    return report


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------


def test_expected_templates_exist():
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {"main.bicep", "eventgrid.bicep"} <= names
    assert len(BICEP_FILES) >= 4


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(path: Path):
    template = parsed(path)
    assert template.get("resources") or template.get("modules"), f"{path} declares nothing"


def test_parser_rejects_broken_bicep():
    # lark's UnexpectedInput is the base of its token, character and end-of-input parse errors.
    with pytest.raises(lark.exceptions.UnexpectedInput):
        parse_bicep("resource broken 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n")


# ---------------------------------------------------------------------------------------------
# the compiler's rules (issue 19 items 1, 3 and 13)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_nothing_known_only_at_run_time_feeds_a_deploy_time_property(path: Path):
    assert Template(parsed(path)).deploy_time_violations() == []


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_role_assignment_name_derives_from_a_principal_parameter(path: Path):
    assert Template(parsed(path)).role_assignment_violations() == []


# The earlier templates' defects, as they were written.
OLD_TOPIC_LOCATION = """\
param createNew bool
param location string
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'stdata'
}
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-stdata'
  location: createNew ? location : account.location
  properties: {
    source: account.id
  }
}
"""
OLD_DEAD_LETTER_WRITER = """\
var topicName = 'evgt-stdata'
var role = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
module watched 'w.bicep' = {
  name: 'watched'
}
resource appStorageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'stapp'
}
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appStorageAccount.id, topicName, role)
  scope: appStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: watched.outputs.systemTopicPrincipalId
  }
}
"""


def test_deploy_time_rule_catches_the_old_topic_location():
    problems = Template(parse_bicep(OLD_TOPIC_LOCATION)).deploy_time_violations()
    assert problems == [
        "resource systemTopic: location reads account.location, which is not known when the deployment starts"
    ]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        # A principal id created in the same deployment, in a role assignment's name.
        (
            "resource id 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {\n  name: 'id'\n}\n"
            "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
            "  name: guid(id.id, id.properties.principalId)\n  properties: {\n    principalId: 'p'\n  }\n}\n",
            "resource ra: name reads id.properties.principalId",
        ),
        # A module output in a module's scope, through a variable.
        (
            "module a 'a.bicep' = {\n  name: 'a'\n}\nvar rg = a.outputs.rg\n"
            "module b 'b.bicep' = {\n  name: 'b'\n  scope: resourceGroup(rg)\n}\n",
            "module b: scope reads a.outputs.rg (via variable rg)",
        ),
        # reference() in a condition.
        (
            "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = if (reference('x').enabled) {\n"
            "  name: 's'\n  location: 'westeurope'\n}\n",
            "resource s: condition reads reference()",
        ),
        # A runtime array in a loop.
        (
            "module a 'a.bicep' = {\n  name: 'a'\n}\n"
            "resource c 'Microsoft.Storage/storageAccounts@2023-05-01' = [for n in a.outputs.names: {\n"
            "  name: n\n  location: 'westeurope'\n}]\n",
            "resource c: for reads a.outputs.names",
        ),
    ],
)
def test_deploy_time_rule_catches_runtime_values(snippet: str, expected: str):
    problems = Template(parse_bicep(snippet)).deploy_time_violations()
    assert any(p.startswith(expected) for p in problems), problems


def test_role_name_rule_catches_the_old_dead_letter_writer():
    problems = Template(parse_bicep(OLD_DEAD_LETTER_WRITER)).role_assignment_violations()
    assert problems == [
        "deadLetterWriter: principalId must be a parameter of this template (assign through a module that "
        "receives the principal id), not watched.outputs.systemTopicPrincipalId"
    ]


def test_role_name_rule_catches_a_name_without_the_principal():
    snippet = (
        "param principalId string\n"
        "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  name: guid(resourceGroup().id, 'reader')\n  properties: {\n    principalId: principalId\n  }\n}\n"
    )
    assert Template(parse_bicep(snippet)).role_assignment_violations() == [
        "ra: name must be guid(..., principalId, ...), so that it changes with the principal"
    ]


def test_role_assignments_live_only_in_modules_that_receive_the_principal():
    for name in ("main.bicep", "eventgrid.bicep"):
        assert not _role_assignments(parsed(INFRA / name)), f"{name} assigns a role directly"
    modules = parsed(INFRA / "main.bicep")["modules"]
    principals = {
        "appStorageAccess": "appIdentity.properties.principalId",
        "monitoringAccess": "appIdentity.properties.principalId",
        "deadLetterAccess": "watched.outputs.systemTopicPrincipalId",
        "amlAccess": "appIdentity.properties.principalId",
        "adfAccess": "appIdentity.properties.principalId",
    }
    for module, principal in principals.items():
        assert render(body(modules[module])["params"]["principalId"]) == principal, module
    assert render(body(modules["watched"])["params"]["readerPrincipalId"]) == "appIdentity.properties.principalId"


# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    try:
        import checkov  # noqa: F401
    except ImportError:  # pragma: no cover - environment problem, not a skip
        pytest.fail("checkov is not installed: pip install -r requirements-dev.txt")
    return run_checkov("--config-file", str(INFRA / ".checkov.yaml"))


def test_checkov_passes(checkov_report: dict):
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0, checkov_report["results"].get("parsing_errors")
    assert summary["passed"] > 0 and summary["resource_count"] > 0, summary


def test_checkov_skips_are_each_justified(checkov_report: dict):
    for check in checkov_report["results"]["skipped_checks"]:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, f"{check['check_id']} on {check['resource']} skipped without a reason"
    config = (INFRA / ".checkov.yaml").read_text()
    assert not re.search(r"^\s*skip-check\s*:", config, re.M), "use inline, justified checkov:skip comments"
    for path in BICEP_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\s*\S.{19,}", line), f"{path.name}: {line.strip()}"


def test_checkov_fails_an_insecure_template(tmp_path: Path):
    (tmp_path / "bad.bicep").write_text(
        textwrap.dedent(
            """\
            resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {
              name: 'stinsecure'
              location: 'westeurope'
              kind: 'StorageV2'
              sku: {
                name: 'Standard_LRS'
              }
              properties: {
                minimumTlsVersion: 'TLS1_0'
                supportsHttpsTrafficOnly: false
                allowBlobPublicAccess: true
              }
            }
            """
        )
    )
    report = run_checkov("-d", str(tmp_path))
    failed_ids = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert {"CKV_AZURE_3", "CKV_AZURE_44"} <= failed_ids, failed_ids


# ---------------------------------------------------------------------------------------------
# least privilege
# ---------------------------------------------------------------------------------------------


def test_role_assignments_use_only_allowed_roles():
    problems = []
    for path in BICEP_FILES:
        problems += [f"{path.name}: {p}" for p in role_assignment_violations(parsed(path))]
    assert not problems, "\n".join(problems)


def test_each_needed_role_is_assigned():
    roles = set()
    for path in BICEP_FILES:
        roles |= assigned_roles(parsed(path))
    missing = {ALLOWED_ROLES[r] for r in set(ALLOWED_ROLES) - roles}
    assert not missing, f"roles never assigned: {sorted(missing)}"


def test_guids_in_templates_are_allow_listed_roles():
    for path in BICEP_FILES:
        for guid in GUID.findall(path.read_text()):
            assert guid.lower() in ALLOWED_ROLES, f"{path.name}: unexpected GUID {guid}"


def test_no_privileged_role_ids_anywhere():
    for path in infra_text_files():
        assert not denied_role_findings(path.read_text(errors="replace")), path


@pytest.mark.parametrize("role_id", sorted(DENIED_ROLES))
def test_role_checker_catches_privileged_role(role_id: str):
    snippet = textwrap.dedent(
        f"""\
        var roleX = '{role_id}'
        resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{
          name: guid('x')
          properties: {{
            roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleX)
            principalId: 'p'
          }}
        }}
        """
    )
    assert any("privileged role" in p for p in role_assignment_violations(parse_bicep(snippet)))
    assert denied_role_findings(snippet)


def test_role_checker_catches_unknown_and_literal_roles():
    literal = textwrap.dedent(
        """\
        resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
          name: guid('x')
          properties: {
            roleDefinitionId: '/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7'
            principalId: 'p'
          }
        }
        """
    )
    assert role_assignment_violations(parse_bicep(literal))
    unknown = literal.replace(
        "'/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7'",
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')",
    )
    assert any("allow-list" in p for p in role_assignment_violations(parse_bicep(unknown)))


def test_roles_are_scoped_to_the_narrowest_resource():
    """Issue 19 items 5 and 8: the dead-letter writer on its container, the reader on the watched containers."""
    def scope_of(module: str, resource: str) -> tuple[str, dict]:
        """The type of the resource a role assignment's scope names (`scope: x` or `scope: xs[i]`)."""
        template = parsed(INFRA / "modules" / module)
        scope = body(template["resources"][resource])["scope"]
        target = scope if isinstance(scope, str) else scope["operator"]["operands"]["operand_1"]
        return template["resources"][target]["type"], template["resources"][target]

    container = "Microsoft.Storage/storageAccounts/blobServices/containers"
    assert scope_of("dead-letter-access.bicep", "deadLetterWriter")[0] == container
    assert scope_of("watched-read-access.bicep", "blobReader")[0] == container
    reader = parsed(INFRA / "modules" / "watched-read-access.bicep")["resources"]["blobReader"]
    assert reader["config"]["loop_type"]["detail"]["array_name"] == "containerNames"
    assert scope_of("app-storage-access.bicep", "hostAccess")[0] == "Microsoft.Storage/storageAccounts"
    assert scope_of("adf-access.bicep", "runStarterAssignment")[0] == "Microsoft.DataFactory/factories"
    assert scope_of("aml-access.bicep", "dataScientist")[0] == "Microsoft.MachineLearningServices/workspaces"
    assert scope_of("monitoring-access.bicep", "telemetryPublisher")[0] == "Microsoft.Insights/components"


def test_data_factory_role_is_custom_with_only_the_operations_the_bridge_calls():
    template = parsed(INFRA / "modules" / "adf-access.bicep")
    (definition,) = _resources_of_type(template, "Microsoft.Authorization/roleDefinitions")
    (permission,) = definition["properties"]["permissions"]
    actions = template["variables"][permission["actions"]]["value"]
    assert set(actions) == ALLOWED_CUSTOM_ACTIONS
    assert permission["dataActions"] == [] and definition["properties"]["assignableScopes"]


def test_role_checker_catches_a_broad_custom_role():
    snippet = textwrap.dedent(
        """\
        resource r 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
          name: guid('r')
          properties: {
            roleName: 'too broad'
            permissions: [
              {
                actions: [
                  'Microsoft.DataFactory/factories/*'
                ]
              }
            ]
            assignableScopes: []
          }
        }
        resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
          name: guid('x')
          properties: {
            roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.name)
            principalId: 'p'
          }
        }
        """
    )
    assert any("outside the allow-list" in p for p in role_assignment_violations(parse_bicep(snippet)))


# ---------------------------------------------------------------------------------------------
# no keys, no SAS
# ---------------------------------------------------------------------------------------------


def test_no_key_material_in_infra_or_scripts():
    findings = {}
    for path in infra_text_files():
        hits = forbidden_findings(path.read_text(errors="replace"))
        if hits:
            findings[str(path.relative_to(REPO))] = hits
    assert not findings, findings


@pytest.mark.parametrize(
    "snippet",
    [
        "value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${sa.listKeys().keys[0].value}'",
        "var k = storage.listKeys().keys[0].value",
        "var k = listKeys(storage.id, '2023-05-01')",
        "BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature=sv=2022",
        "var sas = storage.listServiceSas('2023-05-01', {}).serviceSasToken",
        "az storage account show-connection-string -n st -g rg",
        "az storage blob upload --account-name st --account-key abc -f x",
        "az storage account keys list -n st",
        "az storage blob upload --auth-mode key -f x",
    ],
)
def test_key_scanner_catches_planted_snippets(snippet: str):
    assert forbidden_findings(snippet)


def test_key_scanner_accepts_identity_based_config():
    ok = "AzureWebJobsStorage__credential: 'managedidentity'\naz storage blob upload --auth-mode login -f x"
    assert forbidden_findings(ok) == []


# ---------------------------------------------------------------------------------------------
# Flex Consumption app, identity-based settings, storage hardening
# ---------------------------------------------------------------------------------------------


def _resources_of_type(template: dict, type_name: str) -> list[dict]:
    return [body(r) for r in template.get("resources", {}).values() if r["type"] == type_name and not r["existing"]]


def test_flex_consumption_plan_and_python_runtime():
    main = parsed(INFRA / "main.bicep")
    (plan,) = _resources_of_type(main, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    (site,) = _resources_of_type(main, "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert main["parameters"]["pythonVersion"]["default"] == "3.11"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True


def _settings(template: dict, variable: str) -> dict:
    """A `[{ name: ..., value: ... }]` app-settings variable as a dict."""
    return {item["name"]: item["value"] for item in template["variables"][variable]["value"]}


def test_app_settings_are_identity_based():
    main = parsed(INFRA / "main.bicep")
    base = _settings(main, "baseAppSettings")
    for key in (
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "AzureWebJobsStorage__clientId",
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "PIPELINE_TRIGGERS",
    ):
        assert key in base, key
    assert base["AzureWebJobsStorage__credential"] == "managedidentity"
    assert (
        base["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == "ClientId=${appIdentity.properties.clientId};Authorization=AAD"
    )
    assert base["PIPELINE_TRIGGERS"]["function"]["type"] == "string"
    assert "AzureWebJobsStorage" not in base, "no connection-string AzureWebJobsStorage"
    # A queue URI without a queue role would only turn a future queue use into 403s.
    assert "AzureWebJobsStorage__queueServiceUri" not in base
    watched = _settings(main, "watchedConnectionSettings")
    assert set(watched) == {
        "${watchedConnectionName}__blobServiceUri",
        "${watchedConnectionName}__credential",
        "${watchedConnectionName}__clientId",
    }
    assert watched["${watchedConnectionName}__credential"] == "managedidentity"
    assert main["parameters"]["watchedConnectionName"]["default"] == "WATCHED_STORAGE"
    (site,) = _resources_of_type(main, "Microsoft.Web/sites")
    merged = json.dumps(site["properties"]["siteConfig"]["appSettings"])
    for variable in ("baseAppSettings", "watchedConnectionSettings", "additionalAppSettings"):
        assert variable in merged, f"{variable} is not applied to the app"


def flex_rejections(template: dict) -> list[str]:
    """Flex-rejected site properties and deprecated app settings anywhere in a template's sites."""
    found = []
    for site in _resources_of_type(template, "Microsoft.Web/sites"):
        found += [f"site property {name}" for name in FLEX_REJECTED_SITE_PROPERTIES if f'"{name}":' in json.dumps(site)]
    sites = _resources_of_type(template, "Microsoft.Web/sites")
    variables = json.dumps(template.get("variables", {})) + json.dumps(sites)
    found += [f"app setting {name}" for name in FLEX_DEPRECATED_SETTINGS if name in variables]
    return found


def test_no_settings_or_properties_that_flex_consumption_rejects():
    assert flex_rejections(parsed(INFRA / "main.bicep")) == []  # comments are not part of the parse tree


def test_flex_checker_catches_the_old_ftps_state_and_a_worker_setting():
    snippet = textwrap.dedent(
        """        var settings = [
          {
            name: 'FUNCTIONS_WORKER_RUNTIME'
            value: 'python'
          }
        ]
        resource site 'Microsoft.Web/sites@2024-04-01' = {
          name: 'func'
          location: 'westeurope'
          properties: {
            siteConfig: {
              ftpsState: 'Disabled'
              appSettings: settings
            }
          }
        }
        """
    )
    assert flex_rejections(parse_bicep(snippet)) == ["site property ftpsState", "app setting FUNCTIONS_WORKER_RUNTIME"]


def _decorators(param: dict) -> dict:
    return {d["type"]: d.get("argument") for d in param["decorators"]}


def test_flex_limits_are_the_documented_ones():
    """Issue 19 item 4: Flex Consumption takes 40 to 1000 as maximum instance count, 512/2048/4096 MB."""
    params = parsed(INFRA / "main.bicep")["parameters"]
    assert _decorators(params["maximumInstanceCount"])["min_value"] == 40
    assert _decorators(params["maximumInstanceCount"])["max_value"] == 1000
    assert 40 <= params["maximumInstanceCount"]["default"] <= 1000
    assert _decorators(params["instanceMemoryMB"])["allowed"] == [512, 2048, 4096]
    assert _decorators(params["pythonVersion"])["allowed"] == ["3.11", "3.12"]
    # The versions offered are ones the test suite and the pinned runtime dependencies run on.
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in _decorators(params["pythonVersion"])["allowed"]
    assert "azure-functions>=1.21,<2" in (REPO / "requirements.txt").read_text(), "3.13 needs azure-functions 2.x"


def test_storage_accounts_are_hardened():
    (account,) = _resources_of_type(
        parsed(INFRA / "modules" / "storage-account.bicep"), "Microsoft.Storage/storageAccounts"
    )
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    main = parsed(INFRA / "main.bicep")
    app_storage = body(main["modules"]["appStorage"])
    assert app_storage["params"]["containerNames"] == ["deploymentContainerName", "deadLetterContainerName"]
    assert main["parameters"]["deadLetterContainerName"]["default"] == "eventgrid-deadletter"


def test_application_insights_accepts_only_entra_id_ingestion():
    (component,) = _resources_of_type(parsed(INFRA / "main.bicep"), "Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True
    assert component["properties"]["WorkspaceResourceId"]


def test_optional_pipeline_service_roles_are_conditional():
    modules = parsed(INFRA / "main.bicep")["modules"]
    for name, param in (("amlAccess", "amlWorkspaceResourceId"), ("adfAccess", "dataFactoryResourceId")):
        condition = modules[name]["config"]["condition"]
        assert json.dumps(condition).count(param) == 1 and '"empty"' in json.dumps(condition), name


def test_ledger_retention_is_off_by_default_and_never_shorter_than_event_grid_retries():
    """Issue 16: an optional lifecycle rule; 0 = off, else at least 2 days (24-hour retries + a day)."""
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["ledgerRetentionDays"]["default"] == 0
    retention = main["modules"]["ledgerRetention"]
    assert retention["config"]["condition"] == {
        "operator": {"type": "greater_than", "operands": {"operand_1": "ledgerRetentionDays", "operand_2": 0}}
    }
    assert body(retention)["params"]["retentionDays"] == "ledgerRetentionDays"
    module = parsed(INFRA / "modules" / "ledger-retention.bicep")
    assert _decorators(module["parameters"]["retentionDays"])["min_value"] * 24 > 24, "not longer than 24 hours"
    assert _decorators(module["parameters"]["retentionDays"])["min_value"] == 2


def deployed_rules(module: dict, **flags: bool) -> list[str]:
    """The rules the module's policy deploys for these parameter values: its `concat(...)` of `cond ? [...] : []`."""
    (policy,) = _resources_of_type(module, "Microsoft.Storage/storageAccounts/managementPolicies")
    assert policy["name"] == "default"
    expression = policy["properties"]["policy"]["rules"]["function"]
    assert expression["type"] == "concat"
    rules: list[str] = []
    for part in expression["parameters"].values():
        if isinstance(part, list):
            rules += part
        else:
            chosen = part["operator"]["operands"]
            rules += chosen["true_value"] if flags[chosen["condition"]] else chosen["false_value"]
    return rules


def test_ledger_retention_deletes_only_final_records_under_the_ledgers_runs_prefix():
    """The rule `prune` applies: submitted records, failed ones only when asked and only when certain, never
    a claimed or released one. Checked against the ledger's own names."""
    module = parsed(INFRA / "modules" / "ledger-retention.bicep")
    variables = {name: v["value"] for name, v in module["variables"].items()}
    assert deployed_rules(module, includeFailed=False, includeHistories=False) == ["submittedRule"]
    assert deployed_rules(module, includeFailed=True, includeHistories=False) == ["submittedRule", "certainFailedRule"]
    assert module["parameters"]["includeFailed"]["default"] is False
    assert variables["filtersBase"]["prefixMatch"] == ["${ledgerContainerName}/" + ledger.RUNS_PREFIX]

    def index_match(rule: str) -> dict[str, str]:
        filters = variables[rule]["definition"]["filters"]["function"]["parameters"]
        assert filters["arg_1"] == "filtersBase"
        return {m["name"]: m["value"] for m in filters["arg_2"]["blobIndexMatch"] if m["op"] == "=="}

    assert index_match("submittedRule") == {"state": ledger.SUBMITTED}
    assert index_match("certainFailedRule") == {"state": ledger.FAILED, "uncertain": "false"}
    for rule in ("submittedRule", "certainFailedRule"):
        assert variables[rule]["definition"]["actions"] == "deleteAfterRetention"
        assert re.fullmatch(r"[a-z0-9]+", variables[rule]["name"]), "lifecycle rule names are alphanumeric"
    assert variables["deleteAfterRetention"] == {
        "baseBlob": {"delete": {"daysAfterModificationGreaterThan": "retentionDays"}}
    }
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["ledgerContainerName"]["default"] == ledger.DEFAULT_CONTAINER
    assert _settings(main, "baseAppSettings")["PIPELINE_LEDGER_CONTAINER"] == "ledgerContainerName"
    assert body(main["modules"]["ledgerRetention"])["params"]["includeFailed"] == "ledgerRetentionIncludesFailed"


def test_the_optional_histories_rule_deletes_only_content_version_histories_by_age():
    """Issue 16: `versions/` grows with every blob; a rule may delete it by age (it cannot see the records)."""
    module = parsed(INFRA / "modules" / "ledger-retention.bicep")
    assert module["parameters"]["includeHistories"]["default"] is False
    assert deployed_rules(module, includeFailed=False, includeHistories=True) == ["submittedRule", "historiesRule"]
    assert deployed_rules(module, includeFailed=True, includeHistories=True) == \
        ["submittedRule", "certainFailedRule", "historiesRule"]
    rule = module["variables"]["historiesRule"]["value"]
    prefix = "${ledgerContainerName}/" + content_versions.VERSIONS_PREFIX
    assert rule["definition"] == {
        "filters": {"blobTypes": ["blockBlob"], "prefixMatch": [prefix]}, "actions": "deleteAfterRetention",
    }, "no blobIndexMatch: histories carry no tags; the prefix keeps it off the records under runs/"
    assert content_versions.VERSIONS_PREFIX != ledger.RUNS_PREFIX
    assert re.fullmatch(r"[a-z0-9]+", rule["name"]) and rule["enabled"] is True
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["ledgerRetentionIncludesHistories"]["default"] is False
    assert body(main["modules"]["ledgerRetention"])["params"]["includeHistories"] == "ledgerRetentionIncludesHistories"


@pytest.mark.parametrize(
    ("state", "error", "deleted_by"),
    [
        (ledger.SUBMITTED, None, {"submittedRule"}),
        (ledger.FAILED, {"status": 400}, {"certainFailedRule"}),
        (ledger.FAILED, {"status": 502, "ambiguous": True}, set()),  # its run may exist
        (ledger.UNCERTAIN, {"status": 504, "ambiguous": True}, set()),
        (ledger.CLAIMED, None, set()),
        (ledger.RELEASED, {"status": 503}, set()),
    ],
)
def test_lifecycle_rules_match_the_index_tags_the_ledger_writes(state: str, error: dict | None, deleted_by: set):
    """The rules read the tags `shared.ledger_index.index_tags` writes, and delete what `prune` may delete."""
    entry = ledger.LedgerEntry(key="k", trigger="t", state=state, firing={}, created_at="", updated_at="", error=error)
    tags = index_tags(entry)
    module = parsed(INFRA / "modules" / "ledger-retention.bicep")
    variables = {name: v["value"] for name, v in module["variables"].items()}
    matched = set()
    for rule in ("submittedRule", "certainFailedRule"):
        conditions = variables[rule]["definition"]["filters"]["function"]["parameters"]["arg_2"]["blobIndexMatch"]
        if all(tags.get(c["name"]) == c["value"] for c in conditions):
            matched.add(rule)
    assert matched == deleted_by, tags
    # And the shortest retention the module accepts is the command's.
    minimum = timedelta(days=_decorators(module["parameters"]["retentionDays"])["min_value"])
    assert minimum >= retention.MIN_RETENTION > retention.EVENT_GRID_RETRY_WINDOW


def test_resources_outside_the_app_resource_group_carry_no_azd_env_tag():
    """azd down deletes what belongs to its environment; the watched resource group never may."""
    main = parsed(INFRA / "main.bicep")
    assert body(main["modules"]["watched"])["params"]["tags"] == "externalTags"
    assert "azd-env-name" not in json.dumps(main["variables"]["externalTags"])
    assert "azd-env-name" in json.dumps(main["variables"]["allTags"])


def test_kinds_without_azure_rbac_get_manual_access_steps():
    main = parsed(INFRA / "main.bicep")
    steps = main["variables"]["manualAccessSteps"]["value"]["function"]["parameters"]
    assert list(steps.values()) == [
        "amlStep", "adfStep", "synapseStep", "databricksStep", "fabricStep", "otherAccountSteps"
    ]
    dumped = {name: json.dumps(main["variables"][name]["value"]) for name in steps.values()}
    assert "amlWorkspaceResourceId" in dumped["amlStep"] and "usesAml" in dumped["amlStep"]
    assert "Can Manage Run" in dumped["databricksStep"]
    assert "Service principals can use Fabric APIs" in dumped["fabricStep"] and "Contributor" in dumped["fabricStep"]
    # post-up.sh splits the messages on quotes: none may hold one.
    for name in steps.values():
        assert '\\"' not in dumped[name], name
    aml_kinds = set(main["variables"]["amlKinds"]["value"])
    assert aml_kinds == {"published_pipeline", "pipeline_endpoint", "batch_endpoint", "aml_pipeline_job"}
    assert DEFAULT_KIND in json.dumps(main["variables"]["activeKindsWithDuplicates"])
    # Every kind the app knows has its access handled: a role by id, a post-up step or a manual step.
    handled = aml_kinds | {"adf_pipeline", "synapse_pipeline", "databricks_job", "fabric_pipeline"}
    assert handled == set(TARGET_KINDS), sorted(set(TARGET_KINDS) ^ handled)
    assert main["outputs"]["MANUAL_ACCESS_STEPS"]["value"] == "manualAccessSteps"


# ---------------------------------------------------------------------------------------------
# Event Grid
# ---------------------------------------------------------------------------------------------


def test_system_topic_always_has_a_system_assigned_identity_for_dead_lettering():
    (topic,) = _resources_of_type(parsed(INFRA / "modules" / "system-topic.bicep"), "Microsoft.EventGrid/systemTopics")
    assert topic["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert topic["identity"] == "identity" and topic["location"] == "location"
    params = parsed(INFRA / "modules" / "system-topic.bicep")["parameters"]
    assert params["identity"]["default"] == {"type": "SystemAssigned"}
    # A reused topic keeps its user-assigned identities and tags, and gains the system-assigned one.
    reuse = body(parsed(INFRA / "modules" / "existing-system-topic.bicep")["modules"]["systemTopic"])["params"]
    identity = json.dumps(reuse["identity"])
    assert "'SystemAssigned, UserAssigned'" not in identity and '"SystemAssigned, UserAssigned"' in identity
    assert "userAssignedIdentities" in identity and '"SystemAssigned"' in identity
    assert json.dumps(reuse["tags"]).count("current") == 1 and reuse["location"] != "location"


def test_system_topic_location_is_read_at_run_time_and_passed_to_a_module():
    """Issue 19 item 1: the topic's location is the watched account's, which an `existing` account only
    offers at run time, so it reaches the topic as a module parameter."""
    watched = parsed(INFRA / "modules" / "watched-storage.bicep")
    assert not _resources_of_type(watched, "Microsoft.EventGrid/systemTopics")
    new_topic = body(watched["modules"]["newTopic"])
    assert new_topic["params"]["location"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "account", "operand_2": "location"}}
    }
    for name in ("newTopic", "reusedTopic"):
        assert "systemTopicResourceGroup" in json.dumps(body(watched["modules"][name])["scope"]), name


def _event_subscriptions() -> dict[str, dict]:
    template = parsed(INFRA / "eventgrid.bicep")
    return {
        name: body(res)
        for name, res in template["resources"].items()
        if res["type"] == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    }


def test_event_subscriptions_deliver_to_blob_trigger_with_retries_and_dead_letters():
    template = parsed(INFRA / "eventgrid.bicep")
    variables = {name: v["value"] for name, v in template["variables"].items()}
    assert template["parameters"]["functionName"]["default"] == "blob_trigger"
    destination = variables["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionAppResourceId}/functions/${functionName}"
    assert set(variables["retryPolicy"]) == {"maxDeliveryAttempts", "eventTimeToLiveInMinutes"}
    dead_letter = variables["deadLetter"]
    assert dead_letter["identity"]["type"] == "SystemAssigned"
    assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"
    subscriptions = _event_subscriptions()
    assert set(subscriptions) == {"blobEvents", "directoryEvents"}
    for props in (sub["properties"] for sub in subscriptions.values()):
        assert props["destination"] == "destination" and props["retryPolicy"] == "retryPolicy"
        assert props["deadLetterWithResourceIdentity"] == "deadLetter"
        assert "deadLetterDestination" not in props, "dead-letter with the topic identity, not keys"
        assert props["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/${s.container}/"


def test_event_subscriptions_filter_event_types_and_data_api():
    """Issues 17 and 19 item 9: blob events and renames, without the write APIs that never fire."""
    subscriptions = _event_subscriptions()
    blobs = subscriptions["blobEvents"]
    # The name earlier versions used: a redeployment updates the subscription instead of adding a second one.
    assert blobs["name"]["function"]["parameters"]["original_value"] == "blobcreated-${s.container}"
    assert blobs["properties"]["filter"]["includedEventTypes"] == [
        "Microsoft.Storage.BlobCreated",
        "Microsoft.Storage.BlobRenamed",
    ]
    directories = subscriptions["directoryEvents"]
    assert directories["properties"]["filter"]["includedEventTypes"] == ["Microsoft.Storage.DirectoryRenamed"]
    assert "subjectEndsWith" not in directories["properties"]["filter"], "a suffix would drop directory events"
    assert blobs["properties"]["filter"]["includedEventTypes"] == [events.BLOB_CREATED, events.BLOB_RENAMED]
    assert directories["properties"]["filter"]["includedEventTypes"] == [events.DIRECTORY_RENAMED]
    template = parsed(INFRA / "eventgrid.bicep")
    variables = {name: v["value"] for name, v in template["variables"].items()}
    # The event path's own list (shared/events.py) is the one list: Event Grid drops exactly the APIs that
    # never fire there, and delivers every API that may (an allow-list would drop ones it did not name).
    assert variables["apiFilter"] == {"operatorType": "StringNotIn", "key": "data.api", "values": "neverFiringApis"}
    assert variables["neverFiringApis"] == sorted(events.NEVER_FIRING_APIS)
    assert not set(variables["neverFiringApis"]) & set(events.FIRING_APIS)
    assert blobs["properties"]["filter"]["advancedFilters"] == ["apiFilter"]
    assert "advancedFilters" not in directories["properties"]["filter"]


def test_a_container_with_one_trigger_gets_its_suffix_as_subject_ends_with():
    subscriptions = _event_subscriptions()
    event_filter = subscriptions["blobEvents"]["properties"]["filter"]
    assert render(event_filter["subjectEndsWith"]) == "s.subjectEndsWith"
    assert event_filter["isSubjectCaseSensitive"] is False
    main = parsed(INFRA / "main.bicep")
    spec = main["variables"]["eventSubscriptions"]["value"]
    assert spec["loop_type"]["detail"] == {"item_name": "c", "array_name": "watchedContainers"}
    dumped = json.dumps(spec["config"]["subjectEndsWith"])
    # Only where the container's first and last trigger are the same one.
    assert '"index_of"' in dumped and '"last_index_of"' in dumped and "blob_path_ends_with" in dumped
    outputs = main["outputs"]
    assert outputs["EVENT_SUBSCRIPTIONS"]["value"] == "eventSubscriptions"


# ---------------------------------------------------------------------------------------------
# example parameters
# ---------------------------------------------------------------------------------------------


def test_example_parameters_match_main_bicep():
    example = json.loads((INFRA / "main.parameters.example.json").read_text())
    params = parsed(INFRA / "main.bicep")["parameters"]
    given = set(example["parameters"])
    assert given <= set(params), f"unknown parameters: {sorted(given - set(params))}"
    required = {name for name, p in params.items() if p.get("default") is None}
    assert required <= given, f"missing required parameters: {sorted(required - given)}"


def test_example_triggers_follow_the_contract():
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    triggers = example["pipelineTriggers"]["value"]
    assert isinstance(triggers, list) and triggers
    (watch_trigger,) = [t for t in triggers if "watch" in t]
    assert watch_trigger["watch"]["container"] == "uploads"
    assert watch_trigger["watch"]["path_on_datastore"] == "incoming"
    # The app reads the watched account through the identity-based settings main.bicep deploys.
    assert watch_trigger["watch"]["connection"] == example["watchedConnectionName"]["value"]
    pipeline = watch_trigger["pipeline"]
    assert re.match(
        r"https://[a-z0-9]+\.api\.azureml\.ms/pipelines/v1\.0/subscriptions/.+/PipelineRuns/PipelineSubmit/",
        pipeline["endpoint"],
    )
    for key in ("experiment_name", "datastore_name", "data_path_parameter_name", "parameter_assignments"):
        assert pipeline.get(key), key


def test_example_triggers_load_with_the_app_parser():
    """The example must be a PIPELINE_TRIGGERS value the function app itself accepts (its own parser checks
    the whole contract, so the infra tests keep no second copy of it)."""
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    config = parse_config(json.dumps(example["pipelineTriggers"]["value"]))
    (trigger,) = config.triggers
    assert trigger.active and trigger.watch is not None
    assert trigger.watch.connection == example["watchedConnectionName"]["value"]


# ---------------------------------------------------------------------------------------------
# azd + post-up script
# ---------------------------------------------------------------------------------------------


AZD_VARIABLE = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)(=[^}]*)?\}$")


def test_azd_parameters_file_takes_every_value_from_the_azd_environment():
    """Issue 19 item 12: `azd up` from a clean clone reads infra/main.parameters.json."""
    committed = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    params = parsed(INFRA / "main.bicep")["parameters"]
    assert set(committed) <= set(params), sorted(set(committed) - set(params))
    required = {name for name, p in params.items() if p.get("default") is None}
    assert required <= set(committed), sorted(required - set(committed))
    variables = {}
    for name, entry in committed.items():
        match = AZD_VARIABLE.match(entry["value"]) if isinstance(entry["value"], str) else None
        assert match, f"{name}: {entry['value']!r} is not a ${{VARIABLE}} azd substitutes"
        variables[name] = match.group(1)
        # azd passes numbers and booleans as strings; only string and (JSON) array parameters are safe.
        assert params[name]["type"] in ("string", "array"), name
    assert variables["environmentName"] == "AZURE_ENV_NAME" and variables["location"] == "AZURE_LOCATION"
    assert variables["pipelineTriggers"] == "PIPELINE_TRIGGERS"
    # An input must not share its name with an output whose value means something else.
    outputs = parsed(INFRA / "main.bicep")["outputs"]
    assert "systemTopicName" in variables and variables["systemTopicName"] not in outputs


def test_own_parameter_files_are_ignored_and_azds_is_not():
    patterns = [line.strip() for line in (INFRA / ".gitignore").read_text().splitlines() if not line.startswith("#")]
    assert "*.local.json" in patterns and "main.parameters.json" not in patterns


def test_azure_yaml_runs_post_up_after_deploy():
    import yaml

    project = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert project["services"]["app"]["host"] == "function"
    assert project["services"]["app"]["language"] == "python"
    assert "scripts/post-up.sh" in project["hooks"]["postdeploy"]["posix"]["run"]


APP_STORAGE_ID = "/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp"
SUBSCRIPTIONS_JSON = '[\n  {\n    "container": "uploads",\n    "subjectEndsWith": ".csv"\n  }\n]'
# Answers like `az ... --output tsv|json` would, per output name; `synapse role assignment list` answers
# with FAKE_SYNAPSE_HELD (the count of matching assignments).
FAKE_AZ = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE_AZ_LOG"
query=""
while [[ $# -gt 0 ]]; do case "$1" in --query) query="$2"; shift 2 ;; *) shift ;; esac; done
case "$query" in
  "length(@)") echo "${FAKE_SYNAPSE_HELD:-0}" ;;
  *AZURE_FUNCTION_APP_NAME*) echo func-abc ;;
  *FUNCTION_APP_RESOURCE_ID*) echo /subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-abc ;;
  *EVENTGRID_SYSTEM_TOPIC_NAME*) echo evgt-stdata ;;
  *EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP*) echo rg-topic ;;
  *WATCHED_STORAGE_SUBSCRIPTION_ID*) echo s2 ;;
  *APP_STORAGE_ACCOUNT_ID*) echo "$FAKE_STORAGE_ID" ;;
  *DEADLETTER_CONTAINER_NAME*) echo eventgrid-deadletter ;;
  *APP_IDENTITY_PRINCIPAL_ID*) echo 11111111-2222-3333-4444-555555555555 ;;
  *EVENT_SUBSCRIPTIONS*) printf '%s\n' "${FAKE_SUBSCRIPTIONS:-[]}" ;;
  *MANUAL_ACCESS_STEPS*) printf '%s\n' "${FAKE_STEPS:-[]}" ;;
  *SYNAPSE_WORKSPACE_NAME*) echo "${FAKE_SYNAPSE_WS:-}" ;;
  *SYNAPSE_USES_WORKSPACE_IDENTITY*) echo "${FAKE_SYNAPSE_IDENTITY:-False}" ;;
esac
"""


def _run_post_up(
    tmp_path: Path, *args: str, env_extra: dict | None = None
) -> tuple[subprocess.CompletedProcess, list[str]]:
    bash = shutil.which("bash")
    if bash is None:  # pragma: no cover
        pytest.skip("bash not available")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "az"
    fake.write_text(FAKE_AZ)
    fake.chmod(0o755)
    log = tmp_path / "az.log"
    log.write_text("")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "WATCHED_", "EVENTGRID_", "APP_", "FUNCTION_", "EVENT_", "SYNAPSE_", "MANUAL_"))
    }
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            "FAKE_AZ_LOG": str(log),
            "FAKE_STORAGE_ID": APP_STORAGE_ID,
            "FAKE_SUBSCRIPTIONS": SUBSCRIPTIONS_JSON,
        }
    )
    env.update(env_extra or {})
    proc = subprocess.run(
        [bash, str(SCRIPTS / "post-up.sh"), *args], env=env, capture_output=True, text=True, timeout=60
    )
    return proc, log.read_text().splitlines()


def test_post_up_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPTS / "post-up.sh")], check=True)


def test_post_up_deploys_event_subscriptions_from_main_outputs(tmp_path: Path):
    proc, calls = _run_post_up(tmp_path, "-g", "rg-app")
    assert proc.returncode == 0, proc.stderr
    assert any(c.startswith("functionapp function show") and "--function-name blob_trigger" in c for c in calls), calls
    (create,) = [c for c in calls if c.startswith("deployment group create")]
    for part in (
        "--subscription s2",
        # The topic's resource group, which may differ from the watched account's.
        "--resource-group rg-topic",
        "infra/eventgrid.bicep",
        "systemTopicName=evgt-stdata",
        "functionAppResourceId=/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-abc",
        'subscriptions=[  {    "container": "uploads",    "subjectEndsWith": ".csv"  }]',
        f"deadLetterStorageAccountId={APP_STORAGE_ID}",
        "deadLetterContainerName=eventgrid-deadletter",
    ):
        assert part in create, (part, create)
    # Outputs came from the main deployment in the app's resource group; no Synapse workspace, no Synapse call.
    assert any(c.startswith("deployment group show") and "--name main" in c for c in calls)
    assert not any(c.startswith("synapse") for c in calls)


def test_post_up_uses_azd_environment_values(tmp_path: Path):
    values = {
        "AZURE_RESOURCE_GROUP": "rg-app",
        "AZURE_FUNCTION_APP_NAME": "func-azd",
        "FUNCTION_APP_RESOURCE_ID": "/subscriptions/s1/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-azd",
        "EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-azd",
        "EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP": "rg-data",
        "WATCHED_STORAGE_SUBSCRIPTION_ID": "s2",
        "APP_STORAGE_ACCOUNT_ID": APP_STORAGE_ID,
        "DEADLETTER_CONTAINER_NAME": "eventgrid-deadletter",
        "APP_IDENTITY_PRINCIPAL_ID": "p1",
        "EVENT_SUBSCRIPTIONS": '[{"container":"uploads","subjectEndsWith":""},'
        '{"container":"partner-drop","subjectEndsWith":".parquet"}]',
        "MANUAL_ACCESS_STEPS": "[]",
        # azd sets every output, empty ones too: an empty value is a value, not "ask the deployment".
        "SYNAPSE_WORKSPACE_NAME": "",
        "SYNAPSE_USES_WORKSPACE_IDENTITY": "false",
    }
    proc, calls = _run_post_up(tmp_path, env_extra=values)
    assert proc.returncode == 0, proc.stderr
    assert not any(c.startswith("deployment group show") for c in calls), calls
    (create,) = [c for c in calls if c.startswith("deployment group create")]
    assert f"subscriptions={values['EVENT_SUBSCRIPTIONS']}" in create
    assert "systemTopicName=evgt-azd" in create and "--resource-group rg-data" in create


def test_post_up_without_watch_triggers_changes_nothing(tmp_path: Path):
    proc, calls = _run_post_up(tmp_path, "-g", "rg-app", env_extra={"FAKE_SUBSCRIPTIONS": "[]"})
    assert proc.returncode == 0, proc.stderr
    assert not any(c.startswith("deployment group create") for c in calls)
    assert "no event subscription to create" in proc.stderr


def test_post_up_requires_a_resource_group(tmp_path: Path):
    proc, calls = _run_post_up(tmp_path)
    assert proc.returncode == 2
    assert calls == []


def test_post_up_prints_the_manual_access_steps(tmp_path: Path):
    steps = '[\n  "databricks_job: add the app identity, then Can Manage Run",\n  "fabric_pipeline: Contributor"\n]'
    proc, _ = _run_post_up(tmp_path, "-g", "rg-app", env_extra={"FAKE_STEPS": steps})
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "manual step:" in line]
    assert lines == [
        "post-up: manual step: databricks_job: add the app identity, then Can Manage Run",
        "post-up: manual step: fabric_pipeline: Contributor",
    ]


@pytest.mark.parametrize("uses_identity", ["True", "False"])
def test_post_up_assigns_the_synapse_roles_once(tmp_path: Path, uses_identity: str):
    extra = {"FAKE_SYNAPSE_WS": "synws", "FAKE_SYNAPSE_IDENTITY": uses_identity}
    proc, calls = _run_post_up(tmp_path, "-g", "rg-app", env_extra=extra)
    assert proc.returncode == 0, proc.stderr
    creates = [c for c in calls if c.startswith("synapse role assignment create")]
    expected = ["Synapse Compute Operator"] + (["Synapse Credential User"] if uses_identity == "True" else [])
    assert [role for c in creates for role in expected if f"--role {role}" in c] == expected
    for create in creates:
        assert "--workspace-name synws" in create
        assert "--assignee-object-id 11111111-2222-3333-4444-555555555555" in create
        assert "--assignee-principal-type ServicePrincipal" in create
    assert "--scope workspaces/synws" in creates[0]
    if uses_identity == "True":
        assert "--item-type credentials --item WorkspaceSystemIdentity" in creates[1]
    # Run again with the roles held: nothing is created.
    proc, calls = _run_post_up(tmp_path, "-g", "rg-app", env_extra={**extra, "FAKE_SYNAPSE_HELD": "1"})
    assert proc.returncode == 0, proc.stderr
    assert not any(c.startswith("synapse role assignment create") for c in calls)
    assert "already holds Synapse Compute Operator" in proc.stderr


def test_post_up_dry_run_changes_nothing(tmp_path: Path):
    proc, calls = _run_post_up(tmp_path, "-g", "rg-app", "--dry-run", env_extra={"FAKE_SYNAPSE_WS": "synws"})
    assert proc.returncode == 0, proc.stderr
    assert not any(c.startswith(("deployment group create", "synapse role assignment create")) for c in calls), calls
    assert "az deployment group create" in proc.stdout and "az synapse role assignment create" in proc.stdout
