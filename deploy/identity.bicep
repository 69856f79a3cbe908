// The bot's user-assigned managed identity: every Azure call the bot makes (Azure OpenAI, Resource
// Manager, Blob Storage) signs in as it (DefaultAzureCredential with AZURE_CLIENT_ID), and its
// token is the credential of the bot's app registration (app-registration.bicep), so no secret
// exists anywhere.
// Resource shape: Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31
// (Azure/bicep-types-az generated/msi/microsoft.managedidentity/2023-01-31/samples.md).

@description('The identity\'s name.')
param name string

@description('Where it lives.')
param location string

param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
