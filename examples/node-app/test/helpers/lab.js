'use strict';

// Starts the wi lab (`wi lab up`) as a subprocess and talks to its Kubernetes API server and its
// Entra and ARM over HTTPS with the lab CA. Nothing here reads the wi repository: wi is found
// through WI_PYTHON (a Python that has wi installed: `$WI_PYTHON -m wi_cli`), else `wi` on PATH,
// so the tests run the same in a copy of this directory anywhere.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { promisify } = require('node:util');

const START_TIMEOUT_MS = 60000;

// [command, ...leading args] that runs wi
function wiCommand(env = process.env) {
  if (env.WI_PYTHON) return [env.WI_PYTHON, '-m', 'wi_cli'];
  const onPath = (env.PATH || '').split(path.delimiter).filter(Boolean)
    .map((dir) => path.join(dir, 'wi')).find((file) => {
      try { fs.accessSync(file, fs.constants.X_OK); return true; } catch { return false; }
    });
  if (onPath) return [onPath];
  throw new Error('wi not found: set WI_PYTHON to a Python that has wi installed, or put `wi` on PATH');
}

function waitForFirstLine(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      reject(new Error(`the lab did not start within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the lab exited with ${code} before it was ready (${wiCommand().join(' ')}):\n${stderr}`));
    });
  });
}

// env.sh holds `export NAME=value` lines, values quoted by Python's shlex.quote
function parseEnvFile(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (value.startsWith("'")) value = value.slice(1, -1).replaceAll(`'"'"'`, "'");
    env[match[1]] = value;
  }
  return env;
}

function kubeconfigToken(text) {
  const match = /^\s*token:\s*['"]?([^'"\s]+)['"]?\s*$/m.exec(text);
  if (!match) throw new Error('no bearer token in the lab kubeconfig');
  return match[1];
}

async function startLab(scenario = 'bound') {
  const [command, ...args] = wiCommand();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wi-node-app-lab-'));
  const child = spawn(command, [...args, 'lab', 'up', '--state-dir', dir, '--scenario', scenario],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const envPath = await waitForFirstLine(child, START_TIMEOUT_MS);
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'lab.json'), 'utf8'));
    const env = parseEnvFile(fs.readFileSync(envPath, 'utf8'));
    const kubeconfig = fs.readFileSync(env.KUBECONFIG, 'utf8');
    return {
      dir, info, env, stop,
      caFile: env.NODE_EXTRA_CA_CERTS,
      ca: fs.readFileSync(env.NODE_EXTRA_CA_CERTS),
      apiServer: info.seeded.api_server,
      adminToken: kubeconfigToken(kubeconfig),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function httpsJson(lab, method, url, { body, token } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { Accept: 'application/json' };
    if (payload) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const req = https.request(url, { method, ca: lab.ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: json, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function kube(lab, method, apiPath, body) {
  const res = await httpsJson(lab, method, lab.apiServer + apiPath, { body, token: lab.adminToken });
  if (res.status >= 300) {
    throw new Error(`${method} ${apiPath}: ${res.status} ${res.body?.message || res.text}`);
  }
  return res.body;
}

function createServiceAccount(lab, namespace, name) {
  return kube(lab, 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts`,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
}

// The TokenRequest API, as the kubelet asks for a pod's projected token
async function requestToken(lab, namespace, serviceAccount, audience = 'api://AzureADTokenExchange') {
  const body = await kube(lab, 'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: [audience], expirationSeconds: 3600 } });
  return body.status.token;
}

function labState(lab) {
  return httpsJson(lab, 'GET', `${lab.info.servers.arm}/_lab/state`).then((res) => res.body);
}

function formBody(fields) {
  return new URLSearchParams(fields).toString();
}

// An ARM token for the lab's operator (client credentials, the secret from env.sh)
async function operatorToken(lab) {
  const url = `${lab.env.AZURE_AUTHORITY_HOST.replace(/\/+$/, '')}/${lab.env.AZURE_TENANT_ID}/oauth2/v2.0/token`;
  const res = await new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca: lab.ca,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, text }));
    });
    req.on('error', reject);
    req.end(formBody({ grant_type: 'client_credentials', client_id: lab.env.AZURE_CLIENT_ID,
      client_secret: lab.env.AZURE_CLIENT_SECRET,
      scope: `${lab.info.arm_audience.replace(/\/+$/, '')}/.default` }));
  });
  if (res.status !== 200) throw new Error(`operator token: ${res.status} ${res.text.slice(0, 300)}`);
  return JSON.parse(res.text).access_token;
}

// role definition GUID (lower case) -> role name, read from the lab's ARM as the operator
async function roleNames(lab, roleDefinitionIds) {
  const token = await operatorToken(lab);
  const names = new Map();
  for (const id of new Set(roleDefinitionIds)) {
    const res = await httpsJson(lab, 'GET', `${lab.info.servers.arm}${id}?api-version=2022-04-01`, { token });
    if (res.status !== 200) throw new Error(`GET ${id}: ${res.status} ${res.text.slice(0, 300)}`);
    names.set(id.split('/').pop().toLowerCase(), res.body.properties.roleName);
  }
  return names;
}

// wi itself (see wiCommand), with the lab's environment (operator credentials)
async function runWi(lab, args) {
  const env = { ...process.env, ...lab.env, HOME: lab.dir, WI_STATE_DIR: path.join(lab.dir, 'wi-state') };
  const [command, ...prefix] = wiCommand();
  const { stdout } = await promisify(execFile)(command, [...prefix, ...args],
    { cwd: lab.dir, env, timeout: 60000 });
  return stdout;
}

// Fault knobs of the lab's servers (wi_cli/lab/admin.py): e.g. { server: 'arm', fail_next: {...} }
async function setFaults(lab, spec) {
  const res = await httpsJson(lab, 'POST', `${lab.info.servers.arm}/_lab/faults`, { body: spec });
  if (res.status !== 200) throw new Error(`faults: ${res.status} ${res.text}`);
}

module.exports = { startLab, kube, httpsJson, createServiceAccount, requestToken, labState,
  roleNames, runWi, setFaults, parseEnvFile, wiCommand };
