'use strict';

// The app against the wi lab: a real Entra token exchange with a service account token minted
// by the lab's Kubernetes API server, real ARM calls, and the app running as a lab pod.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { promisify } = require('node:util');
const { after, before, describe, test } = require('node:test');

const { startLab, kube, httpsJson, createServiceAccount, requestToken, labState, roleNames,
  runWi, setFaults } = require('./helpers/lab');
const { startApp, get, SERVER } = require('./helpers/app');

const NAMESPACE = 'demo';
const MANIFESTS = path.resolve(__dirname, '..', 'manifests');

function podEnv(lab, tokenFile) {
  return {
    AZURE_CLIENT_ID: lab.info.seeded.identity.client_id,
    AZURE_TENANT_ID: lab.info.seeded.tenant_id,
    AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    AZURE_AUTHORITY_HOST: lab.env.AZURE_AUTHORITY_HOST,
    NODE_EXTRA_CA_CERTS: lab.caFile,
    ARM_ENDPOINT: lab.info.arm_endpoint,
  };
}

function writeToken(lab, name, token) {
  const file = path.join(lab.dir, name);
  fs.writeFileSync(file, token, { mode: 0o600 });
  return file;
}

// (role name, scope) pairs the lab holds for the identity, lower-cased scopes
async function seededRoles(lab) {
  const principal = lab.info.seeded.identity.principal_id.toLowerCase();
  const state = await labState(lab);
  const mine = state.role_assignments.filter((ra) => ra.principalId.toLowerCase() === principal);
  const names = await roleNames(lab, mine.map((ra) => ra.roleDefinitionId));
  return mine
    .map((ra) => `${names.get(ra.roleDefinitionId.split('/').pop().toLowerCase())} @ ${ra.scope.toLowerCase()}`)
    .sort();
}

function listedRoles(report) {
  return report.permissions.assignments.map((a) => `${a.roleName} @ ${a.scope.toLowerCase()}`).sort();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealthy(url, describePod, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the pod's app never answered on ${url}:\n${await describePod()}`);
}

describe('node-app against the wi lab', () => {
  let lab;
  let healthy;
  let broken;
  let expectedRoles;
  const secrets = []; // every raw token the tests handled
  const outputs = []; // every page, JSON document and log the app produced

  before(async () => {
    lab = await startLab('bound');
    secrets.push(lab.adminToken, lab.env.AZURE_CLIENT_SECRET);
    const goodToken = await requestToken(lab, NAMESPACE, 'wi-lab-sa');
    await createServiceAccount(lab, NAMESPACE, 'other');
    const otherToken = await requestToken(lab, NAMESPACE, 'other');
    secrets.push(goodToken, otherToken);
    [healthy, broken] = await Promise.all([
      startApp(podEnv(lab, writeToken(lab, 'good-token', goodToken))),
      startApp(podEnv(lab, writeToken(lab, 'other-token', otherToken))),
    ]);
    expectedRoles = await seededRoles(lab);
  });

  after(async () => {
    await Promise.all([healthy?.stop(), broken?.stop()]);
    await lab?.stop();
  });

  test('/healthz answers', async () => {
    const res = await get(`${healthy.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok\n');
  });

  test('/api/whoami: the identity\'s token claims and every seeded role with its scope', async () => {
    const res = await get(`${healthy.url}/api/whoami`);
    outputs.push(res.text);
    assert.equal(res.status, 200);
    const report = JSON.parse(res.text);
    assert.equal(report.ok, true, JSON.stringify(report.error));
    const { seeded } = lab.info;
    assert.equal(report.accessToken.claims.oid, seeded.identity.principal_id);
    assert.equal(report.accessToken.claims.tid, seeded.tenant_id);
    assert.equal(report.accessToken.claims.appid, seeded.identity.client_id);
    assert.equal(report.cloud.instanceDiscovery, false);
    assert.equal(report.workloadIdentity.tokenFile.claims.sub, 'system:serviceaccount:demo:wi-lab-sa');
    assert.deepEqual(report.workloadIdentity.tokenFile.claims.aud, ['api://AzureADTokenExchange']);
    const rg = `/subscriptions/${seeded.subscription_id}/resourcegroups/${seeded.resource_group}`;
    const mustHave = [`Reader @ ${rg}`, `Key Vault Secrets User @ /subscriptions/${seeded.subscription_id}`];
    for (const role of mustHave) assert.ok(expectedRoles.includes(role), `the lab seeded ${role}`);
    assert.deepEqual(listedRoles(report), expectedRoles);
    assert.deepEqual(report.permissions.subscriptions.map((s) => s.subscriptionId), [seeded.subscription_id]);
    // at the subscription the identity may not read role assignments: reported, not fatal
    const atSubscription = report.permissions.inspected.find((s) => s.scope === `/subscriptions/${seeded.subscription_id}`);
    assert.equal(atSubscription.ok, false);
    assert.match(atSubscription.error, /^403 AuthorizationFailed/);
  });

  test('/ renders the container, the claims and the roles grouped by scope', async () => {
    const res = await get(`${healthy.url}/`);
    outputs.push(res.text);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    const page = res.text;
    assert.match(page, /Workload identity works/);
    assert.ok(page.includes(lab.info.seeded.identity.principal_id));
    assert.ok(page.includes('system:serviceaccount:demo:wi-lab-sa'));
    const { subscription_id: sub, resource_group: rg } = lab.info.seeded;
    const subHeading = page.indexOf(`<h3>/subscriptions/${sub}</h3>`);
    const rgHeading = page.indexOf(`<h3>/subscriptions/${sub}/resourceGroups/${rg}</h3>`);
    assert.ok(subHeading > 0 && rgHeading > subHeading, 'one heading per scope, broadest first');
    assert.ok(page.indexOf('<th>Key Vault Secrets User</th>', subHeading) < rgHeading);
    assert.ok(page.indexOf('<th>Reader</th>', rgHeading) > rgHeading);
    for (const role of expectedRoles) assert.ok(page.includes(`<th>${role.split(' @ ')[0]}</th>`), role);
  });

  test('a token for another service account: the page shows the AADSTS error, the app lives on', async () => {
    const page = await get(`${broken.url}/`);
    outputs.push(page.text);
    assert.equal(page.status, 200);
    assert.match(page.text, /The token exchange failed: <strong>AADSTS700213<\/strong>/);
    assert.match(page.text, /system:serviceaccount:demo:other/);
    assert.match(page.text, /wi bind/);
    assert.match(page.text, /created in the last ~10 minutes, wait and retry/);
    // one credential, its AADSTS line once, not the whole DefaultAzureCredential chain
    assert.match(page.text, /<strong>WorkloadIdentityCredential<\/strong>: AADSTS700213: No matching federated identity record/);
    assert.equal(page.text.split('AADSTS700213:').length - 1, 1, 'the AADSTS line appears once');
    assert.ok(!page.text.includes('EnvironmentCredential is unavailable'), 'the chain is not dumped');
    assert.ok(!page.text.includes('ChainedTokenCredential'), 'the chain is not dumped');
    const json = await get(`${broken.url}/api/whoami`);
    outputs.push(json.text);
    const report = JSON.parse(json.text);
    assert.equal(report.ok, false);
    assert.equal(report.error.stage, 'token');
    assert.equal(report.error.aadsts, 'AADSTS700213');
    assert.equal(report.error.credential, 'WorkloadIdentityCredential');
    assert.match(report.error.message, /^AADSTS700213: [^\r\n]*$/);
    assert.match(report.error.support.correlationId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(report.error.chain.slice(0, 2), [
      { credential: 'EnvironmentCredential', outcome: 'unavailable' },
      { credential: 'WorkloadIdentityCredential', outcome: 'failed' }]);
    assert.equal(report.permissions, null);
    assert.equal((await get(`${broken.url}/healthz`)).status, 200);
  });

  test('the manifests run as a lab pod after `wi bind`, with the webhook\'s injection', async () => {
    const kubectlEnv = { ...process.env, KUBECONFIG: lab.env.KUBECONFIG, HOME: lab.dir };
    const kubectl = (args) => promisify(execFile)('kubectl', args, { env: kubectlEnv, timeout: 60000 });
    // the Namespace, ServiceAccount, Deployment and Service pass the API server's strict
    // validation (the lab serves no NetworkPolicy API, so that file is left out)
    await kubectl(['apply', ...['namespace', 'serviceaccount', 'deployment', 'service']
      .flatMap((name) => ['-f', path.join(MANIFESTS, `${name}.yaml`)])]);
    const bound = JSON.parse(await runWi(lab, ['bind', 'wi-node-app', 'wi-lab-identity', '-n', 'wi-node-app', '-o', 'json']));
    assert.equal(bound.exit_code, 0, JSON.stringify(bound.errors));
    // the lab runs no Deployment controller: make the pod from the applied template, run the
    // repo's server.js (the kubelet runs `node` as a local process) on a free loopback port
    const deployment = await kube(lab, 'GET', '/apis/apps/v1/namespaces/wi-node-app/deployments/wi-node-app');
    const { template } = deployment.spec;
    const port = await freePort();
    const [container] = template.spec.containers;
    container.args = [SERVER];
    container.env = container.env.map((v) => (
      v.name === 'PORT' ? { name: 'PORT', value: String(port) }
        : v.name === 'ARM_ENDPOINT' ? { name: 'ARM_ENDPOINT', value: lab.info.arm_endpoint } : v));
    container.env.push({ name: 'HOST', value: '127.0.0.1' });
    const pod = { apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'wi-node-app-lab', namespace: 'wi-node-app', labels: template.metadata.labels },
      spec: template.spec };
    const created = await kube(lab, 'POST', '/api/v1/namespaces/wi-node-app/pods', pod);
    const injected = created.spec.containers[0].env.map((v) => v.name);
    assert.ok(injected.includes('AZURE_FEDERATED_TOKEN_FILE'), `webhook env: ${injected}`);
    const url = `http://127.0.0.1:${port}`;
    const podLog = async () => (await httpsJson(lab, 'GET',
      `${lab.apiServer}/api/v1/namespaces/wi-node-app/pods/wi-node-app-lab/log`,
      { token: lab.adminToken })).text;
    const describePod = async () => JSON.stringify((await kube(lab, 'GET', '/api/v1/namespaces/wi-node-app/pods/wi-node-app-lab')).status);
    try {
      await waitForHealthy(url, async () => `${await describePod()}\n${await podLog()}`);
      const res = await get(`${url}/api/whoami`);
      outputs.push(res.text);
      const report = JSON.parse(res.text);
      assert.equal(report.ok, true, JSON.stringify(report.error));
      assert.equal(report.container.pod, 'wi-node-app-lab');
      assert.equal(report.container.namespace, 'wi-node-app');
      assert.equal(report.container.serviceAccount, 'wi-node-app');
      assert.ok(report.container.nodeName, 'NODE_NAME from the downward API');
      assert.equal(report.workloadIdentity.missing.length, 0);
      assert.equal(report.workloadIdentity.tokenFile.claims.sub, 'system:serviceaccount:wi-node-app:wi-node-app');
      assert.equal(report.accessToken.claims.oid, lab.info.seeded.identity.principal_id);
      assert.deepEqual(listedRoles(report), expectedRoles);
      const page = await get(`${url}/`);
      outputs.push(page.text);
      assert.match(page.text, /Workload identity works/);
    } finally {
      outputs.push(await podLog());
      await kube(lab, 'DELETE', '/api/v1/namespaces/wi-node-app/pods/wi-node-app-lab');
    }
    assert.match(outputs.at(-1), /"msg":"request","method":"GET","path":"\/api\/whoami","status":200/);
  });

  test('ARM answers 503 to every read: the token exchange worked, the roles could not be read, ok is false', async () => {
    await setFaults(lab, { server: 'arm',
      fail_next: { prefix: '/subscriptions', count: 100, status: 503, retry_after: null } });
    let json;
    let page;
    try {
      json = await get(`${healthy.url}/api/whoami`);
      page = await get(`${healthy.url}/`);
    } finally {
      await setFaults(lab, { server: 'arm', clear: true });
    }
    outputs.push(json.text, page.text);
    const report = JSON.parse(json.text);
    assert.equal(report.ok, false);
    assert.equal(report.error.stage, 'permissions');
    assert.equal(report.error.status, 503);
    assert.match(report.error.message, /^Role assignments could not be read at any scope: 503 ServiceUnavailable/);
    assert.match(report.error.hint, /did not answer/);
    assert.equal(report.accessToken.claims.oid, lab.info.seeded.identity.principal_id, 'the token is there');
    assert.ok(report.permissions.inspected.length >= 2);
    assert.ok(report.permissions.inspected.every((s) => !s.ok && s.status === 503), JSON.stringify(report.permissions.inspected));
    assert.ok(!page.text.includes('Workload identity works'), 'no success claim');
    assert.match(page.text, /The token exchange worked \(this pod got an Entra token\), but its role assignments could not be read/);
    assert.match(page.text, /503 ServiceUnavailable: The service is temporarily unavailable/);
    // the outage is over: the same app reads its roles again
    const again = JSON.parse((await get(`${healthy.url}/api/whoami`)).text);
    assert.equal(again.ok, true, JSON.stringify(again.error));
  });

  test('AZURE_FEDERATED_TOKEN_FILE names a file that is not there: a hint, the one credential', async () => {
    const app = await startApp(podEnv(lab, path.join(lab.dir, 'no-such-token')));
    try {
      const json = await get(`${app.url}/api/whoami`);
      const page = await get(`${app.url}/`);
      outputs.push(json.text, page.text, app.logs());
      const report = JSON.parse(json.text);
      assert.equal(report.ok, false);
      assert.equal(report.error.stage, 'token');
      assert.equal(report.error.credential, 'WorkloadIdentityCredential');
      assert.equal(report.error.aadsts, null);
      assert.match(report.error.message, /^ENOENT: no such file or directory/);
      assert.match(report.error.hint, /no-such-token, which does not exist in this container/);
      assert.match(page.text, /does not exist in this container/);
      assert.equal(page.text.split('ENOENT').length - 1, 1, 'the error once');
    } finally {
      await app.stop();
    }
  });

  test('after `wi unbind` a running app keeps its cached token; a new process is refused', async () => {
    const sa = 'cached';
    await createServiceAccount(lab, NAMESPACE, sa);
    const bound = JSON.parse(await runWi(lab, ['bind', sa, 'wi-lab-identity', '-n', NAMESPACE, '-o', 'json']));
    assert.equal(bound.exit_code, 0, JSON.stringify(bound.errors));
    const token = await requestToken(lab, NAMESPACE, sa);
    secrets.push(token);
    const env = podEnv(lab, writeToken(lab, 'cached-token', token));
    const running = await startApp(env);
    let fresh;
    try {
      const first = JSON.parse((await get(`${running.url}/api/whoami`)).text);
      assert.equal(first.ok, true, JSON.stringify(first.error));
      const unbound = JSON.parse(await runWi(lab, ['unbind', sa, 'wi-lab-identity', '-n', NAMESPACE, '-o', 'json']));
      assert.equal(unbound.exit_code, 0, JSON.stringify(unbound.errors));
      const fics = (await labState(lab)).identities.flatMap((i) => i.fics);
      assert.ok(!fics.some((f) => f.subject === `system:serviceaccount:${NAMESPACE}:${sa}`), 'the credential is gone');
      // the running app still works: DefaultAzureCredential serves its cached access token
      const second = JSON.parse((await get(`${running.url}/api/whoami`)).text);
      assert.equal(second.ok, true, JSON.stringify(second.error));
      assert.equal(second.accessToken.expiresOn, first.accessToken.expiresOn, 'the same cached token');
      // a new process (a restarted pod) must exchange again, and Entra refuses
      fresh = await startApp(env);
      const third = JSON.parse((await get(`${fresh.url}/api/whoami`)).text);
      assert.equal(third.error?.aadsts, 'AADSTS700213');
      outputs.push(running.logs(), fresh.logs());
    } finally {
      await Promise.all([running.stop(), fresh?.stop()]);
    }
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    assert.match(readme, /keeps its cached access token/, 'the README explains it');
  });

  test('no raw token on any page, JSON document or log line', () => {
    const everything = [...outputs, healthy.logs(), broken.logs()];
    assert.ok(outputs.length >= 7, 'the earlier tests produced output to check');
    assert.match(healthy.logs(), /"msg":"request"/);
    for (const text of everything) {
      assert.ok(!text.includes('eyJ'), `a JWT leaked:\n${text.slice(0, 500)}`);
      for (const secret of secrets.filter(Boolean)) {
        assert.ok(!text.includes(secret), 'a token or secret leaked');
      }
    }
  });
});
