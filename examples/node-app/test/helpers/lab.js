'use strict';

// Starts the wi lab (`python -m wi_cli.lab.serve`) as a subprocess and talks to its Kubernetes
// API server over HTTPS with the lab CA. WI_PYTHON picks the interpreter that has wi installed.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { promisify } = require('node:util');

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const PYTHON = process.env.WI_PYTHON || 'python3';
const START_TIMEOUT_MS = 60000;

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
      reject(new Error(`the lab exited with ${code} before it was ready (WI_PYTHON=${PYTHON}):\n${stderr}`));
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wi-node-app-lab-'));
  const child = spawn(PYTHON, ['-m', 'wi_cli.lab.serve', '--state-dir', dir, '--scenario', scenario],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
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

const BUILTIN_ROLES = path.join(REPO, 'wi_cli', 'lab', 'data', 'builtin-role-definitions.json');

function builtinRoleNames() {
  const data = JSON.parse(fs.readFileSync(BUILTIN_ROLES, 'utf8'));
  return new Map(data.value.map((role) => [role.name.toLowerCase(), role.properties.roleName]));
}

// wi itself, in the lab's interpreter, with the lab's environment (operator credentials)
async function runWi(lab, args) {
  const env = { ...process.env, ...lab.env, HOME: lab.dir, WI_STATE_DIR: path.join(lab.dir, 'wi-state') };
  const { stdout } = await promisify(execFile)(PYTHON, ['-m', 'wi_cli', ...args],
    { cwd: lab.dir, env, timeout: 60000 });
  return stdout;
}

module.exports = { startLab, kube, httpsJson, createServiceAccount, requestToken, labState,
  builtinRoleNames, runWi, parseEnvFile, REPO, PYTHON };
