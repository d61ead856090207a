// The function app identity's data roles on the app's own storage account, which the Functions
// host uses as AzureWebJobsStorage. Each role assignment lives in this module so that its name can
// be derived from the principal id, a parameter here: a new identity gets new assignments instead
// of colliding with the old ones (RoleAssignmentUpdateNotPermitted).

param accountName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// Storage Blob Data Owner: the host's blob leases and timer locks (azure-webjobs-hosts), the Flex
// deployment package it pulls at start, and the ledger container, which the app creates itself
// (creating a container needs more than Contributor's data actions on blobs).
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor: the host's diagnostic events table (AZFD0003 when it cannot write it).
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roles = [
  roleStorageBlobDataOwner
  roleStorageTableDataContributor
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource hostAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  name: guid(account.id, principalId, role)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
