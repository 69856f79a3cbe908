// The bot itself, in its resource group: the host (App Service on Linux, Python), the state
// (a storage account reached with Entra ID only), the logs (Log Analytics and Application
// Insights) and the Azure Bot with its Microsoft Teams channel.
//
// Resource shapes and api-versions: Azure/bicep-types-az (generated/<provider>/<version>) and the
// Teams samples (OfficeDev/Microsoft-Teams-Samples .../infra/botRegistration/azurebot.bicep for
// the bot and its MsTeamsChannel). App settings the bot reads are infra/settings.py's;
// tests/test_deploy_bicep.py checks that the ones below satisfy it in production.

@description('Base of every name (lowercase letters and digits).')
param name string

@description('Region of the host, the storage and the logs (the Azure Bot is global).')
param location string

param tags object = {}

@description('Resource id of the bot\'s user-assigned managed identity.')
param identityId string

@description('Client id of that identity (DefaultAzureCredential and the app\'s federated credential).')
param identityClientId string

@description('Object (principal) id of that identity: the principal `provision` and `roles bot` name.')
param identityPrincipalId string

@description('Application (client) id of the bot\'s single-tenant app registration.')
param appId string

@description('Comma-separated Entra object ids of the bot\'s admins (FTBOT_ADMINS).')
param admins string

@description('Comma-separated Entra object ids of the trainers (FTBOT_TRAINERS), or empty.')
param trainers string

@description('Resource group of the lab\'s Azure OpenAI resource (AZURE_RESOURCE_GROUP).')
param labResourceGroup string

@description('Existing Azure OpenAI account in that group, or empty (`provision` makes one).')
param openAiAccount string

@description('That account\'s endpoint, or empty.')
param openAiEndpoint string

@description('App Service plan size: B1 is the smallest with Always On, which the background work (job watch, deployments, leases) needs.')
param sku string = 'B1'

var token = uniqueString(resourceGroup().id, name)
var siteName = '${name}-${token}'
var stateContainer = 'ftbot-state'

// -- state: Blob Storage, Entra ID only --------------------------------------------------------
// Microsoft.Storage/storageAccounts@2023-05-01 (Azure/bicep-types-az generated/storage).
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: reached from App Service without a virtual network at this size; shared keys are off, so every request needs the bot's Entra ID token (README: hardening)
  // checkov:skip=CKV_AZURE_59: the same: public endpoint, Entra ID only, no anonymous blob access
  // checkov:skip=CKV_AZURE_206: a few MB of records at the smallest price; zone-redundant storage is not offered in every region (set sku Standard_ZRS where it is)
  // checkov:skip=CKV_AZURE_43: the name is computed (take of prefix and uniqueString, lowercase, at most 24), which checkov cannot evaluate
  name: take('st${name}${token}', 24)
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false // no keys, no SAS: the bot signs in with its managed identity
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow' // App Service B1 has no private endpoint; Entra ID is the gate
      bypass: 'AzureServices'
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// The records, the validated files and the lease blobs (infra/settings.py: FTBOT_STATE_CONTAINER,
// <it>-datasets, <it>-leases).
resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for suffix in ['', '-datasets', '-leases']: {
    parent: blobs
    name: '${stateContainer}${suffix}'
    properties: {
      publicAccess: 'None'
    }
  }
]

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe, Azure built-in roles,
// Storage): read, write and lease the state blobs, on this account only.
resource stateRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// -- logs ----------------------------------------------------------------------------------------
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// Workspace-based Application Insights; App Service's Python autoinstrumentation sends the root
// logger's records there (MicrosoftDocs/azure-docs articles/azure-monitor/app/azure-web-apps-python.md:
// APPLICATIONINSIGHTS_CONNECTION_STRING and ApplicationInsightsAgent_EXTENSION_VERSION=~3).
resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

// -- the host: App Service on Linux, Python ----------------------------------------------------
// Microsoft.Web/serverfarms and sites@2023-12-01 (Azure/bicep-types-az generated/web).
resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs Premium v3 with three instances; this is the smallest size (scale-out works: README "Several instances")
  name: 'plan-${name}-${token}'
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: sku
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222: the Azure Bot Service reaches /api/messages over the internet; the bot checks every request's Bot Framework token (bot/adapter.py)
  // checkov:skip=CKV_AZURE_17: the Bot Connector presents no client certificate; requests are authenticated by their Bot Framework token
  // checkov:skip=CKV_AZURE_212: one instance at the smallest size; raise the plan's capacity for failover (the state is shared, README "Several instances")
  // checkov:skip=CKV_AZURE_13: App Service Authentication would refuse the Bot Connector, whose token the bot itself validates
  // checkov:skip=CKV_AZURE_88: nothing on the host's disk must outlive it: the state is in Blob Storage
  name: siteName
  location: location
  tags: union(tags, { 'azd-service-name': 'bot' }) // azure.yaml's service deploys here
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false // any instance serves any activity: the state is shared
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: 'python -m cli run'
      alwaysOn: true // background work runs between messages
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
    }
  }
}

resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false // azd deploys with an Entra ID token
  }
}

// The bot's settings (infra/settings.py; README "Deploy to Azure"). A resource of its own so it
// can name the site's host name.
resource settings 'Microsoft.Web/sites/config@2023-12-01' = {
  // checkov reads this child as a site and repeats the site's checks on it; the site carries them:
  // checkov:skip=CKV_AZURE_222: see the site (the Bot Service must reach the endpoint)
  // checkov:skip=CKV_AZURE_13: see the site (the bot validates Bot Framework tokens itself)
  // checkov:skip=CKV_AZURE_88: see the site (the state is in Blob Storage)
  // checkov:skip=CKV_AZURE_80: not a .NET app (Python 3.11)
  // checkov:skip=CKV_AZURE_63: HTTP logging is on in the site's siteConfig
  // checkov:skip=CKV_AZURE_65: detailed error messages are on in the site's siteConfig
  // checkov:skip=CKV_AZURE_66: failed request tracing is on in the site's siteConfig
  parent: site
  name: 'appsettings'
  properties: {
    SCM_DO_BUILD_DURING_DEPLOYMENT: 'true' // Oryx installs requirements.txt
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    ApplicationInsightsAgent_EXTENSION_VERSION: '~3'
    HOST: '0.0.0.0'
    PORT: '8000'
    WEBSITES_PORT: '8000'
    FTBOT_DATA_DIR: '/tmp/ftbot' // a cache only: the state is in Blob Storage
    MicrosoftAppId: appId
    MicrosoftAppType: 'SingleTenant'
    MicrosoftAppTenantId: tenant().tenantId
    FTBOT_FEDERATED_CLIENT_ID: identityClientId
    AZURE_CLIENT_ID: identityClientId
    FTBOT_PUBLIC_HOST: site.properties.defaultHostName
    FTBOT_ADMINS: admins
    FTBOT_TRAINERS: trainers
    FTBOT_BOT_PRINCIPAL_ID: identityPrincipalId
    AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
    AZURE_RESOURCE_GROUP: labResourceGroup
    AZURE_OPENAI_ACCOUNT: openAiAccount
    AZURE_OPENAI_ENDPOINT: openAiEndpoint
    FTBOT_STATE: 'blob'
    AZURE_STORAGE_ACCOUNT_URL: storage.properties.primaryEndpoints.blob
    FTBOT_STATE_CONTAINER: stateContainer
  }
}

// Console output and HTTP logs to the workspace.
// Microsoft.Insights/diagnosticSettings@2021-05-01-preview (Azure/bicep-types-az generated/insights).
resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs'
  scope: site
  properties: {
    workspaceId: workspace.id
    logs: [
      for category in ['AppServiceConsoleLogs', 'AppServiceHTTPLogs', 'AppServicePlatformLogs']: {
        category: category
        enabled: true
      }
    ]
  }
}

// -- the Azure Bot and its Teams channel -----------------------------------------------------
// Microsoft.BotService/botServices@2022-09-15; msaAppType SingleTenant with the app registration
// (OfficeDev/Microsoft-Teams-Samples azurebot.bicep; azure-rest-api-specs botservice 2022-09-15).
resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${name}-${token}'
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    name: 'F0' // Teams is a standard channel: free
  }
  properties: {
    displayName: 'FineTune Ops'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: appId
    msaAppTenantId: tenant().tenantId
    msaAppType: 'SingleTenant'
    disableLocalAuth: true
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

output host string = site.properties.defaultHostName
output messagingEndpoint string = bot.properties.endpoint
output siteName string = site.name
output botName string = bot.name
output storageAccountUrl string = storage.properties.primaryEndpoints.blob
