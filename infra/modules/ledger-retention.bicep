// Optional retention for the ledger: a lifecycle management rule on the app's storage account that
// deletes ledger records under <ledger container>/runs/ once they are older than retentionDays, and
// only records in a final state. Deployed by main.bicep only when ledgerRetentionDays > 0.
//
// The rule is the one `python -m shared prune` applies (README, "The ledger"): `submitted` records go;
// `failed` ones only when asked (includeFailed) and never one whose outcome is uncertain (its run may
// exist); a `claimed` or `released` record never goes (a submission may be under way, or is due again),
// and nothing younger than Event Grid's 24-hour retry window plus a day of margin. Each record carries
// the blob index tags `state` and `uncertain`, which is what the rules match (blobIndexMatch tests
// equality only, and all its conditions must hold).

param accountName string

param ledgerContainerName string

@description('Days after its last change that a final ledger record is deleted. At least 2: Event Grid retries an event for up to 24 hours, and a record deleted before the last retry would let that retry run the blob again.')
@minValue(2)
@maxValue(36500)
param retentionDays int

@description('Also delete failed records whose outcome is certain (the run does not exist); they are what an operator replays.')
param includeFailed bool = false

var filtersBase = {
  blobTypes: [
    'blockBlob'
  ]
  prefixMatch: [
    '${ledgerContainerName}/runs/'
  ]
}

var deleteAfterRetention = {
  baseBlob: {
    delete: {
      daysAfterModificationGreaterThan: retentionDays
    }
  }
}

// Rule names: alphanumeric only.
var submittedRule = {
  name: 'ledgersubmitted'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: union(filtersBase, {
      blobIndexMatch: [
        {
          name: 'state'
          op: '=='
          value: 'submitted'
        }
      ]
    })
    actions: deleteAfterRetention
  }
}

var certainFailedRule = {
  name: 'ledgerfailedcertain'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: union(filtersBase, {
      blobIndexMatch: [
        {
          name: 'state'
          op: '=='
          value: 'failed'
        }
        {
          name: 'uncertain'
          op: '=='
          value: 'false'
        }
      ]
    })
    actions: deleteAfterRetention
  }
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

// An account has one lifecycle policy, named default; this template owns the app account's.
resource ledgerRetention 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: includeFailed ? [
        submittedRule
        certainFailedRule
      ] : [
        submittedRule
      ]
    }
  }
}
