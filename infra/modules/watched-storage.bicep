// Deployed into the watched account's resource group: the account itself (only when asked to
// create one), read access for the app identity to the watched containers, and the account's Event
// Grid system topic (in its own resource group, which may be another one).

@allowed([
  'existing'
  'new'
])
param mode string

param accountName string

@description('Region for a new account. The system topic follows the account\'s region in both modes.')
param location string

param tags object = {}

@description('The containers the active watch triggers listen on. With mode new they are created; with mode existing they must exist (the read roles are scoped to them).')
param containerNames array = []

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param readerPrincipalId string

param systemTopicName string

@description('true: the account already has this system topic; it is updated in place, keeping its identities and tags.')
param reuseSystemTopic bool

@description('Resource group of the system topic (the watched account\'s unless an existing topic lives elsewhere).')
param systemTopicResourceGroup string

@description('Makes nested deployment names unique per app, so two apps can watch one account.')
param deploymentSuffix string

var createNew = mode == 'new'

module newAccount 'storage-account.bicep' = if (createNew) {
  name: take('watched-storage-account-${deploymentSuffix}', 64)
  params: {
    name: accountName
    location: location
    tags: tags
    containerNames: containerNames
  }
}

// Works for both modes; everything that reads it waits for the module above.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

module readAccess 'watched-read-access.bicep' = {
  name: take('watched-read-access-${deploymentSuffix}', 64)
  params: {
    accountName: accountName
    containerNames: containerNames
    principalId: readerPrincipalId
  }
  dependsOn: [
    newAccount
  ]
}

module newTopic 'system-topic.bicep' = if (!reuseSystemTopic) {
  name: take('system-topic-${deploymentSuffix}', 64)
  scope: resourceGroup(systemTopicResourceGroup)
  params: {
    name: systemTopicName
    // Read at run time and handed to the module: not known when this deployment starts.
    location: account.location
    sourceId: account.id
    tags: tags
  }
  dependsOn: [
    newAccount
  ]
}

module reusedTopic 'existing-system-topic.bicep' = if (reuseSystemTopic) {
  name: take('existing-system-topic-${deploymentSuffix}', 64)
  scope: resourceGroup(systemTopicResourceGroup)
  params: {
    name: systemTopicName
    sourceId: account.id
    tags: tags
    deploymentSuffix: deploymentSuffix
  }
}

output accountId string = account.id
// The account's own endpoint (right for accounts in an Azure DNS zone too, whose host is not <name>.blob...).
output blobEndpoint string = account.properties.primaryEndpoints.blob
output systemTopicName string = systemTopicName
output systemTopicPrincipalId string = reuseSystemTopic ? reusedTopic.outputs.principalId : newTopic.outputs.principalId
