// Optional retention for the ledger: a lifecycle management rule on the app's storage account that
// deletes ledger records under <ledger container>/runs/ once they are older than retentionDays, and
// only records in a final state. Deployed by main.bicep only when ledgerRetentionDays > 0.
//
// The rule is the one `python -m shared prune` applies (README, "The ledger"): never a `claimed` or
// `released` record (a submission may be under way or due again), never anything younger than Event
// Grid's 24-hour retry window plus a day of margin. Each record carries its state as the blob index
// tag `state`, which is what the rules filter on.

param accountName string

param ledgerContainerName string

@description('Days after its last change that a submitted or failed ledger record is deleted. At least 2: Event Grid retries an event for up to 24 hours, and a record deleted before the last retry would let that retry run the blob again.')
@minValue(2)
@maxValue(36500)
param retentionDays int

// The final states; claimed and released records are never deleted by the policy.
var prunableStates = [
  'submitted'
  'failed'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

// An account has one lifecycle policy, named default; this template owns the app account's.
resource ledgerRetention 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [for state in prunableStates: {
        // Rule names: alphanumeric only.
        name: 'ledger${state}'
        enabled: true
        type: 'Lifecycle'
        definition: {
          filters: {
            blobTypes: [
              'blockBlob'
            ]
            prefixMatch: [
              '${ledgerContainerName}/runs/'
            ]
            blobIndexMatch: [
              {
                name: 'state'
                op: '=='
                value: state
              }
            ]
          }
          actions: {
            baseBlob: {
              delete: {
                daysAfterModificationGreaterThan: retentionDays
              }
            }
          }
        }
      }]
    }
  }
}
