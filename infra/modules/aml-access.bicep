// Lets the function app's identity submit pipeline runs / endpoint jobs in one existing
// Azure ML workspace. Deployed into the workspace's resource group.

param workspaceName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// AzureML Data Scientist: run experiments, pipelines and endpoint jobs in the workspace,
// without permission to create compute or change the workspace itself.
var roleAzureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource dataScientist 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, roleAzureMLDataScientist)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleAzureMLDataScientist)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
