// Deployed into the watched account's resource group: the account itself (only when asked to
// create one), read access for the app identity, and the Event Grid system topic.
// System topics for a storage account live in that account's resource group and region.

@allowed([
  'existing'
  'new'
])
param mode string

param accountName string

@description('Region for a new account. The system topic always follows the account\'s region.')
param location string

param tags object = {}

@description('Containers to create when mode is new (existing accounts are left untouched).')
param containerNames array = []

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param readerPrincipalId string

param systemTopicName string

var createNew = mode == 'new'
var roleStorageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

module newAccount 'storage-account.bicep' = if (createNew) {
  name: 'watched-storage-account'
  params: {
    name: accountName
    location: location
    tags: tags
    containerNames: containerNames
  }
}

// Works for both modes; for a new account every user below waits for the module.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

// The app only reads uploaded blobs; it never writes to the watched account.
resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, readerPrincipalId, roleStorageBlobDataReader)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataReader)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    newAccount
  ]
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: createNew ? location : account.location
  tags: tags
  // Used to write dead-lettered events into the app's storage account without keys.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
  dependsOn: [
    newAccount
  ]
}

output accountId string = account.id
output blobEndpoint string = 'https://${accountName}.blob.${environment().suffixes.storage}/'
output systemTopicName string = systemTopic.name
output systemTopicPrincipalId string = systemTopic.identity.principalId
