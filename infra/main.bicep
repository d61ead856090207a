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

@description('Region for the app and its resources. Must support Flex Consumption.')
param location string = resourceGroup().location

@description('Extra tags for every resource created here.')
param tags object = {}

@description('Function app name. Empty: func-<unique token>.')
param functionAppName string = ''

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound of instances the Flex plan may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Flex instance.')
@allowed([
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

@description('Resource group of the watched storage account (may differ from this one).')
param watchedStorageResourceGroup string = resourceGroup().name

@description('Subscription of the watched storage account.')
param watchedStorageSubscriptionId string = subscription().subscriptionId

@description('Prefix of the identity-based connection settings for the watched account. Triggers refer to it in watch.connection.')
param watchedConnectionName string = 'WATCHED_STORAGE'

@description('Event Grid system topic for the watched account. Azure allows one system topic per source: if the account already has one, put its name here (it is updated in place to get a managed identity).')
param systemTopicName string = ''

@description('Trigger definitions (array of trigger objects). Stored as JSON in the PIPELINE_TRIGGERS app setting.')
param pipelineTriggers array

@description('Resource ID of an existing Azure ML workspace the app submits to. Empty: no AML role assignment.')
param amlWorkspaceResourceId string = ''

@description('Resource ID of an existing Data Factory the app starts pipelines in. Empty: no ADF role assignment.')
param dataFactoryResourceId string = ''

@description('Blob container in the app\'s storage account that receives undeliverable events.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Allow FTP/SCM basic-auth publishing credentials. Keep false: az/func/azd publish with Entra ID tokens.')
param allowBasicPublishingCredentials bool = false

@description('Additional app settings as [{ name: ..., value: ... }]. No secrets: use Key Vault references for those.')
param additionalAppSettings array = []

// ---------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
var appName = !empty(functionAppName) ? functionAppName : 'func-${resourceToken}'
// Flex Consumption pulls the deployment package from this container.
var deploymentContainerName = 'app-package-${take(toLower(appName), 32)}-${take(resourceToken, 7)}'
var appStorageName = 'st${resourceToken}'
var watchedAccountName = !empty(watchedStorageAccountName) ? watchedStorageAccountName : 'stw${resourceToken}'
var topicName = !empty(systemTopicName) ? systemTopicName : 'evgt-${watchedAccountName}'

// Containers that active watch triggers listen on; one event subscription per container (step 2).
var watchTriggers = filter(pipelineTriggers, t => contains(t, 'watch') && toLower(t.?status ?? 'Active') == 'active')
var watchedContainersWithDuplicates = [for t in watchTriggers: t.watch.container]
var watchedContainers = union(watchedContainersWithDuplicates, [])

// Built-in role definition IDs (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var roleStorageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var roleStorageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// ---------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${appName}'
  location: location
  tags: allTags
}

// ---------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: location
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
  location: location
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
// The app's own storage: host state (blobs, queues, tables), deployment package, dead letters
// ---------------------------------------------------------------------------------------

module appStorage 'modules/storage-account.bicep' = {
  name: 'app-storage'
  params: {
    name: appStorageName
    location: location
    tags: allTags
    skuName: appStorageSku
    containerNames: [
      deploymentContainerName
      deadLetterContainerName
    ]
  }
}

// Symbolic reference for role-assignment scopes; the module above creates the account.
resource appStorageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: appStorageName
}

// ---------------------------------------------------------------------------------------
// Flex Consumption plan and function app
// ---------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${resourceToken}'
  location: location
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
  // Host storage through the managed identity, one URI per service.
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: appStorage.outputs.blobEndpoint
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: appStorage.outputs.queueEndpoint
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
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
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
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
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
    appStorageBlobOwner
    appStorageQueueContributor
    appStorageTableContributor
    appInsightsPublisher
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
// Role assignments for the app identity on this resource group's resources
// ---------------------------------------------------------------------------------------

// Functions host: blob leases, timer locks, deployment package (Owner is what the host
// documents for AzureWebJobsStorage blob access; it is a data-plane role on this account only).
resource appStorageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appStorageAccount.id, appIdentity.id, roleStorageBlobDataOwner)
  scope: appStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataOwner)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    appStorage
  ]
}

resource appStorageQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appStorageAccount.id, appIdentity.id, roleStorageQueueDataContributor)
  scope: appStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageQueueDataContributor)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    appStorage
  ]
}

resource appStorageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appStorageAccount.id, appIdentity.id, roleStorageTableDataContributor)
  scope: appStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageTableDataContributor)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    appStorage
  ]
}

// Entra ID-authenticated telemetry ingestion (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appIdentity.id, roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------
// Watched storage account + Event Grid system topic (in the watched account's resource group)
// ---------------------------------------------------------------------------------------

module watched 'modules/watched-storage.bicep' = {
  name: 'watched-storage'
  scope: resourceGroup(watchedStorageSubscriptionId, watchedStorageResourceGroup)
  params: {
    mode: watchedStorageMode
    accountName: watchedAccountName
    location: location
    tags: allTags
    containerNames: watchedContainers
    readerPrincipalId: appIdentity.properties.principalId
    systemTopicName: topicName
  }
}

// The system topic dead-letters undeliverable events into the app's storage account with
// its own managed identity (deadLetterWithResourceIdentity), so it needs write access there.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appStorageAccount.id, topicName, roleStorageBlobDataContributor)
  scope: appStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataContributor)
    principalId: watched.outputs.systemTopicPrincipalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    appStorage
  ]
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
  name: 'aml-access'
  scope: resourceGroup(amlSubscriptionId, amlResourceGroup)
  params: {
    workspaceName: last(amlSegments)
    principalId: appIdentity.properties.principalId
  }
}

module adfAccess 'modules/adf-access.bicep' = if (!empty(dataFactoryResourceId)) {
  name: 'adf-access'
  scope: resourceGroup(adfSubscriptionId, adfResourceGroup)
  params: {
    factoryName: last(adfSegments)
    principalId: appIdentity.properties.principalId
  }
}

// ---------------------------------------------------------------------------------------
// Outputs (upper-case names become azd environment values; scripts/post-up.sh reads them)
// ---------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_RESOURCE_ID string = functionApp.id
output APP_IDENTITY_CLIENT_ID string = appIdentity.properties.clientId
output APP_IDENTITY_PRINCIPAL_ID string = appIdentity.properties.principalId
output APP_STORAGE_ACCOUNT_NAME string = appStorage.outputs.name
output APP_STORAGE_ACCOUNT_ID string = appStorage.outputs.id
output DEADLETTER_CONTAINER_NAME string = deadLetterContainerName
output APPLICATIONINSIGHTS_NAME string = appInsights.name
output WATCHED_STORAGE_ACCOUNT_NAME string = watchedAccountName
output WATCHED_STORAGE_RESOURCE_GROUP string = watchedStorageResourceGroup
output WATCHED_STORAGE_SUBSCRIPTION_ID string = watchedStorageSubscriptionId
output EVENTGRID_SYSTEM_TOPIC_NAME string = watched.outputs.systemTopicName
output WATCHED_CONTAINERS array = watchedContainers
