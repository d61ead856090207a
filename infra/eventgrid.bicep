// Step 2 of 2: event subscriptions on the watched account's system topic, delivering to the
// deployed `blob_trigger` function.
//
// Deploy AFTER main.bicep and AFTER the function code is published: Event Grid validates an
// AzureFunction endpoint when the subscription is created, so the function must exist.
// Deploy into the SYSTEM TOPIC's resource group (output EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP).
// scripts/post-up.sh does this with the outputs of main.bicep.
//
// Per watched container, two subscriptions:
//   blobcreated-<container>  BlobCreated and BlobRenamed (the blobs that may fire a trigger),
//                            with the trigger's suffix as subjectEndsWith where main.bicep found one;
//   dirrenamed-<container>   DirectoryRenamed (hierarchical namespace only; one event per directory,
//                            its own subscription so that no suffix filter drops it).
targetScope = 'resourceGroup'

@description('System topic created or reused by main.bicep (output EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Resource ID of the function app (output FUNCTION_APP_RESOURCE_ID).')
param functionAppResourceId string

@description('Function that receives the events; it must use an eventGridTrigger binding.')
param functionName string = 'blob_trigger'

@description('[{ container, subjectEndsWith }], one entry per watched container (output EVENT_SUBSCRIPTIONS).')
param subscriptions array

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

// The data.api values that are never delivered: those whose event comes before the content, which
// arrives with a later event of the same blob (CreateFile, the empty file a Data Lake client creates
// before its FlushWithClose; SftpCreate, the empty blob before its SftpCommit). On hierarchical-namespace
// accounts that halves the events. Every other value is delivered, as the event path fires on every
// other value (shared/events.py, NEVER_FIRING_APIS; README, "How the event path behaves"): an allow-list
// here would silently drop a write API it did not name, and with polling_interval 0 nothing would run it.
var neverFiringApis = [
  'CreateFile'
  'SftpCreate'
]

var destination = {
  endpointType: 'AzureFunction'
  properties: {
    resourceId: '${functionAppResourceId}/functions/${functionName}'
    // One blob per invocation: each upload becomes exactly one pipeline submission.
    maxEventsPerBatch: 1
    preferredBatchSizeInKilobytes: 64
  }
}

var retryPolicy = {
  maxDeliveryAttempts: maxDeliveryAttempts
  eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
}

// Written with the system topic's own identity (granted Storage Blob Data Contributor on the
// dead-letter container by main.bicep): no storage keys involved.
var deadLetter = {
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

var apiFilter = {
  operatorType: 'StringNotIn'
  key: 'data.api'
  values: neverFiringApis
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource blobEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for s in subscriptions: {
  parent: systemTopic
  // Subscription names: 3-64 characters, letters, digits and hyphens (container names qualify).
  // The name is the one earlier versions used, so a redeployment updates it in place.
  name: take('blobcreated-${s.container}', 64)
  properties: {
    destination: destination
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
        'Microsoft.Storage.BlobRenamed'
      ]
      // The trailing slash stops container "uploads" from matching "uploads-archive".
      subjectBeginsWith: '/blobServices/default/containers/${s.container}/'
      // Case-insensitive, so Event Grid delivers a superset of what the (case-sensitive) trigger keeps.
      subjectEndsWith: s.subjectEndsWith
      isSubjectCaseSensitive: false
      advancedFilters: [
        apiFilter
      ]
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}]

resource directoryEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for s in subscriptions: {
  parent: systemTopic
  name: take('dirrenamed-${s.container}', 64)
  properties: {
    destination: destination
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.DirectoryRenamed'
      ]
      // Directory renames onto the watched folder or one of its parents matter (README, RenameDirectory).
      subjectBeginsWith: '/blobServices/default/containers/${s.container}/'
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}]

output blobSubscriptionNames array = [for (s, i) in subscriptions: blobEvents[i].name]
output directorySubscriptionNames array = [for (s, i) in subscriptions: directoryEvents[i].name]
