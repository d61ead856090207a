// The Event Grid system topic of the watched storage account. Its location, identity and tags come
// in as parameters so that the caller can pass values read at run time (the account's region, an
// existing topic's identities and tags): a resource's location must be known when its deployment
// starts, and a module parameter is.

param name string

@description('The watched account\'s region: a storage account\'s system topic lives in the account\'s region.')
param location string

@description('Resource ID of the watched storage account.')
param sourceId string

param tags object = {}

@description('The topic\'s identity. Always includes SystemAssigned, which writes dead-lettered events.')
param identity object = {
  type: 'SystemAssigned'
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: identity
  properties: {
    source: sourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
