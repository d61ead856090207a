// Read access for the function app identity to each watched container (not the whole account):
// the event path reads a blob's properties, the sweep lists the watched folder. Deployed into the
// watched account's resource group.

param accountName string

@description('The containers the active watch triggers listen on.')
param containerNames array

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// Storage Blob Data Reader: read and list blobs, no write, no delete.
var roleStorageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for containerName in containerNames: {
  name: '${accountName}/default/${containerName}'
}]

resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (containerName, i) in containerNames: {
  name: guid(containers[i].id, principalId, roleStorageBlobDataReader)
  scope: containers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
