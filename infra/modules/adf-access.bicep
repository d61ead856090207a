// Lets the function app's identity start and look up pipeline runs in one existing Data Factory,
// and nothing else. Deployed into the factory's resource group.
//
// No built-in role is that narrow: Data Factory Contributor can also edit linked services (and the
// credentials in them) and delete the factory. So this module defines a custom role with exactly the
// operations the bridge calls (README, "What each role is for"), and assigns it on the factory.
// Creating a role definition needs Microsoft.Authorization/roleDefinitions/write (Owner or User
// Access Administrator on the resource group), which Role Based Access Control Administrator lacks.

param factoryName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// Operation names from the Microsoft.DataFactory resource provider operations list.
var runStarterActions = [
  // POST .../pipelines/{pipeline}/createRun
  'Microsoft.DataFactory/factories/pipelines/createrun/action'
  // GET .../pipelineruns/{runId} (python -m shared pipeline-status)
  'Microsoft.DataFactory/factories/pipelineruns/read'
  // POST .../queryPipelineRuns, and reading its result: the run-key lookup after an uncertain answer
  'Microsoft.DataFactory/factories/querypipelineruns/action'
  'Microsoft.DataFactory/factories/querypipelineruns/read'
]

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

// One definition per resource group (its name and roleName are derived from the group's id, and role
// names must be unique in the tenant); every factory of the group can be assigned it.
resource runStarter 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'pipeline-trigger-bridge-adf-run-starter')
  properties: {
    roleName: 'Pipeline trigger bridge ADF run starter (${uniqueString(resourceGroup().id)})'
    description: 'Start Data Factory pipeline runs and read or query their status. No authoring, no linked services, no delete.'
    type: 'CustomRole'
    permissions: [
      {
        actions: runStarterActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource runStarterAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(factory.id, principalId, runStarter.name)
  scope: factory
  properties: {
    // The definition's subscription-level id: a role assignment does not take the resource-group form.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', runStarter.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    runStarter
  ]
}
