'use strict';

const { ArmClient, discoverPermissions } = require('./arm');
const { describeContainer } = require('./container');
const { describeWorkloadIdentity } = require('./identity');
const { decodeClaims, pickClaims, ACCESS_TOKEN_CLAIMS } = require('./jwt');
const { clip, describePermissionsFailure, describeTokenError } = require('./diagnose');
const { redact } = require('./redact');

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
 * Everything the page and /api/whoami show. Failures are part of the report, never thrown: the
 * page must explain, not crash. `ok` is true only when the token exchange worked and the role
 * assignments were read at one scope at least; otherwise `error.stage` says which step failed
 * ("token" or "permissions") and `error.hint` what to do.
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
    report.error = { stage: 'token', ...describeTokenError(err,
      { credential, env, tokenFile: report.workloadIdentity.tokenFile }) };
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
    report.error = { stage: 'permissions', type: err?.name || 'Error',
      message: clip(redact(err?.message || String(err))), aadsts: null, hint: null };
    return report;
  }
  const unreadable = describePermissionsFailure(report.permissions);
  if (unreadable) {
    report.error = { stage: 'permissions', ...unreadable };
    return report;
  }
  report.ok = true;
  return report;
}

module.exports = { collectReport };
