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

@description('IANA time zone for date-times sent without an offset (app setting DEFAULT_TIMEZONE).')
param defaultTimezone string = 'Europe/Berlin'

@description('Optional prefix of the app\'s table names (app setting TABLE_PREFIX): letters and digits.')
param tablePrefix string = ''
@description('Mail server for e-conomic export reports (empty: no e-mail); the password goes into Key Vault as smtp-password')
param smtpHost string = ''
param smtpPort string = '587'
param smtpUsername string = ''
param smtpFrom string = ''

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
    name: 'kv-${resourceToken}'
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUrl: keyVault.outputs.url
    defaultTimezone: defaultTimezone
    tablePrefix: tablePrefix
    smtpHost: smtpHost
    smtpPort: smtpPort
    smtpUsername: smtpUsername
    smtpFrom: smtpFrom
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    appPrincipalId: functionApp.outputs.principalId
    userPrincipalId: principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
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
