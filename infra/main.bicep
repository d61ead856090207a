// Step 1 of 2: everything the function app needs, except the Event Grid event subscriptions.
// The subscriptions point at the deployed `blob_trigger` function, which only exists after
// the code is published, so they live in eventgrid.bicep (step 2, see scripts/post-up.sh).
//
// Scope: one resource group (created beforehand with `az group create`). Resources that
// belong elsewhere (watched storage account, AML workspace, Data Factory) are reached with
// modules scoped to their own resource groups.
//
// No account keys, SAS tokens or connection strings with secrets are used anywhere:
// every data-plane call is made by the user-assigned managed identity through RBAC.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

@description('Short name of this environment (dev, prod, ...). Seeds the unique resource names.')
@minLength(1)
@maxLength(32)
param environmentName string

@description('Region for the app and its resources. Must offer Flex Consumption (az functionapp list-flexconsumption-locations). Empty: the resource group\'s region.')
param location string = ''

@description('Extra tags for every resource created here.')
param tags object = {}

@description('Function app name. Empty: func-<unique token>.')
param functionAppName string = ''

// Flex Consumption runs Python 3.10 to 3.13. 3.10 reached its end of life in October 2026, and 3.13
// needs azure-functions 2.x, which requirements.txt does not allow yet (azure-functions<2).
@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

// Flex Consumption: the maximum instance count can be set from 40 to 1000.
@description('Upper bound of instances the Flex plan may scale out to (Flex Consumption accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Flex instance in MB (the sizes Flex Consumption offers).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Replication of the app\'s own storage account.')
param appStorageSku string = 'Standard_LRS'

@description('Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('existing: watch an account that already exists (common case). new: create one in the watched resource group.')
@allowed([
  'existing'
  'new'
])
param watchedStorageMode string = 'existing'

@description('Name of the watched storage account. Required for existing; for new, empty means stw<unique token>.')
param watchedStorageAccountName string = ''

@description('Resource group of the watched storage account (may differ from this one). Empty: this one.')
param watchedStorageResourceGroup string = ''

@description('Subscription of the watched storage account. Empty: this one.')
param watchedStorageSubscriptionId string = ''

@description('Prefix of the identity-based connection settings for the watched account. Triggers refer to it in watch.connection.')
param watchedConnectionName string = 'WATCHED_STORAGE'

@description('Name of the Event Grid system topic the watched account ALREADY has (Azure allows one per account); it is updated in place, keeping its identities and tags. Empty: a new topic evgt-<account> is created.')
param systemTopicName string = ''

@description('Resource group of that existing system topic, when it is not the watched account\'s. Empty: the watched account\'s resource group.')
param systemTopicResourceGroup string = ''

@description('Trigger definitions (array of trigger objects). Stored as JSON in the PIPELINE_TRIGGERS app setting.')
param pipelineTriggers array

@description('Resource ID of the Azure ML workspace the AML kinds (published_pipeline, pipeline_endpoint, batch_endpoint, aml_pipeline_job) submit to. Empty: no AML role assignment.')
param amlWorkspaceResourceId string = ''

@description('Resource ID of the Data Factory adf_pipeline triggers start pipelines in. Empty: no ADF role.')
param dataFactoryResourceId string = ''

@description('Name of the Synapse workspace synapse_pipeline triggers start pipelines in. Synapse RBAC is not Azure RBAC: scripts/post-up.sh assigns the role. Empty: no Synapse role.')
param synapseWorkspaceName string = ''

@description('Whether the Synapse pipelines use the workspace identity (linked services with it): then the app also needs Synapse Credential User on it.')
param synapseUsesWorkspaceIdentity bool = false

@description('Blob container in the app\'s storage account that receives undeliverable events.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Container in the app\'s storage account that holds the ledger (PIPELINE_LEDGER_CONTAINER).')
param ledgerContainerName string = 'pipeline-bridge-ledger'

@description('Delete submitted ledger records this many days after their last change (a lifecycle rule). 0: keep them. Otherwise at least 2, longer than Event Grid\'s 24-hour retry window.')
@minValue(0)
@maxValue(36500)
param ledgerRetentionDays int = 0

@description('With ledgerRetentionDays: also delete failed records whose outcome is certain (never those whose run may exist).')
param ledgerRetentionIncludesFailed bool = false

@description('With ledgerRetentionDays: also delete content-version histories (versions/) that many days after their last write. Unlike prune it cannot see which records still need one: a metadata-only change of a blob whose history went while a failed or released record of it is kept runs once more.')
param ledgerRetentionIncludesHistories bool = false

@description('Allow FTP/SCM basic-auth publishing credentials. Keep false: az/func/azd publish with Entra ID tokens.')
param allowBasicPublishingCredentials bool = false

@description('Additional app settings as [{ name: ..., value: ... }]. No secrets: use Key Vault references for those.')
param additionalAppSettings array = []

// ---------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------

// Empty strings count as "not given" (azd passes an unset environment variable as ''), so each
// optional input has its default here.
var appLocation = !empty(location) ? location : resourceGroup().location
var watchedResourceGroup = !empty(watchedStorageResourceGroup) ? watchedStorageResourceGroup : resourceGroup().name
var watchedSubscriptionId = !empty(watchedStorageSubscriptionId) ? watchedStorageSubscriptionId : subscription().subscriptionId
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
// Resources outside the app's resource group do not carry azd-env-name, so no azd command can
// mistake them, or their resource groups, for part of this environment.
var externalTags = union(tags, {
  'pipeline-trigger-bridge': appName
})
var appName = !empty(functionAppName) ? functionAppName : 'func-${resourceToken}'
// Flex Consumption pulls the deployment package from this container.
var deploymentContainerName = 'app-package-${take(toLower(appName), 32)}-${take(resourceToken, 7)}'
var appStorageName = 'st${resourceToken}'
var watchedAccountName = !empty(watchedStorageAccountName) ? watchedStorageAccountName : 'stw${resourceToken}'
var reuseSystemTopic = !empty(systemTopicName)
var topicName = reuseSystemTopic ? systemTopicName : 'evgt-${watchedAccountName}'
var topicResourceGroup = !empty(systemTopicResourceGroup) ? systemTopicResourceGroup : watchedResourceGroup

// Active triggers, and the watch triggers among them that read the account this template wires up.
var activeTriggers = filter(pipelineTriggers, t => toLower(t.?status ?? 'Active') == 'active')
var activeWatchTriggers = filter(activeTriggers, t => contains(t, 'watch'))
// A watch trigger without watch.connection reads AzureWebJobsStorage (README, "watch").
var watchTriggers = filter(activeWatchTriggers, t => (t.watch.?connection ?? 'AzureWebJobsStorage') == watchedConnectionName)
var otherAccountTriggers = filter(activeWatchTriggers, t => (t.watch.?connection ?? 'AzureWebJobsStorage') != watchedConnectionName)

// Containers that the watch triggers listen on; each gets event subscriptions (step 2).
var watchedContainersWithDuplicates = [for t in watchTriggers: t.watch.container]
var watchedContainers = union(watchedContainersWithDuplicates, [])
// Where a container has exactly one trigger, its blob_path_ends_with becomes the subscription's
// subjectEndsWith, so Event Grid does not deliver what the trigger would drop anyway.
var eventSubscriptions = [for c in watchedContainers: {
  container: c
  subjectEndsWith: (indexOf(watchedContainersWithDuplicates, c) == lastIndexOf(watchedContainersWithDuplicates, c)) ? (watchTriggers[indexOf(watchedContainersWithDuplicates, c)].watch.?blob_path_ends_with ?? '') : ''
}]

// Kinds in use, for the access steps this template cannot take (output MANUAL_ACCESS_STEPS).
var activeKindsWithDuplicates = [for t in activeTriggers: t.?pipeline.?kind ?? 'published_pipeline']
var activeKinds = union(activeKindsWithDuplicates, [])
var amlKinds = [
  'published_pipeline'
  'pipeline_endpoint'
  'batch_endpoint'
  'aml_pipeline_job'
]
var usesAml = !empty(intersection(activeKinds, amlKinds))
var amlStep = usesAml && empty(amlWorkspaceResourceId) ? ['Azure ML triggers are active but amlWorkspaceResourceId is empty: set it, or give the app identity AzureML Data Scientist on the workspace yourself.'] : []
var adfStep = contains(activeKinds, 'adf_pipeline') && empty(dataFactoryResourceId) ? ['adf_pipeline triggers are active but dataFactoryResourceId is empty: set it so the app identity gets its run-starter role on the factory.'] : []
var synapseStep = contains(activeKinds, 'synapse_pipeline') && empty(synapseWorkspaceName) ? ['synapse_pipeline triggers are active but synapseWorkspaceName is empty: set it so post-up.sh assigns Synapse Compute Operator, or assign it yourself (README, What each role is for).'] : []
var databricksStep = contains(activeKinds, 'databricks_job') ? ['databricks_job: add the app identity (APP_IDENTITY_CLIENT_ID) to the Databricks workspace as a service principal and give it Can Manage Run on each job (README, What each role is for).'] : []
var fabricStep = contains(activeKinds, 'fabric_pipeline') ? ['fabric_pipeline: give the app identity the Contributor role on the Fabric workspace, and enable the tenant setting named Service principals can use Fabric APIs (README, What each role is for).'] : []
var otherAccountSteps = [for t in otherAccountTriggers: 'Trigger ${t.name} watches connection ${t.watch.?connection ?? 'AzureWebJobsStorage'}, not ${watchedConnectionName}: this template gives it no event subscription and no read role.']
var manualAccessSteps = concat(amlStep, adfStep, synapseStep, databricksStep, fabricStep, otherAccountSteps)

// ---------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${appName}'
  location: appLocation
  tags: allTags
}

// ---------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: appLocation
  tags: allTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${resourceToken}'
  location: appLocation
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Only Entra ID-authenticated telemetry is accepted: the instrumentation key in the
    // connection string alone cannot ingest anything.
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------
// The app's own storage: host state (blobs, tables), deployment package, ledger, dead letters
// ---------------------------------------------------------------------------------------

module appStorage 'modules/storage-account.bicep' = {
  name: 'app-storage'
  params: {
    name: appStorageName
    location: appLocation
    tags: allTags
    skuName: appStorageSku
    containerNames: [
      deploymentContainerName
      deadLetterContainerName
    ]
  }
}

// The app identity's roles on it, and the optional ledger retention rule.
module appStorageAccess 'modules/app-storage-access.bicep' = {
  name: 'app-storage-access'
  params: {
    accountName: appStorage.outputs.name
    principalId: appIdentity.properties.principalId
  }
}

module ledgerRetention 'modules/ledger-retention.bicep' = if (ledgerRetentionDays > 0) {
  name: 'ledger-retention'
  params: {
    accountName: appStorage.outputs.name
    ledgerContainerName: ledgerContainerName
    // The module refuses fewer than 2 days (its @minValue), naming this value in the error.
    retentionDays: ledgerRetentionDays
    includeFailed: ledgerRetentionIncludesFailed
    includeHistories: ledgerRetentionIncludesHistories
  }
}

module monitoringAccess 'modules/monitoring-access.bicep' = {
  name: 'monitoring-access'
  params: {
    appInsightsName: appInsights.name
    principalId: appIdentity.properties.principalId
  }
}

// ---------------------------------------------------------------------------------------
// Flex Consumption plan and function app
// ---------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${resourceToken}'
  location: appLocation
  tags: allTags
  kind: 'functionapp'
  sku: {
    // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is region-dependent and needs ZRS host storage; an event-driven batch trigger tolerates a zone outage (Event Grid retries for 24h).
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // Linux.
    reserved: true
  }
}

// Identity-based connection to the watched account, named by watchedConnectionName
// (the trigger config's watch.connection).
var watchedConnectionSettings = [
  {
    name: '${watchedConnectionName}__blobServiceUri'
    value: watched.outputs.blobEndpoint
  }
  {
    name: '${watchedConnectionName}__credential'
    value: 'managedidentity'
  }
  {
    name: '${watchedConnectionName}__clientId'
    value: appIdentity.properties.clientId
  }
]

var baseAppSettings = [
  // Host storage through the managed identity, one URI per service the host uses: blobs and tables.
  // No queue URI: no queue triggers, no Durable Functions, and the identity holds no queue role.
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: appStorage.outputs.blobEndpoint
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: appStorage.outputs.tableEndpoint
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: appIdentity.properties.clientId
  }
  // DefaultAzureCredential in our code picks the UAMI from this for pipeline-service tokens.
  {
    name: 'AZURE_CLIENT_ID'
    value: appIdentity.properties.clientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD'
  }
  {
    name: 'PIPELINE_TRIGGERS'
    value: string(pipelineTriggers)
  }
  {
    name: 'PIPELINE_LEDGER_CONTAINER'
    value: ledgerContainerName
  }
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: appLocation
  // azd finds the deploy target of service "app" in azure.yaml through this tag.
  tags: union(allTags, {
    'azd-service-name': 'app'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${appIdentity.id}': {}
    }
  }
  properties: {
    // checkov:skip=CKV_AZURE_17: Client certificates would break Event Grid webhook delivery to the app.
    // checkov:skip=CKV_AZURE_212: Flex Consumption scales per function from zero; instance counts are not a site setting (always-ready instances would be billed while idle).
    // checkov:skip=CKV_AZURE_213: Health check pings an HTTP path on fixed instances; this app has no HTTP functions and Flex instances come and go per event.
    // checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState; FTP publishing is off through the ftp basicPublishingCredentialsPolicies resource below (allow: false by default).
    // checkov:skip=CKV_AZURE_222: Event Grid delivers to the function over its public endpoint (no VNet/private endpoint in this template); the app exposes no HTTP functions.
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientAffinityEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${appStorage.outputs.blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    // No siteConfig.ftpsState: Flex Consumption rejects it; the ftp basicPublishingCredentialsPolicies
    // below turns FTP publishing off instead.
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      // Flex Consumption: runtime, worker and package settings are NOT app settings here
      // (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, ...).
      // A redeployment replaces the whole list: add your own through additionalAppSettings.
      appSettings: concat(baseAppSettings, watchedConnectionSettings, additionalAppSettings)
    }
  }
  dependsOn: [
    // The host uses its storage and telemetry with the UAMI as soon as it starts.
    appStorageAccess
    monitoringAccess
  ]
}

// Basic-auth publishing (FTP and SCM user/password) off: deployments use Entra ID tokens.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: allowBasicPublishingCredentials
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: allowBasicPublishingCredentials
  }
}

// ---------------------------------------------------------------------------------------
// Watched storage account + Event Grid system topic (in the watched account's resource group)
// ---------------------------------------------------------------------------------------

module watched 'modules/watched-storage.bicep' = {
  name: take('watched-storage-${resourceToken}', 64)
  scope: resourceGroup(watchedSubscriptionId, watchedResourceGroup)
  params: {
    mode: watchedStorageMode
    accountName: watchedAccountName
    location: appLocation
    tags: externalTags
    containerNames: watchedContainers
    readerPrincipalId: appIdentity.properties.principalId
    systemTopicName: topicName
    reuseSystemTopic: reuseSystemTopic
    systemTopicResourceGroup: topicResourceGroup
    deploymentSuffix: resourceToken
  }
}

// The system topic dead-letters undeliverable events into the app's storage account with its own
// managed identity (deadLetterWithResourceIdentity): write access to that one container.
module deadLetterAccess 'modules/dead-letter-access.bicep' = {
  name: 'dead-letter-access'
  params: {
    accountName: appStorage.outputs.name
    containerName: deadLetterContainerName
    principalId: watched.outputs.systemTopicPrincipalId
  }
}

// ---------------------------------------------------------------------------------------
// Pipeline services (optional, each in its own resource group)
// ---------------------------------------------------------------------------------------

// Resource ID segments: /subscriptions/{2}/resourceGroups/{4}/providers/.../{name}. The
// fallbacks keep the (skipped) module scope valid when the ID is empty: ARM still evaluates it.
var amlSegments = split(amlWorkspaceResourceId, '/')
var amlSubscriptionId = empty(amlWorkspaceResourceId) ? subscription().subscriptionId : amlSegments[2]
var amlResourceGroup = empty(amlWorkspaceResourceId) ? resourceGroup().name : amlSegments[4]
var adfSegments = split(dataFactoryResourceId, '/')
var adfSubscriptionId = empty(dataFactoryResourceId) ? subscription().subscriptionId : adfSegments[2]
var adfResourceGroup = empty(dataFactoryResourceId) ? resourceGroup().name : adfSegments[4]

module amlAccess 'modules/aml-access.bicep' = if (!empty(amlWorkspaceResourceId)) {
  name: take('aml-access-${resourceToken}', 64)
  scope: resourceGroup(amlSubscriptionId, amlResourceGroup)
  params: {
    workspaceName: last(amlSegments)
    principalId: appIdentity.properties.principalId
  }
}

module adfAccess 'modules/adf-access.bicep' = if (!empty(dataFactoryResourceId)) {
  name: take('adf-access-${resourceToken}', 64)
  scope: resourceGroup(adfSubscriptionId, adfResourceGroup)
  params: {
    factoryName: last(adfSegments)
    principalId: appIdentity.properties.principalId
  }
}

// Synapse RBAC, Databricks and Fabric permissions are not Azure RBAC: scripts/post-up.sh assigns
// the Synapse roles and prints MANUAL_ACCESS_STEPS for the rest.

// ---------------------------------------------------------------------------------------
// Outputs (upper-case names become azd environment values; scripts/post-up.sh reads them)
// ---------------------------------------------------------------------------------------

output AZURE_LOCATION string = appLocation
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_RESOURCE_ID string = functionApp.id
output APP_IDENTITY_CLIENT_ID string = appIdentity.properties.clientId
output APP_IDENTITY_PRINCIPAL_ID string = appIdentity.properties.principalId
output APP_STORAGE_ACCOUNT_NAME string = appStorage.outputs.name
output APP_STORAGE_ACCOUNT_ID string = appStorage.outputs.id
output DEADLETTER_CONTAINER_NAME string = deadLetterContainerName
output LEDGER_CONTAINER_NAME string = ledgerContainerName
output APPLICATIONINSIGHTS_NAME string = appInsights.name
output WATCHED_STORAGE_ACCOUNT_NAME string = watchedAccountName
output WATCHED_STORAGE_RESOURCE_GROUP string = watchedResourceGroup
output WATCHED_STORAGE_SUBSCRIPTION_ID string = watchedSubscriptionId
output EVENTGRID_SYSTEM_TOPIC_NAME string = watched.outputs.systemTopicName
output EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP string = topicResourceGroup
output WATCHED_CONTAINERS array = watchedContainers
// [{ container, subjectEndsWith }]: the event subscriptions infra/eventgrid.bicep creates (step 2).
output EVENT_SUBSCRIPTIONS array = eventSubscriptions
output SYNAPSE_WORKSPACE_NAME string = synapseWorkspaceName
output SYNAPSE_USES_WORKSPACE_IDENTITY bool = synapseUsesWorkspaceIdentity
// Access this template cannot grant; scripts/post-up.sh prints each line.
output MANUAL_ACCESS_STEPS array = manualAccessSteps
