'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test } = require('node:test');

const { loadConfig } = require('../lib/config');
const { decodeClaims, pickClaims, ACCESS_TOKEN_CLAIMS } = require('../lib/jwt');
const { redact } = require('../lib/redact');
const { AggregateAuthenticationError, AuthenticationRequiredError, CredentialUnavailableError,
  DefaultAzureCredential } = require('@azure/identity');
const { clip, describeTokenError, describePermissionsFailure } = require('../lib/diagnose');
const { resourceGroupOf, groupByScope, ArmClient, ArmError } = require('../lib/arm');
const { describeContainer } = require('../lib/container');
const { describeWorkloadIdentity } = require('../lib/identity');
const { html } = require('../views/html');
const { renderPage } = require('../views/page');

function fakeJwt(claims) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('configuration comes from the environment', () => {
  test('public cloud by default, with instance discovery on', () => {
    const config = loadConfig({});
    assert.equal(config.armEndpoint, 'https://management.azure.com/');
    assert.equal(config.armScope, 'https://management.azure.com/.default');
    assert.equal(config.disableInstanceDiscovery, false);
    assert.equal(config.port, 8080);
  });

  test('a sovereign cloud keeps discovery on and derives its scope', () => {
    const config = loadConfig({ ARM_ENDPOINT: 'https://management.chinacloudapi.cn',
      AZURE_AUTHORITY_HOST: 'https://login.chinacloudapi.cn/' });
    assert.equal(config.armScope, 'https://management.chinacloudapi.cn/.default');
    assert.equal(config.disableInstanceDiscovery, false);
  });

  test('an authority MSAL does not know turns instance discovery off', () => {
    const config = loadConfig({ AZURE_AUTHORITY_HOST: 'https://127.0.0.1:8443/' });
    assert.equal(config.disableInstanceDiscovery, true);
  });

  test('DISABLE_INSTANCE_DISCOVERY overrides, ARM_SCOPE and ROLE_SCOPES are read', () => {
    const config = loadConfig({ AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
      DISABLE_INSTANCE_DISCOVERY: 'true', ARM_SCOPE: 'https://management.core.windows.net//.default',
      ROLE_SCOPES: '/subscriptions/a, /subscriptions/b/resourceGroups/c' });
    assert.equal(config.disableInstanceDiscovery, true);
    assert.equal(config.armScope, 'https://management.core.windows.net//.default');
    assert.deepEqual(config.roleScopes, ['/subscriptions/a', '/subscriptions/b/resourceGroups/c']);
  });

  test('bad values are refused with the variable named', () => {
    assert.throws(() => loadConfig({ DISABLE_INSTANCE_DISCOVERY: 'maybe' }), /DISABLE_INSTANCE_DISCOVERY/);
    assert.throws(() => loadConfig({ PORT: 'http' }), /PORT/);
  });
});

describe('tokens: claims only', () => {
  test('decodeClaims reads the payload and rejects garbage', () => {
    assert.deepEqual(decodeClaims(fakeJwt({ oid: 'x', exp: 1 })), { oid: 'x', exp: 1 });
    assert.equal(decodeClaims('not-a-jwt'), null);
    assert.equal(decodeClaims('a.%%%.c'), null);
    assert.equal(decodeClaims(undefined), null);
  });

  test('pickClaims keeps the listed claims and adds UTC times', () => {
    const picked = pickClaims({ oid: 'o', exp: 0, secret: 's' }, ACCESS_TOKEN_CLAIMS);
    assert.deepEqual(picked, { oid: 'o', exp: 0, expUtc: '1970-01-01T00:00:00.000Z' });
  });

  test('redact removes anything shaped like a JWT', () => {
    const token = fakeJwt({ sub: 'x' });
    const text = redact(`assertion=${token} and "${token.split('.')[0]}"`);
    assert.ok(!text.includes('eyJ'), text);
    assert.match(text, /\[redacted token\]/);
  });

  test('the projected token file is described by path and claims, never content', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wi-node-app-unit-'));
    const file = path.join(dir, 'azure-identity-token');
    const token = fakeJwt({ iss: 'https://issuer', sub: 'system:serviceaccount:demo:app', aud: ['api://AzureADTokenExchange'] });
    fs.writeFileSync(file, token);
    const wi = describeWorkloadIdentity({ AZURE_CLIENT_ID: 'c', AZURE_FEDERATED_TOKEN_FILE: file });
    assert.equal(wi.tokenFile.claims.sub, 'system:serviceaccount:demo:app');
    assert.deepEqual(wi.missing, ['AZURE_TENANT_ID', 'AZURE_AUTHORITY_HOST']);
    assert.ok(!JSON.stringify(wi).includes(token.split('.')[1]));
    const missing = describeWorkloadIdentity({ AZURE_FEDERATED_TOKEN_FILE: path.join(dir, 'nope') });
    assert.equal(missing.tokenFile.exists, false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// What DefaultAzureCredential (4.13) throws when its workload identity is refused: one error per
// credential it tried, the workload identity's twice (ManagedIdentityCredential delegates to it),
// each with MSAL's text: the code list, the AADSTS line, then trace/correlation ids and time.
function msalText(code, description) {
  return `invalid_client: Error(s): ${code} - Timestamp: 2025-01-01 00:00:00Z - Description: AADSTS${code}: ${description}\r\n`
    + 'Trace ID: 0b5d6d8e-0000-4000-8000-000000000001\r\nCorrelation ID: 0b5d6d8e-0000-4000-8000-000000000002\r\n'
    + 'Timestamp: 2025-01-01 00:00:00Z - Correlation ID: 0b5d6d8e-0000-4000-8000-000000000002 - Trace ID: 0b5d6d8e-0000-4000-8000-000000000001';
}

function chainError(workloadMessage) {
  const failed = () => new AuthenticationRequiredError({ scopes: ['https://management.azure.com/.default'], message: workloadMessage });
  return new AggregateAuthenticationError([
    new CredentialUnavailableError('EnvironmentCredential is unavailable. No underlying credential could be used.'),
    failed(), failed(),
    new CredentialUnavailableError('Visual Studio Code Authentication is not available.'),
    new CredentialUnavailableError('Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions and then, once installed, authenticate to your Azure account using \'az login\'.'),
    new CredentialUnavailableError('Error: Unable to execute PowerShell. Ensure that it is installed in your system.'),
    new CredentialUnavailableError('Azure Developer CLI couldn\'t be found.'),
  ], 'ChainedTokenCredential authentication failed.');
}

const WEBHOOK_ENV = { AZURE_CLIENT_ID: 'c', AZURE_TENANT_ID: 't', AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
  AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token' };
const TOKEN_FILE = { path: WEBHOOK_ENV.AZURE_FEDERATED_TOKEN_FILE, exists: true, readable: true };

// DefaultAzureCredential builds its chain from process.env when it is constructed
function credentialFor(env) {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('AZURE_')) delete process.env[name];
  Object.assign(process.env, env);
  try {
    return new DefaultAzureCredential({ disableInstanceDiscovery: true });
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

describe('a refused token exchange: one credential, one AADSTS line, a hint', () => {
  const CODES = {
    70021: 'No matching federated identity record found for presented assertion.',
    700211: "No matching federated identity record found for presented assertion issuer 'https://issuer/'.",
    700213: "No matching federated identity record found for presented assertion subject 'system:serviceaccount:demo:app'.",
    70025: "The client 'id'(wi-lab-identity) has no configured federated identity credentials.",
    7000272: 'The certificate with identifier kid used to sign the federated credential could not be found in the metadata of identity provider https://issuer/.',
    7002138: "No matching federated identity record found for presented assertion subject 'system:serviceaccount:demo:App'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison.",
  };

  test('the workload identity\'s error, its AADSTS line once, its support ids', () => {
    const e = describeTokenError(chainError(msalText(700213, CODES[700213])),
      { credential: credentialFor(WEBHOOK_ENV), env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.equal(e.credential, 'WorkloadIdentityCredential');
    assert.equal(e.aadsts, 'AADSTS700213');
    assert.equal(e.message, `AADSTS700213: ${CODES[700213]}`);
    assert.deepEqual(e.support, { traceId: '0b5d6d8e-0000-4000-8000-000000000001',
      correlationId: '0b5d6d8e-0000-4000-8000-000000000002', timestamp: '2025-01-01 00:00:00Z' });
    assert.deepEqual(e.chain.map((c) => c.outcome), ['unavailable', 'failed', 'failed', 'unavailable',
      'unavailable', 'unavailable', 'unavailable']);
    assert.deepEqual(e.chain.map((c) => c.credential), ['EnvironmentCredential',
      'WorkloadIdentityCredential', 'ManagedIdentityCredential', 'VisualStudioCodeCredential',
      'AzureCliCredential', 'AzurePowerShellCredential', 'AzureDeveloperCliCredential']);
  });

  test('without the chain\'s own list, names come from the messages; the failure is still the one shown', () => {
    const e = describeTokenError(chainError(msalText(700213, CODES[700213])), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.equal(e.credential, null);
    assert.equal(e.message, `AADSTS700213: ${CODES[700213]}`);
    assert.deepEqual(e.chain.map((c) => c.credential), ['EnvironmentCredential', null, null,
      'VisualStudioCodeCredential', 'AzureCliCredential', 'AzurePowerShellCredential', 'AzureDeveloperCliCredential']);
    // a list that disagrees with the messages is not trusted
    const shifted = { _sources: [{}, ...credentialFor(WEBHOOK_ENV)._sources] };
    assert.equal(describeTokenError(chainError(msalText(700213, CODES[700213])),
      { credential: shifted, env: WEBHOOK_ENV, tokenFile: TOKEN_FILE }).chain[0].credential, 'EnvironmentCredential');
  });

  test('codes Entra gives while a new credential propagates say "wait and retry"', () => {
    for (const code of [70021, 700211, 700213, 70025]) {
      const e = describeTokenError(chainError(msalText(code, CODES[code])), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
      assert.equal(e.aadsts, `AADSTS${code}`);
      assert.match(e.hint, /created in the last ~10 minutes, wait and retry/, `AADSTS${code}`);
    }
  });

  test('7000272 (signing key not in the JWKS) and 7002138 (subject case) are explained', () => {
    const key = describeTokenError(chainError(msalText(7000272, CODES[7000272])), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.equal(key.aadsts, 'AADSTS7000272');
    assert.match(key.hint, /not in the JWKS/);
    assert.match(key.hint, /restart the pod/);
    assert.doesNotMatch(key.hint, /wait and retry/);
    const kase = describeTokenError(chainError(msalText(7002138, CODES[7002138])), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.equal(kase.aadsts, 'AADSTS7002138');
    assert.match(kase.hint, /case-sensitively/);
  });

  test('tokens are redacted wherever they appear', () => {
    const jwt = fakeJwt({ sub: 'system:serviceaccount:demo:app' });
    const e = describeTokenError(chainError(msalText(700213, `${CODES[700213]} assertion=${jwt}`)), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.ok(!JSON.stringify(e).includes('eyJ'), JSON.stringify(e));
    assert.match(e.message, /\[redacted token\]/);
    const plain = describeTokenError(new Error(`request failed with ${jwt}`), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.ok(!JSON.stringify(plain).includes('eyJ'));
    assert.match(plain.message, /^request failed with \[redacted token\]$/);
    assert.equal(plain.chain, null);
  });

  test('no webhook environment: the variable is named, the all-unavailable chain summed up', () => {
    const err = new AggregateAuthenticationError([
      new CredentialUnavailableError('EnvironmentCredential is unavailable. No underlying credential could be used.'),
      new CredentialUnavailableError('ManagedIdentityCredential: Network unreachable.'),
      new CredentialUnavailableError('Azure CLI could not be found.'),
    ], 'ChainedTokenCredential authentication failed.');
    const e = describeTokenError(err, { env: {}, tokenFile: { path: null, exists: false } });
    assert.equal(e.credential, null);
    assert.match(e.message, /EnvironmentCredential, ManagedIdentityCredential, AzureCliCredential unavailable/);
    assert.match(e.hint, /^AZURE_FEDERATED_TOKEN_FILE is not set/);
    assert.match(e.hint, /azure\.workload\.identity\/use/);
  });

  test('a single error (not a chain) is shown as it is', () => {
    const e = describeTokenError(new CredentialUnavailableError('Failed to retrieve a valid token'), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.equal(e.message, 'Failed to retrieve a valid token');
    assert.equal(e.type, 'CredentialUnavailableError');
  });

  test('without the webhook environment the first credential that got further is shown', () => {
    const err = new AggregateAuthenticationError([
      new CredentialUnavailableError('EnvironmentCredential is unavailable.'),
      new AuthenticationRequiredError({ scopes: [], message: 'ManagedIdentityCredential: authentication failed. AADSTS700016: Application not found.' }),
    ], 'ChainedTokenCredential authentication failed.');
    const e = describeTokenError(err, { env: {}, tokenFile: { path: null, exists: false } });
    assert.equal(e.credential, 'ManagedIdentityCredential');
    assert.equal(e.aadsts, 'AADSTS700016');
  });

  test('a long message is clipped after a whole sentence, never inside one', () => {
    const sentence = 'The quick brown fox jumps over the lazy dog. ';
    const clipped = clip(sentence.repeat(40), 200);
    assert.ok(clipped.length <= 202, clipped.length);
    assert.match(clipped, /dog\. …$/);
    assert.equal(clip('short.', 200), 'short.');
    const oneSentence = clip('word '.repeat(100), 50);
    assert.match(oneSentence, /^(word )+…$/);
    const e = describeTokenError(new Error(sentence.repeat(100)), { env: WEBHOOK_ENV, tokenFile: TOKEN_FILE });
    assert.ok(e.message.length <= 1002);
    assert.match(e.message, /dog\. …$/);
  });
});

describe('role assignments that cannot be read', () => {
  const read = (kind, scope, status, code) => (status
    ? { kind, scope, ok: false, error: `${status} ${code}: it failed`, status, code }
    : { kind, scope, ok: true, found: 1 });

  test('one scope read is enough', () => {
    assert.equal(describePermissionsFailure({ inspected: [
      read('subscriptions', '/subscriptions', 503, 'InternalServerError'),
      read('roleAssignments', '/subscriptions/s', 403, 'AuthorizationFailed'),
      read('roleAssignments', '/subscriptions/s/resourcegroups/rg')] }), null);
  });

  test('403 everywhere: the identity may hold no role; the reasons and scopes are named', () => {
    const e = describePermissionsFailure({ inspected: [
      read('subscriptions', '/subscriptions'),
      read('roleAssignments', '/subscriptions/s', 403, 'AuthorizationFailed'),
      read('roleAssignments', '/subscriptions/s/resourcegroups/rg', 403, 'AuthorizationFailed')] });
    assert.equal(e.status, 403);
    assert.equal(e.message, 'Role assignments could not be read at any scope: 403 AuthorizationFailed: it failed (/subscriptions/s, /subscriptions/s/resourcegroups/rg)');
    assert.match(e.hint, /may hold no role at all/);
  });

  test('an outage or throttling says the token exchange worked and to retry', () => {
    const e = describePermissionsFailure({ inspected: [
      read('subscriptions', '/subscriptions', 429, 'TooManyRequests'),
      read('roleAssignments', '/subscriptions/s/resourcegroups/rg', 403, 'AuthorizationFailed')] });
    assert.match(e.hint, /token exchange itself worked/);
    assert.match(e.message, /429 TooManyRequests: it failed \(\/subscriptions\); 403/);
  });

  test('no scope to read at all', () => {
    const e = describePermissionsFailure({ inspected: [read('subscriptions', '/subscriptions')] });
    assert.match(e.message, /no scope to read role assignments at/);
  });
});

describe('container', () => {
  test('downward API limits win over cgroup files', () => {
    const c = describeContainer({ POD_NAME: 'p', POD_NAMESPACE: 'ns', NODE_NAME: 'n',
      MEMORY_LIMIT: String(128 * 1024 * 1024), CPU_LIMIT: '250' });
    assert.equal(c.pod, 'p');
    assert.equal(c.namespace, 'ns');
    assert.equal(c.nodeName, 'n');
    assert.deepEqual(c.memoryLimit, { value: '128 MiB', source: 'downward API' });
    assert.deepEqual(c.cpuLimit, { value: '0.25 CPU', source: 'downward API' });
  });

  test('cgroup v2 limits are read', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wi-node-app-cgroup-'));
    fs.writeFileSync(path.join(root, 'memory.max'), '268435456\n');
    fs.writeFileSync(path.join(root, 'cpu.max'), '50000 100000\n');
    const c = describeContainer({}, root);
    assert.deepEqual(c.memoryLimit, { value: '256 MiB', source: 'cgroup v2' });
    assert.deepEqual(c.cpuLimit, { value: '0.5 CPU', source: 'cgroup v2' });
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('ARM helpers', () => {
  test('the identity resource group comes from xms_mirid', () => {
    assert.equal(resourceGroupOf('/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i'),
      '/subscriptions/s/resourcegroups/rg');
    assert.equal(resourceGroupOf(undefined), null);
  });

  test('assignments are grouped by scope, broadest first', () => {
    const groups = groupByScope([
      { roleName: 'Reader', scope: '/subscriptions/s/resourceGroups/rg' },
      { roleName: 'Key Vault Secrets User', scope: '/subscriptions/s' },
      { roleName: 'AcrPull', scope: '/subscriptions/s/resourcegroups/RG' },
    ]);
    assert.deepEqual(groups.map((g) => [g.scope, g.roles.map((r) => r.roleName)]), [
      ['/subscriptions/s', ['Key Vault Secrets User']],
      ['/subscriptions/s/resourceGroups/rg', ['AcrPull', 'Reader']],
    ]);
  });

  test('the token is never sent to another origin (a nextLink elsewhere is refused)', async () => {
    const sent = [];
    const fetchImpl = async (url) => {
      sent.push(String(url));
      return new Response(JSON.stringify({ value: [1], nextLink: 'https://evil.example/next' }),
        { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const arm = new ArmClient({ endpoint: 'https://management.azure.com/', token: 't', fetchImpl });
    await assert.rejects(arm.list('/subscriptions?api-version=2022-12-01'),
      (err) => err instanceof ArmError && err.code === 'UnexpectedHost');
    assert.deepEqual(sent, ['https://management.azure.com/subscriptions?api-version=2022-12-01']);
  });
});

describe('the page', () => {
  test('html`` escapes interpolated values', () => {
    assert.equal(html`<p>${'<script>"x"&\'</script>'}</p>`.toString(),
      '<p>&lt;script&gt;&quot;x&quot;&amp;&#39;&lt;/script&gt;</p>');
  });

  test('a hostile value in the environment or an error is rendered as text', () => {
    const report = {
      ok: false, generatedAt: 'now',
      container: describeContainer({ POD_NAME: '<img src=x onerror=alert(1)>' }),
      workloadIdentity: describeWorkloadIdentity({}),
      cloud: { armEndpoint: 'a', armScope: 's', authorityHost: 'h', instanceDiscovery: true },
      accessToken: null, permissions: null,
      error: { stage: 'token', type: 'Error', message: '<b>AADSTS700213</b>', aadsts: 'AADSTS700213', hint: 'h' },
    };
    const page = renderPage(report);
    assert.ok(!page.includes('<img'), 'unescaped markup from the environment');
    assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(page.includes('&lt;b&gt;AADSTS700213&lt;/b&gt;'));
    assert.match(page, /Not injected: AZURE_CLIENT_ID/);
  });

  test('roles unreadable: the verdict says the token works and the section says why', () => {
    const permissions = { subscriptions: [], assignments: [], byScope: [], inspected: [
      { kind: 'roleAssignments', scope: '/subscriptions/s/resourcegroups/rg', ok: false,
        error: '503 InternalServerError: <down>', status: 503, code: 'InternalServerError' }] };
    const page = renderPage({
      ok: false, generatedAt: 'now', container: describeContainer({}),
      workloadIdentity: describeWorkloadIdentity({}),
      cloud: { armEndpoint: 'a', armScope: 's', authorityHost: 'h', instanceDiscovery: true },
      accessToken: { claims: { oid: 'o' }, expiresOn: 'later' }, permissions,
      error: { stage: 'permissions', ...describePermissionsFailure(permissions) },
    });
    assert.match(page, /The token exchange worked \(this pod got an Entra token\), but its role assignments could not be read/);
    assert.ok(!page.includes('Workload identity works'));
    assert.match(page, /Role assignments could not be read at any scope: 503 InternalServerError: &lt;down&gt;/);
    assert.match(page, /Reload the page in a minute/);
  });
});

describe('package', () => {
  const root = path.resolve(__dirname, '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));

  test('only express and @azure/identity, pinned exactly, and locked', () => {
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['@azure/identity', 'express']);
    for (const [name, version] of Object.entries(pkg.dependencies)) {
      assert.match(version, /^\d+\.\d+\.\d+$/, `${name} is not pinned`);
      assert.equal(lock.packages[`node_modules/${name}`].version, version);
    }
    assert.equal(pkg.devDependencies, undefined);
  });

  test('the lockfile points at the npm registry only, with integrity for every package', () => {
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (!where) continue;
      assert.ok(entry.integrity, `${where} has no integrity`);
      if (entry.resolved) assert.match(entry.resolved, /^https:\/\/registry\.npmjs\.org\//, where);
    }
    const urls = JSON.stringify(lock).match(/(?:https?|git|file|ssh):[^"\s]*/g) || [];
    // npm records packages' "funding" links too; they are dropped after `npm install` with
    // node -e "const f='package-lock.json',l=require('./'+f);for(const e of Object.values(l.packages))delete e.funding;require('fs').writeFileSync(f,JSON.stringify(l,null,2)+'\\n')"
    assert.deepEqual(urls.filter((u) => !u.startsWith('https://registry.npmjs.org/')), []);
  });
});
