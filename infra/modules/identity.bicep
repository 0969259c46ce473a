// The app's user-assigned managed identity, created before the function app so that its role
// assignments (roles.bicep) exist, and have had the provision to propagate, before azd uploads the
// package: a system identity is born with the site, moments before the upload, which can 403
// (Azure/azure-functions-core-tools#4346). Azure-Samples/functions-quickstart-python-http-azd does the same.
param location string
param tags object
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
