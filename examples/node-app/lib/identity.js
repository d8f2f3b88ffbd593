'use strict';

const fs = require('node:fs');
const { decodeClaims, pickClaims, SERVICE_ACCOUNT_TOKEN_CLAIMS } = require('./jwt');

const WORKLOAD_IDENTITY_ENV = ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_AUTHORITY_HOST',
  'AZURE_FEDERATED_TOKEN_FILE'];

function describeTokenFile(path) {
  if (!path) return { path: null, exists: false };
  let text;
  try {
    text = fs.readFileSync(path, 'utf8').trim();
  } catch (err) {
    return { path, exists: err.code !== 'ENOENT', readable: false, problem: err.code };
  }
  return {
    path,
    exists: true,
    readable: true,
    claims: pickClaims(decodeClaims(text), SERVICE_ACCOUNT_TOKEN_CLAIMS),
  };
}

// What the workload identity webhook injected: variable values, the token file's path and the
// projected token's decoded claims. Never the token itself.
function describeWorkloadIdentity(env = process.env) {
  const variables = {};
  for (const name of WORKLOAD_IDENTITY_ENV) variables[name] = env[name] || null;
  const missing = WORKLOAD_IDENTITY_ENV.filter((name) => !env[name]);
  return {
    variables,
    missing,
    // EnvironmentCredential comes first in DefaultAzureCredential: a client secret in the
    // environment would be used instead of the workload identity.
    clientSecretShadows: Boolean(env.AZURE_CLIENT_SECRET),
    tokenFile: describeTokenFile(env.AZURE_FEDERATED_TOKEN_FILE),
  };
}

module.exports = { describeWorkloadIdentity, WORKLOAD_IDENTITY_ENV };
