// Step 2 of 2: BlobCreated event subscriptions on the watched account's system topic,
// delivering to the deployed `blob_trigger` function.
//
// Deploy AFTER main.bicep and AFTER the function code is published: Event Grid validates an
// AzureFunction endpoint when the subscription is created, so the function must exist.
// Deploy into the WATCHED account's resource group (where main.bicep put the system topic).
// scripts/post-up.sh does this with the outputs of main.bicep.
targetScope = 'resourceGroup'

@description('System topic created by main.bicep (output EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Resource ID of the function app (output FUNCTION_APP_RESOURCE_ID).')
param functionAppResourceId string

@description('Function that receives the events; it must use an eventGridTrigger binding.')
param functionName string = 'blob_trigger'

@description('Watched containers, one subscription each (output WATCHED_CONTAINERS).')
param containers array

@description('Resource ID of the app\'s storage account, which holds dead-lettered events (output APP_STORAGE_ACCOUNT_ID).')
param deadLetterStorageAccountId string

@description('Dead-letter container in that account (output DEADLETTER_CONTAINER_NAME).')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying an event before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for container in containers: {
  parent: systemTopic
  // Subscription names: 3-64 characters, letters, digits and hyphens (container names qualify).
  name: take('blobcreated-${container}', 64)
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppResourceId}/functions/${functionName}'
        // One blob per invocation: each upload becomes exactly one pipeline submission.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      // The trailing slash stops container "uploads" from matching "uploads-archive".
      subjectBeginsWith: '/blobServices/default/containers/${container}/'
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // Written with the system topic's own identity (granted Storage Blob Data Contributor
    // on the app's storage account by main.bicep): no storage keys involved.
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}]

output subscriptionNames array = [for (container, i) in containers: blobCreated[i].name]
