'use strict';

const { ArmClient, discoverPermissions } = require('./arm');
const { describeContainer } = require('./container');
const { describeWorkloadIdentity } = require('./identity');
const { decodeClaims, pickClaims, ACCESS_TOKEN_CLAIMS } = require('./jwt');
const { redact } = require('./redact');

// The usual federated-credential failures, what they mean and where to look.
const AADSTS_HINTS = {
  AADSTS700211: 'The token issuer does not match the federated credential: use the cluster\'s OIDC issuer URL exactly (`wi doctor`).',
  AADSTS700212: 'The token audience does not match the federated credential (expected api://AzureADTokenExchange).',
  AADSTS700213: 'No federated credential on the identity has this subject: run `wi bind SERVICE_ACCOUNT IDENTITY -n NAMESPACE` for the service account this pod uses.',
  AADSTS70021: 'No federated credential matches the token (issuer, subject or audience): run `wi doctor`.',
  AADSTS70025: 'The identity has no federated credential at all: run `wi bind`.',
  AADSTS700016: 'The client id is unknown in this tenant: check the service account\'s azure.workload.identity/client-id annotation.',
  AADSTS90002: 'The tenant is unknown: check AZURE_TENANT_ID and the authority host (cloud).',
  AADSTS700024: 'The service account token has expired or is not yet valid: check the node clock and the projected token refresh.',
  AADSTS50166: 'Entra could not fetch the cluster\'s OIDC discovery document: is the OIDC issuer enabled and public?',
};

const MAX_MESSAGE_CHARS = 2000;

function describeError(err) {
  const message = redact(err?.message || String(err)).slice(0, MAX_MESSAGE_CHARS);
  const code = /AADSTS\d+/.exec(message)?.[0] || null;
  return {
    type: err?.name || 'Error',
    message,
    aadsts: code,
    hint: (code && AADSTS_HINTS[code]) || null,
  };
}

function describeCloud(config) {
  return {
    armEndpoint: config.armEndpoint,
    armScope: config.armScope,
    authorityHost: config.authorityHost,
    instanceDiscovery: !config.disableInstanceDiscovery,
  };
}

async function getAccessToken(credential, config) {
  const token = await credential.getToken(config.armScope, {
    abortSignal: AbortSignal.timeout(config.tokenTimeoutMs),
  });
  if (!token) throw new Error('the credential returned no token');
  return token;
}

/**
 * Everything the page and /api/whoami show. Failures are part of the report (with the AADSTS
 * code when Entra refused the exchange), never thrown: the page must explain, not crash.
 */
async function collectReport({ credential, config, env = process.env }) {
  const report = {
    ok: false,
    generatedAt: new Date().toISOString(),
    container: describeContainer(env),
    workloadIdentity: describeWorkloadIdentity(env),
    cloud: describeCloud(config),
    accessToken: null,
    permissions: null,
    error: null,
  };
  let token;
  try {
    token = await getAccessToken(credential, config);
  } catch (err) {
    report.error = { stage: 'token', ...describeError(err) };
    return report;
  }
  const claims = decodeClaims(token.token);
  report.accessToken = {
    claims: pickClaims(claims, ACCESS_TOKEN_CLAIMS),
    expiresOn: new Date(token.expiresOnTimestamp).toISOString(),
  };
  try {
    const arm = new ArmClient({ endpoint: config.armEndpoint, token: token.token,
      timeoutMs: config.armTimeoutMs });
    report.permissions = await discoverPermissions(arm, {
      principalId: claims?.oid,
      identityResourceId: claims?.xms_mirid,
      extraScopes: config.roleScopes,
    });
  } catch (err) {
    report.error = { stage: 'permissions', ...describeError(err) };
    return report;
  }
  report.ok = true;
  return report;
}

module.exports = { collectReport, describeError, AADSTS_HINTS };
