// Write access for the Event Grid system topic's identity to the one container that receives
// dead-lettered events (deadLetterWithResourceIdentity). Scoped to that container: the app's
// storage account also holds the deployment package, which this identity must not be able to replace.

param accountName string

param containerName string

@description('Principal (object) ID of the system topic\'s system-assigned identity. It changes when the topic is recreated, and so does the assignment\'s name.')
param principalId string

// Storage Blob Data Contributor is the role Event Grid documents for dead-lettering with a managed identity.
var roleStorageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${accountName}/default/${containerName}'
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, principalId, roleStorageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
