// Log Analytics workspace and a workspace-based Application Insights that accepts telemetry only
// with Microsoft Entra ID (local auth off): the connection string alone cannot write to it.
param location string
param tags object
param workspaceName string
param appInsightsName string

@description('Days logs are kept.')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    features: { disableLocalAuth: true }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

output appInsightsName string = appInsights.name
// An identifier plus the ingestion endpoint, not a credential: with local auth off, writing needs an
// Entra ID token of an identity holding Monitoring Metrics Publisher on this resource.
output connectionString string = appInsights.properties.ConnectionString
