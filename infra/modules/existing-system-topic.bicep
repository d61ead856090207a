// Reuses a system topic that the watched account already has (Azure allows one per account). A
// deployment replaces the topic's identity and tags with what it declares, so this module reads
// both first and deploys the topic with them kept: user-assigned identities stay assigned (the
// system-assigned one is added for dead-lettering), existing tags stay and ours are added.
// Deployed into the topic's resource group, which may differ from the account's.

param name string

@description('Resource ID of the watched storage account, which must be the topic\'s source.')
param sourceId string

param tags object = {}

@description('Makes this module\'s nested deployment name unique per app.')
param deploymentSuffix string

resource current 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: name
}

var currentIdentity = current.?identity ?? {}
var keepsUserAssigned = contains(currentIdentity.?type ?? 'None', 'UserAssigned')

module systemTopic 'system-topic.bicep' = {
  name: take('system-topic-${deploymentSuffix}', 64)
  params: {
    name: name
    location: current.location
    sourceId: sourceId
    tags: union(current.?tags ?? {}, tags)
    identity: keepsUserAssigned ? {
      type: 'SystemAssigned, UserAssigned'
      userAssignedIdentities: currentIdentity.userAssignedIdentities
    } : {
      type: 'SystemAssigned'
    }
  }
}

output name string = systemTopic.outputs.name
output principalId string = systemTopic.outputs.principalId
