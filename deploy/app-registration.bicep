// The bot's Entra app registration, made with the Microsoft Graph Bicep extension: one
// single-tenant app that is at once the Azure Bot's app id (the Bot Framework token), the app that
// Teams grants resource-specific consent to (the manifest's webApplicationInfo.id) and the app the
// bot reads channel files with on Microsoft Graph. Its only credential is a federated identity
// credential trusting the bot's managed identity: the bot asks the managed identity for a token
// for api://AzureADTokenExchange and hands it to Entra ID as a client assertion (no secret).
//
// Sources: Microsoft Graph Bicep reference, microsoftgraph/msgraph-bicep-types
// docs/msgraph-bicep-docs/reference/v1.0/{applications,federatedidentitycredentials,
// serviceprincipals}.md; "Provision agent resources in Azure Bot Service using federated
// credentials" (learn.microsoft.com/microsoft-365/agents-sdk/azure-bot-create-federated-credentials):
// issuer https://login.microsoftonline.com/<tenant>/v2.0, subject the managed identity's object
// (principal) id, audience api://AzureADTokenExchange.
//
// checkov skips this file (Makefile, CHECKOV_SKIP_PATHS): checkov 3.3.30 pins pycep-parser 0.5.1,
// which cannot read the `extension` statement, and checkov has no check for Microsoft.Graph
// resources; tests/test_deploy_bicep.py parses it with pycep-parser 0.7.1.
extension microsoftGraphV1

@description('Display name of the app registration (and of the bot in Entra ID).')
param displayName string

@description('A name unique in the tenant: the key that makes redeployments update the same app.')
param uniqueName string

@description('Object (principal) id of the managed identity whose token is the app\'s credential.')
param identityPrincipalId string

var issuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

resource app 'Microsoft.Graph/applications@v1.0' = {
  displayName: displayName
  uniqueName: uniqueName
  signInAudience: 'AzureADMyOrg' // single tenant: the Azure Bot's msaAppType is SingleTenant

  resource managedIdentity 'federatedIdentityCredentials@v1.0' = {
    name: '${uniqueName}/bot-managed-identity'
    description: 'The bot\'s managed identity signs in as this app (no secret).'
    audiences: [
      'api://AzureADTokenExchange'
    ]
    issuer: issuer
    subject: identityPrincipalId
  }
}

// The app's service principal in this tenant: client-credential tokens (Bot Framework, Graph)
// and resource-specific consent are issued to it.
resource principal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

output appId string = app.appId
