// The storage account of the Functions host (AzureWebJobsStorage, identity-based) and of the app:
// its tables, the export queue and its poison queue, and the Flex Consumption deployment container.
// Shared keys are off: every client authenticates with Microsoft Entra ID.
param location string
param tags object
param name string
param deploymentContainerName string
param tablePrefix string = ''
@description('Redundancy; main.bicep explains the default (LRS exists in every region, ZRS in a subset).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

// The app's tables (shared/container.TABLES); the app also creates missing ones on first use.
var appTables = [
  'ApiKeys'
  'Throttle'
  'Idempotency'
  'Work'
  'Billing'
  'Exports'
  'AccountingSync'
]
// Queues the app uses; the host moves a message that failed maxDequeueCount times to <queue>-poison.
var appQueues = [
  'economic-export'
  'economic-export-poison'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Flex Consumption without a virtual network has no fixed outbound addresses to allow; shared keys are off, so every call needs an Entra ID token and an RBAC role
  // checkov:skip=CKV_AZURE_59:as CKV_AZURE_35 (network reachable, not anonymously readable: allowBlobPublicAccess is false)
  // checkov:skip=CKV_AZURE_206:redundancy is the skuName parameter, LRS by default because ZRS and geo-redundant SKUs are not offered in every Flex Consumption region; the tables hold keys, throttle windows and work records that a geo copy would not make more available to the app
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Flex Consumption without a virtual network has no fixed outbound addresses to allow.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in appTables: {
    parent: tableService
    name: '${tablePrefix}${table}'
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in appQueues: {
    parent: queueService
    name: queue
  }
]

output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
