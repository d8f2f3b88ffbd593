'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test } = require('node:test');

const { loadConfig } = require('../lib/config');
const { decodeClaims, pickClaims, ACCESS_TOKEN_CLAIMS } = require('../lib/jwt');
const { redact } = require('../lib/redact');
const { describeError } = require('../lib/report');
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

  test('describeError finds the AADSTS code, explains it and strips tokens', () => {
    const err = new Error(`WorkloadIdentityCredential authentication failed. AADSTS700213: No matching federated identity record found for presented assertion subject. ${fakeJwt({})}`);
    const described = describeError(err);
    assert.equal(described.aadsts, 'AADSTS700213');
    assert.match(described.hint, /wi bind/);
    assert.ok(!described.message.includes('eyJ'));
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
