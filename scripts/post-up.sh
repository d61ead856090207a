#!/usr/bin/env bash
# Step 2 of the deployment, after the function code is published:
#   1. access that Azure RBAC cannot grant: the Synapse RBAC roles (when synapseWorkspaceName is set),
#      and the manual steps main.bicep lists (output MANUAL_ACCESS_STEPS), printed;
#   2. the Event Grid subscriptions (infra/eventgrid.bicep). Event Grid validates an AzureFunction
#      endpoint when the subscription is created, so this must run AFTER `func azure functionapp
#      publish` / `azd deploy`.
#
# Inputs come from the outputs of infra/main.bicep, either
#   - as environment variables (azd exports them to hooks; see azure.yaml), or
#   - read from the main deployment:  scripts/post-up.sh -g <app resource group> [-n <deployment name>]
#
# Options:
#   -g, --resource-group NAME   resource group of the function app (or AZURE_RESOURCE_GROUP)
#   -n, --deployment-name NAME  name of the main.bicep deployment (default: main, the
#                               name `az deployment group create -f infra/main.bicep` uses)
#   --function NAME             function that receives the events (default: blob_trigger)
#   --wait-seconds N            how long to wait for the function to appear (default: 300)
#   --dry-run                   print the az commands that would change something, run none of them
#
# Needs: az CLI (logged in), bash. No storage keys or connection strings are used. The Synapse step
# needs the Synapse Administrator (or Synapse RBAC Administrator) role on the workspace.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"

resource_group="${AZURE_RESOURCE_GROUP:-}"
deployment_name="${MAIN_DEPLOYMENT_NAME:-main}"
function_name="${EVENTGRID_FUNCTION_NAME:-blob_trigger}"
wait_seconds="${POST_UP_WAIT_SECONDS:-300}"
dry_run=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    -g|--resource-group) resource_group="$2"; shift 2 ;;
    -n|--deployment-name) deployment_name="$2"; shift 2 ;;
    --function) function_name="$2"; shift 2 ;;
    --wait-seconds) wait_seconds="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "post-up: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "post-up: $*" >&2; }

# Runs a command that changes something, or prints it with --dry-run.
change() {
  if [[ "${dry_run}" -eq 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

if [[ -z "${resource_group}" ]]; then
  log "no resource group: pass -g <name> or set AZURE_RESOURCE_GROUP"
  exit 2
fi

# Value of one main.bicep output: the environment variable of the same name if set (azd sets every
# output, empty ones included), else the deployment's output.
output() {
  local name="$1" format="${2:-tsv}"
  if [[ -n "${!name+set}" ]]; then
    printf '%s\n' "${!name}"
    return
  fi
  az deployment group show \
    --resource-group "${resource_group}" \
    --name "${deployment_name}" \
    --query "properties.outputs.${name}.value" \
    --output "${format}"
}

# One line per string of a JSON array of strings (main.bicep's own messages, which hold no quotes),
# compact (azd) or pretty-printed (az).
json_strings() {
  printf '%s' "$1" | awk '{ s = s $0 } END {
    gsub(/^[ \t]*\[[ \t]*"?|"?[ \t]*\][ \t]*$/, "", s)
    n = split(s, parts, /"[ \t]*,[ \t]*"/)
    for (i = 1; i <= n; i++) if (parts[i] != "") print parts[i]
  }'
}

function_app_name="$(output AZURE_FUNCTION_APP_NAME)"
function_app_id="$(output FUNCTION_APP_RESOURCE_ID)"
topic_name="$(output EVENTGRID_SYSTEM_TOPIC_NAME)"
topic_rg="$(output EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP)"
watched_sub="$(output WATCHED_STORAGE_SUBSCRIPTION_ID)"
deadletter_account_id="$(output APP_STORAGE_ACCOUNT_ID)"
deadletter_container="$(output DEADLETTER_CONTAINER_NAME)"
principal_id="$(output APP_IDENTITY_PRINCIPAL_ID)"
# JSON arrays, e.g. [{"container":"uploads","subjectEndsWith":".csv"}]; compact for --parameters.
subscriptions="$(output EVENT_SUBSCRIPTIONS json | tr -d '\n\r\t')"
manual_steps="$(output MANUAL_ACCESS_STEPS json | tr -d '\n\r\t')"
synapse_workspace="$(output SYNAPSE_WORKSPACE_NAME)"
synapse_uses_identity="$(output SYNAPSE_USES_WORKSPACE_IDENTITY)"

for var in function_app_name function_app_id topic_name topic_rg watched_sub deadletter_account_id deadletter_container principal_id; do
  if [[ -z "${!var}" ]]; then
    log "missing value for ${var}: is the main deployment '${deployment_name}' in '${resource_group}' complete?"
    exit 1
  fi
done

# --- 1. Access Azure RBAC cannot grant ---------------------------------------------------------

# Synapse RBAC (not Azure RBAC): created only when the identity does not hold the role yet, so a
# second run changes nothing.
synapse_role() {
  local role="$1"
  shift
  local held
  held="$(az synapse role assignment list --workspace-name "${synapse_workspace}" --role "${role}" \
    --assignee "${principal_id}" "$@" --query "length(@)" --output tsv)"
  if [[ "${held}" != "0" ]]; then
    log "Synapse: the app identity already holds ${role} in ${synapse_workspace}"
    return
  fi
  log "Synapse: assigning ${role} in ${synapse_workspace} to the app identity"
  change az synapse role assignment create --workspace-name "${synapse_workspace}" --role "${role}" \
    --assignee-object-id "${principal_id}" --assignee-principal-type ServicePrincipal "$@" --output none
}

if [[ -n "${synapse_workspace}" ]]; then
  # Runs pipelines on the workspace's integration runtimes.
  synapse_role "Synapse Compute Operator" --scope "workspaces/${synapse_workspace}"
  if [[ "${synapse_uses_identity,,}" == "true" ]]; then
    # Lets those runs use the workspace's managed identity, and nothing else.
    synapse_role "Synapse Credential User" --item-type credentials --item WorkspaceSystemIdentity
  fi
fi

while IFS= read -r step; do
  [[ -n "${step}" ]] && log "manual step: ${step}"
done < <(json_strings "${manual_steps}")

# --- 2. Event subscriptions --------------------------------------------------------------------

if [[ -z "${subscriptions}" || "${subscriptions}" == "[]" || "${subscriptions}" == "null" ]]; then
  log "no active watch triggers in PIPELINE_TRIGGERS: no event subscription to create"
  exit 0
fi

# Publishing returns before the host has indexed the functions; wait until blob_trigger is listed.
if [[ "${dry_run}" -eq 0 ]]; then
  deadline=$(( $(date +%s) + wait_seconds ))
  until az functionapp function show \
      --resource-group "${resource_group}" \
      --name "${function_app_name}" \
      --function-name "${function_name}" \
      --query name --output tsv >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      log "function '${function_name}' not found in ${function_app_name} after ${wait_seconds}s: publish the code first"
      exit 1
    fi
    log "waiting for function '${function_name}' in ${function_app_name} ..."
    sleep 10
  done
fi

log "creating event subscriptions ${subscriptions} on ${topic_name} (${topic_rg})"
change az deployment group create \
  --subscription "${watched_sub}" \
  --resource-group "${topic_rg}" \
  --name "eventgrid-${function_app_name}" \
  --template-file "${repo_root}/infra/eventgrid.bicep" \
  --parameters \
  "systemTopicName=${topic_name}" \
  "functionAppResourceId=${function_app_id}" \
  "functionName=${function_name}" \
  "subscriptions=${subscriptions}" \
  "deadLetterStorageAccountId=${deadletter_account_id}" \
  "deadLetterContainerName=${deadletter_container}" \
  --output none
[[ "${dry_run}" -eq 0 ]] && log "done: uploads to the watched containers now trigger ${function_app_name}/${function_name}"
exit 0
