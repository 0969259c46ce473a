// The function app on a Flex Consumption plan (FC1), Python 3.11, with a system-assigned managed
// identity that reaches storage, Key Vault and Application Insights; its roles are in roles.bicep.
param location string
param tags object
param name string
param planName string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param keyVaultUrl string
param defaultTimezone string
param tablePrefix string = ''
@description('Mail server for e-conomic export reports; empty: no e-mail. The password is the Key Vault secret smtp-password.')
param smtpHost string = ''
param smtpPort string = '587'
param smtpUsername string = ''
param smtpFrom string = ''

@description('Upper bound on instances the platform scales out to.')
param maximumInstanceCount int = 40

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:zone redundancy on Flex Consumption is offered only in some regions; enabling it unconditionally would fail azd up elsewhere
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:a public API by design: Power Platform connectors and Logic Apps call it over the internet, authenticated per call with an API key
  // checkov:skip=CKV_AZURE_17:callers (Power Platform connector, Logic Apps HTTP action) authenticate with API keys and cannot present client certificates
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero per demand; always-ready instances are a cost choice, not a safety one
  // checkov:skip=CKV_AZURE_213:the platform health check is not available on Flex Consumption; GET /health serves external probes
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Identity-based host storage: the host and the app (shared/adapters/storage.py) read these.
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        // Local auth is off on Application Insights: send telemetry with the app's Entra ID identity.
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        { name: 'KEY_VAULT_URL', value: keyVaultUrl }
        { name: 'DEFAULT_TIMEZONE', value: defaultTimezone }
        { name: 'TABLE_PREFIX', value: tablePrefix }
        { name: 'SMTP_HOST', value: smtpHost }
        { name: 'SMTP_PORT', value: smtpPort }
        { name: 'SMTP_USERNAME', value: smtpUsername }
        { name: 'SMTP_FROM', value: smtpFrom }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No publishing with user names and passwords: azd deploys with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
output principalId string = site.identity.principalId
