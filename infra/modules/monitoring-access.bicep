// Telemetry ingestion with Entra ID for the function app identity (the component has DisableLocalAuth).

param appInsightsName string

@description('Principal (object) ID of the function app\'s user-assigned identity.')
param principalId string

// Monitoring Metrics Publisher on the one Application Insights component.
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
