// The function app on a Flex Consumption plan (FC1), Python 3.11, running as the user-assigned managed
// identity of identity.bicep (made first, with its roles from roles.bicep, before this site exists), which
// reaches storage, Key Vault and Application Insights, as Azure-Samples/functions-quickstart-python-http-azd
// (infra/app/api.bicep) does.
param location string
@description('Tags of the plan and the site; the site alone also gets azd-service-name.')
param tags object
@description('azd service name (azure.yaml). Only the site carries the tag: azd refuses to deploy when two resources do ("expecting only \'1\' resource tagged with...", Azure/azure-dev).')
param serviceName string
param name string
param planName string
@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Client id of that identity: picks it for storage, Key Vault and telemetry.')
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param keyVaultUrl string
param defaultTimezone string
param tablePrefix string = ''
@description('Mail server for e-conomic export reports; empty: no e-mail. The password is the Key Vault secret smtp-password.')
param smtpHost string = ''
param smtpPort string = '587'
param smtpSecurity string = 'starttls'
param smtpUsername string = ''
param smtpFrom string = ''

@description('Origins allowed to call from a browser (the Logic Apps designer reads the swagger; main.bicep explains the default).')
param corsAllowedOrigins array = [
  '*'
]

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
  // checkov:skip=CKV_AZURE_57:CORS allows all origins by default (corsAllowedOrigins) because the Logic Apps designer reads the swagger from undocumented portal origins; no credentials, every call needs an API key
  // checkov:skip=CKV_AZURE_62:as CKV_AZURE_57: the '*' CORS origin is the corsAllowedOrigins default, narrowable per deployment
  // checkov:skip=CKV_AZURE_213:the platform health check is not available on Flex Consumption; GET /health serves external probes
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
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
      // The platform answers CORS (the app sends no CORS headers of its own; both would conflict).
      // API keys travel in the query or a header, never cookies: no credentials, which '*' forbids anyway.
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
      appSettings: [
        // Identity-based host storage: the host and the app (shared/adapters/storage.py) read these;
        // __clientId picks the user-assigned identity.
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        // Key Vault (shared/container.py) and DefaultAzureCredential pick the identity by this.
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        // Local auth is off on Application Insights: send telemetry with the app's Entra ID identity.
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        { name: 'KEY_VAULT_URL', value: keyVaultUrl }
        { name: 'DEFAULT_TIMEZONE', value: defaultTimezone }
        { name: 'TABLE_PREFIX', value: tablePrefix }
        { name: 'SMTP_HOST', value: smtpHost }
        { name: 'SMTP_PORT', value: smtpPort }
        { name: 'SMTP_SECURITY', value: smtpSecurity }
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
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
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
