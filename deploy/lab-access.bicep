// What the bot may do in the lab's resource group, where `provision` creates (or adopts) the
// Azure OpenAI resource: manage Cognitive Services accounts, and assign or remove only the lab's
// four roles. Role ids: Azure built-in roles (AI + machine learning; Privileged), the same as
// skills/provisioning/roles.py and ../shared/specs/README.md.

@description('Object (principal) id of the bot\'s managed identity.')
param principalId string

@description('An existing Azure OpenAI account in this group, or empty.')
param openAiAccount string = ''

var cognitiveServicesContributor = '25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68'
var openAiContributor = 'a001fd3d-188f-4b5d-821b-7da978bf7442'
var roleBasedAccessControlAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'

// The lab's four roles (skills/provisioning/roles.py LAB_ROLES): the only ones the bot assigns.
var labRoles = [
  openAiContributor // Cognitive Services OpenAI Contributor
  '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User
  cognitiveServicesContributor // Cognitive Services Contributor
  'bba48692-92b0-4667-a9ad-c31c7b334ac2' // Cognitive Services Usages Reader
]

// Microsoft's "Constrain roles" condition (learn.microsoft.com/azure/role-based-access-control/
// delegate-role-assignments-examples#example-constrain-roles): a write may only create, and a
// delete may only remove, an assignment of one of these role definitions.
var onlyLabRoles = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${join(labRoles, ', ')}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${join(labRoles, ', ')}}))'

// Cognitive Services Contributor: create, adopt, deploy to and delete accounts; keys.
resource manage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, cognitiveServicesContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Role Based Access Control Administrator, limited by the condition to the lab's four roles:
// `roles` and `provision` (which gives the bot OpenAI Contributor on the account it makes).
resource assign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleBasedAccessControlAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleBasedAccessControlAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'FineTune Ops may assign and remove only the lab\'s four roles.'
    condition: onlyLabRoles
    conditionVersion: '2.0'
  }
}

// An existing account: the bot's data-plane rights on it (files, fine-tuning, chat).
resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = if (!empty(openAiAccount)) {
  name: openAiAccount
}

resource data 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(openAiAccount)) {
  name: guid(resourceGroup().id, openAiAccount, principalId, openAiContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output openAiEndpoint string = empty(openAiAccount) ? '' : account.properties.endpoint
output onlyLabRoles string = onlyLabRoles
