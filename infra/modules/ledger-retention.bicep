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
//
// Optionally (includeHistories) the content-version histories under <ledger container>/versions/ go too,
// retentionDays after their last write. Unlike `prune`, a rule cannot see whether a record still needs a
// history: one deleted while a failed or released record of its blob is kept makes a later metadata-only
// change of that blob count as new content, one run more (README, "Ledger retention").

param accountName string

param ledgerContainerName string

@description('Days after its last change that a final ledger record is deleted. At least 2: Event Grid retries an event for up to 24 hours, and a record deleted before the last retry would let that retry run the blob again.')
@minValue(2)
@maxValue(36500)
param retentionDays int

@description('Also delete failed records whose outcome is certain (the run does not exist); they are what an operator replays.')
param includeFailed bool = false

@description('Also delete content-version histories (versions/) retentionDays after their last write, whatever records remain: a metadata-only change of a blob whose history went counts as new content (one run more).')
param includeHistories bool = false

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

// Histories carry no index tags: the rule can tell them by their age only.
var historiesRule = {
  name: 'ledgerhistories'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: {
      blobTypes: [
        'blockBlob'
      ]
      prefixMatch: [
        '${ledgerContainerName}/versions/'
      ]
    }
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
      rules: concat([
        submittedRule
      ], includeFailed ? [
        certainFailedRule
      ] : [], includeHistories ? [
        historiesRule
      ] : [])
    }
  }
}
