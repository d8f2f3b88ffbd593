'use strict';

// Everything the app needs comes from the environment, so the same image runs in the public
// cloud, a sovereign cloud and the wi lab without code edits.

const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com/';
const PUBLIC_AUTHORITY_HOST = 'https://login.microsoftonline.com/';

// Authority hosts MSAL knows; instance discovery stays on for these and is turned off for any
// other host (Azure Stack, air-gapped clouds, the wi lab), where it could only fail.
const KNOWN_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.us',
  'login.usgovcloudapi.net',
]);

function withTrailingSlash(url) {
  return url.endsWith('/') ? url : `${url}/`;
}

function parseBoolean(value) {
  if (value === undefined || value === '') return undefined;
  const text = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(value)}`);
}

function authorityHostname(authorityHost) {
  try {
    return new URL(authorityHost).hostname.toLowerCase();
  } catch {
    return String(authorityHost).replace(/^https?:\/\//, '').split(/[/:]/)[0].toLowerCase();
  }
}

function isKnownAuthority(authorityHost) {
  return KNOWN_AUTHORITY_HOSTS.has(authorityHostname(authorityHost));
}

function parsePort(value) {
  const port = Number(value ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, got ${JSON.stringify(value)}`);
  }
  return port;
}

/**
 * ARM_ENDPOINT    Resource Manager URL (default: public cloud)
 * ARM_SCOPE       token scope (default: ARM_ENDPOINT + ".default", Azure CLI's rule)
 * AZURE_AUTHORITY_HOST  Entra authority (injected by the workload identity webhook)
 * DISABLE_INSTANCE_DISCOVERY  true/false; default: true unless the authority is a Microsoft host
 * ROLE_SCOPES     extra scopes (comma or space separated) whose role assignments to read
 * PORT, HOST      where to listen (default 8080 on all interfaces)
 */
function loadConfig(env = process.env) {
  const armEndpoint = withTrailingSlash(env.ARM_ENDPOINT || PUBLIC_ARM_ENDPOINT);
  const authorityHost = env.AZURE_AUTHORITY_HOST || PUBLIC_AUTHORITY_HOST;
  let disableInstanceDiscovery;
  try {
    disableInstanceDiscovery = parseBoolean(env.DISABLE_INSTANCE_DISCOVERY);
  } catch (err) {
    throw new Error(`DISABLE_INSTANCE_DISCOVERY: ${err.message}`);
  }
  return {
    armEndpoint,
    armScope: env.ARM_SCOPE || `${armEndpoint.replace(/\/+$/, '')}/.default`,
    authorityHost,
    authorityHostFromEnv: Boolean(env.AZURE_AUTHORITY_HOST),
    disableInstanceDiscovery: disableInstanceDiscovery ?? !isKnownAuthority(authorityHost),
    roleScopes: (env.ROLE_SCOPES || '').split(/[\s,]+/).filter(Boolean),
    port: parsePort(env.PORT),
    host: env.HOST || '0.0.0.0',
    tokenTimeoutMs: 30000,
    armTimeoutMs: 15000,
  };
}

module.exports = { loadConfig, isKnownAuthority, PUBLIC_ARM_ENDPOINT };
