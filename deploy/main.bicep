// FineTune Ops in a team's Azure subscription: `azd up` (azure.yaml, infra.path: deploy).
// It makes the resource group, the bot's managed identity and app registration (no secret),
// the host, the state, the logs, the Azure Bot with its Teams channel, and the bot's roles, least
// privilege. README "Deploy to Azure" lists the parameters, the cost and how to remove it.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group (rg-<name>).')
param environmentName string

@minLength(1)
@description('Region of the host, the storage and the logs.')
param location string

@minLength(2)
@maxLength(8)
@description('Short lowercase prefix of every resource name (letters and digits).')
param namePrefix string = 'ftbot'

@minLength(36)
@description('Comma-separated Entra object ids of the bot\'s admins (FTBOT_ADMINS); at least one.')
param admins string

@description('Comma-separated Entra object ids of the trainers (FTBOT_TRAINERS), or empty.')
param trainers string = ''

@description('Existing resource group of the lab\'s Azure OpenAI resource, or empty: the bot\'s own group.')
param openAiResourceGroup string = ''

@description('Existing Azure OpenAI account in that group, or empty: an admin creates one with `provision`.')
param openAiAccount string = ''

@description('Grant the subscription-scope rights (purge, new resource groups, Usages Reader, spend).')
param subscriptionRoles bool = true

@description('App Service plan size.')
param appServiceSku string = 'B1'

var tags = {
  'azd-env-name': environmentName
  app: 'finetune-ops'
}
var name = toLower(namePrefix)
var labGroup = empty(openAiResourceGroup) ? group.name : openAiResourceGroup

// Microsoft.Resources/resourceGroups@2024-03-01 (Azure/bicep-types-az generated/resources).
resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'identity.bicep' = {
  name: 'identity'
  scope: group
  params: {
    name: 'id-${name}-${uniqueString(subscription().id, environmentName)}'
    location: location
    tags: tags
  }
}

module registration 'app-registration.bicep' = {
  name: 'app-registration'
  params: {
    displayName: 'FineTune Ops (${environmentName})'
    uniqueName: 'finetune-ops-${uniqueString(subscription().id, environmentName)}'
    identityPrincipalId: identity.outputs.principalId
  }
}

module lab 'lab-access.bicep' = {
  name: 'lab-access'
  scope: resourceGroup(labGroup)
  dependsOn: [group] // the lab's group may be this deployment's own
  params: {
    principalId: identity.outputs.principalId
    openAiAccount: openAiAccount
  }
}

module subscriptionAccess 'subscription-access.bicep' = if (subscriptionRoles) {
  name: 'subscription-access'
  params: {
    principalId: identity.outputs.principalId
    onlyLabRoles: lab.outputs.onlyLabRoles
  }
}

module bot 'bot.bicep' = {
  name: 'bot'
  scope: group
  params: {
    name: name
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    appId: registration.outputs.appId
    admins: admins
    trainers: trainers
    labResourceGroup: labGroup
    openAiAccount: openAiAccount
    openAiEndpoint: lab.outputs.openAiEndpoint
    sku: appServiceSku
  }
}

// azd keeps outputs as environment values (`azd env get-values`): what `make package` and
// `ftbot doctor` need.
output AZURE_RESOURCE_GROUP string = group.name
output MicrosoftAppId string = registration.outputs.appId
output FTBOT_PUBLIC_HOST string = bot.outputs.host
output MESSAGING_ENDPOINT string = bot.outputs.messagingEndpoint
output FTBOT_BOT_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_URL string = bot.outputs.storageAccountUrl
output BOT_NAME string = bot.outputs.botName
