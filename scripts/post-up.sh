#!/usr/bin/env bash
# Step 2 of the deployment: create the Event Grid BlobCreated subscriptions (infra/eventgrid.bicep)
# once the function code is published. Event Grid validates an AzureFunction endpoint when the
# subscription is created, so this must run AFTER `func azure functionapp publish` / `azd deploy`.
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
# Needs: az CLI (logged in), bash. No storage keys or connection strings are used.
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
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "post-up: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "post-up: $*" >&2; }

if [[ -z "${resource_group}" ]]; then
  log "no resource group: pass -g <name> or set AZURE_RESOURCE_GROUP"
  exit 2
fi

# Value of one main.bicep output: the environment variable of the same name if set (azd),
# else the deployment's output.
output() {
  local name="$1" format="${2:-tsv}"
  if [[ -n "${!name:-}" ]]; then
    printf '%s\n' "${!name}"
    return
  fi
  az deployment group show \
    --resource-group "${resource_group}" \
    --name "${deployment_name}" \
    --query "properties.outputs.${name}.value" \
    --output "${format}"
}

function_app_name="$(output AZURE_FUNCTION_APP_NAME)"
function_app_id="$(output FUNCTION_APP_RESOURCE_ID)"
topic_name="$(output EVENTGRID_SYSTEM_TOPIC_NAME)"
watched_rg="$(output WATCHED_STORAGE_RESOURCE_GROUP)"
watched_sub="$(output WATCHED_STORAGE_SUBSCRIPTION_ID)"
deadletter_account_id="$(output APP_STORAGE_ACCOUNT_ID)"
deadletter_container="$(output DEADLETTER_CONTAINER_NAME)"
# A JSON array such as ["uploads"]; keep it compact for the --parameters argument.
containers="$(output WATCHED_CONTAINERS json | tr -d ' \n\r\t')"

for var in function_app_name function_app_id topic_name watched_rg watched_sub deadletter_account_id deadletter_container; do
  if [[ -z "${!var}" ]]; then
    log "missing value for ${var}: is the main deployment '${deployment_name}' in '${resource_group}' complete?"
    exit 1
  fi
done

if [[ -z "${containers}" || "${containers}" == "[]" || "${containers}" == "null" ]]; then
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

cmd=(az deployment group create
  --subscription "${watched_sub}"
  --resource-group "${watched_rg}"
  --name "eventgrid-${function_app_name}"
  --template-file "${repo_root}/infra/eventgrid.bicep"
  --parameters
  "systemTopicName=${topic_name}"
  "functionAppResourceId=${function_app_id}"
  "functionName=${function_name}"
  "containers=${containers}"
  "deadLetterStorageAccountId=${deadletter_account_id}"
  "deadLetterContainerName=${deadletter_container}"
  --output none)

if [[ "${dry_run}" -eq 1 ]]; then
  printf '%q ' "${cmd[@]}"
  printf '\n'
  exit 0
fi

log "creating BlobCreated subscriptions for ${containers} on ${topic_name} (${watched_rg})"
"${cmd[@]}"
log "done: uploads to ${containers} now trigger ${function_app_name}/${function_name}"
