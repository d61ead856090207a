// Lets the function app's identity start pipeline runs in one existing Data Factory.
// Deployed into the factory's resource group, scoped to the factory only.

param factoryName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// Data Factory Contributor is the narrowest built-in role that includes
// Microsoft.DataFactory/factories/pipelines/createrun/action.
var roleDataFactoryContributor = '673868aa-7521-48a0-acc6-0f60742d39f5'

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource factoryContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(factory.id, principalId, roleDataFactoryContributor)
  scope: factory
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDataFactoryContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
