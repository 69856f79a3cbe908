// What needs the subscription, in a module main.bicep leaves out with subscriptionRoles=false
// (then `purge`, `provision group=<new group>`, the Usages Reader step of `roles` and `spend` are
// off, and `ftbot doctor` says so): managing Cognitive Services accounts in any group (purge of
// soft-deleted accounts is a subscription action), creating resource groups, assigning the lab's
// four roles at the subscription (Usages Reader lives there), and reading costs.
// Role ids: Azure built-in roles (AI + machine learning; Privileged; Management and governance).
targetScope = 'subscription'

@description('Object (principal) id of the bot\'s managed identity.')
param principalId string

@description('The condition that limits role assignment to the lab\'s four roles (lab-access.bicep).')
param onlyLabRoles string

var cognitiveServicesContributor = '25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68'
var roleBasedAccessControlAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var costManagementReader = '72fafb9e-0641-4937-9268-a91bfd8191a3'

// No built-in role creates resource groups without also managing everything in them
// (Contributor): a custom role with just that.
resource groupCreator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'finetune-ops-resource-groups')
  properties: {
    roleName: 'FineTune Ops resource group creator'
    description: 'Read and create resource groups (FineTune Ops provision group=...).'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/subscriptions/resourceGroups/write'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

var assignments = [
  {
    role: cognitiveServicesContributor // purge, provision in any group
    definition: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesContributor)
    condition: ''
  }
  {
    role: roleBasedAccessControlAdministrator // Usages Reader at the subscription; only the four
    definition: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleBasedAccessControlAdministrator)
    condition: onlyLabRoles
  }
  {
    role: costManagementReader // spend
    definition: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', costManagementReader)
    condition: ''
  }
  {
    role: 'finetune-ops-resource-groups'
    definition: groupCreator.id
    condition: ''
  }
]

resource granted 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for item in assignments: {
    name: guid(subscription().id, principalId, item.role)
    properties: {
      roleDefinitionId: item.definition
      principalId: principalId
      principalType: 'ServicePrincipal'
      condition: empty(item.condition) ? null : item.condition
      conditionVersion: empty(item.condition) ? null : '2.0'
    }
  }
]
