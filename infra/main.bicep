// Invoice Bridge on Azure: `azd up` provisions this, then deploys the function app into it.
// Everything authenticates with Microsoft Entra ID (managed identity); no key, password or connection
// secret is created, output or stored by this template. Role assignments: modules/roles.bicep.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource; must offer the Flex Consumption plan.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the user running azd (AZURE_PRINCIPAL_ID). When set, that user may manage API keys (table data) and put secrets into the vault. Leave empty to grant nothing to people.')
param principalId string = ''

// A role assignment must state the principal's real type, or ARM answers UnmatchedPrincipalType
// (Azure-Samples/azure-search-openai-demo-java PR #94). azd fills AZURE_PRINCIPAL_ID; whether azd itself
// also sets AZURE_PRINCIPAL_TYPE (Azure/azure-dev PR #5285) is UNVERIFIED, so main.parameters.json passes
// ${AZURE_PRINCIPAL_TYPE=User}: set it to ServicePrincipal for a pipeline deploy.
@description('Type of principalId: User (azd run by a person), ServicePrincipal (a pipeline) or Group.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('IANA time zone for date-times sent without an offset (app setting DEFAULT_TIMEZONE).')
param defaultTimezone string = 'Europe/Berlin'

@description('Optional prefix of the app\'s table names (app setting TABLE_PREFIX): letters and digits.')
param tablePrefix string = ''
@description('Mail server for e-conomic export reports (empty: no e-mail); the password goes into Key Vault as smtp-password')
param smtpHost string = ''
param smtpPort string = '587'
@allowed([
  'starttls'
  'ssl'
  'none'
])
param smtpSecurity string = 'starttls'
param smtpUsername string = ''
param smtpFrom string = ''

// ZRS exists only in a subset of regions (https://learn.microsoft.com/azure/storage/common/redundancy-regions-zrs),
// and Flex Consumption runs in some outside it (westus, northcentralus, ukwest...): Standard_ZRS there
// fails with RedundancyConfigurationNotAvailableInRegion. LRS exists everywhere; ZRS is required only with
// zone redundancy (azure-functions/storage-considerations.md), which the plan does not turn on.
@description('Storage redundancy (AZURE_STORAGE_SKU). Standard_ZRS only in regions that offer it: az storage account list-skus -l <region>.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

// A soft-deleted vault keeps its name for the retention period, and with purge protection it cannot be
// purged before that (https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview): after
// `azd down`, `azd up` with the same environment name would fail for 90 days. Off by default, so that
// `azd down --purge` frees the name; when on, change KEY_VAULT_NAME_SUFFIX to deploy afresh.
// A string, not a bool: main.parameters.json hands azd's ${VAR=default} over as JSON text, and whether
// text reaches a bool parameter converted is not documented for azd; 'true'/'false' works either way.
@description('Turn on Key Vault purge protection (KEY_VAULT_PURGE_PROTECTION, true/false); irreversible for that vault.')
@allowed([
  'true'
  'false'
])
param keyVaultPurgeProtection string = 'false'

@description('Appended to the vault name (KEY_VAULT_NAME_SUFFIX, letters and digits): a new vault after azd down when the old name is still held.')
@maxLength(8)
param keyVaultNameSuffix string = ''

// Logic Apps' HTTP + Swagger action reads the swagger from the designer in the browser, which needs CORS
// (https://learn.microsoft.com/azure/connectors/connectors-native-http-swagger). The designer's origins
// are not documented; Microsoft's guidance for functions read that way is all origins ('*',
// logic-apps/call-azure-functions-from-workflows.md). Narrow it, e.g. to https://portal.azure.com and
// https://ms.portal.azure.com, if you accept that undocumented origins may then fail.
@description('Origins allowed to call the app from a browser (the Logic Apps designer reads /ApiInvoice/swagger.json). ["*"]: all.')
param corsAllowedOrigins array = [
  '*'
]

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    skuName: storageSku
    deploymentContainerName: 'app-package-${resourceToken}'
    tablePrefix: tablePrefix
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}${keyVaultNameSuffix}'
    enablePurgeProtection: keyVaultPurgeProtection == 'true'
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'id-api-${resourceToken}'
  }
}

// Every role of the app's identity and the deploying user, before the site exists (see functionApp).
module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    serviceName: 'api'
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUrl: keyVault.outputs.url
    defaultTimezone: defaultTimezone
    tablePrefix: tablePrefix
    smtpHost: smtpHost
    smtpPort: smtpPort
    smtpSecurity: smtpSecurity
    smtpUsername: smtpUsername
    smtpFrom: smtpFrom
    corsAllowedOrigins: corsAllowedOrigins
  }
  // The site only once its identity holds its roles (above): the package upload right after provision
  // then finds the storage role in place.
  dependsOn: [
    roles
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URL string = functionApp.outputs.url
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.url
