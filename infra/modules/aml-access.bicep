// Lets the function app's identity submit runs in one existing Azure ML workspace, for every AML
// kind: published_pipeline, pipeline_endpoint, batch_endpoint and aml_pipeline_job (the ARM
// PUT .../jobs/{name}). Deployed into the workspace's resource group.

param workspaceName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// AzureML Data Scientist: create and read jobs, pipeline runs and endpoint jobs in the workspace,
// without permission to create compute or change the workspace itself. It is the narrowest built-in
// role that includes Microsoft.MachineLearningServices/workspaces/jobs/write.
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
