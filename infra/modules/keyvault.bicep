// Key Vault for the app's secrets, authorised with Azure RBAC only (no access policies).
// Secrets are put in by an operator (docs/deploy.md, "Deploy to Azure"); this template creates none.
param location string
param tags object
param name string
@description('Purge protection: a deleted vault (and its name) then stays for the whole retention period. main.bicep explains the default.')
param enablePurgeProtection bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_110:purge protection is the enablePurgeProtection parameter, off by default so that azd down --purge frees the vault name (infra/README.md); soft delete stays on
  // checkov:skip=CKV_AZURE_42:as CKV_AZURE_110: soft delete is always on (enableSoftDelete true, 90 days); only purge protection is a parameter
  // checkov:skip=CKV_AZURE_109:Flex Consumption without a virtual network has no fixed outbound addresses to allow; every call needs an Entra ID token and an RBAC role
  // checkov:skip=CKV_AZURE_189:as CKV_AZURE_109: the app reaches the vault over its public endpoint; private endpoints need the VNet option (infra/README.md)
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // "Enabling this functionality is irreversible - that is, the property does not accept false as its
    // value" (KeyVaultProperties.EnablePurgeProtection, https://learn.microsoft.com/dotnet/api/
    // azure.resourcemanager.keyvault.models.keyvaultproperties.enablepurgeprotection): off means null.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Flex Consumption without a virtual network has no fixed outbound addresses to allow.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
output url string = vault.properties.vaultUri
