'use strict';

// Runs server.js as its own process with exactly the environment a pod would get, and keeps
// everything it logs so tests can check that no token ever appears there.

const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const SERVER = path.resolve(__dirname, '..', '..', 'server.js');

function startApp(env, { timeoutMs = 15000 } = {}) {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  child.stderr.on('data', (chunk) => output.push(String(chunk)));
  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', (line) => output.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start:\n${output.join('\n')}`)), timeoutMs);
    lines.on('line', (line) => {
      let entry;
      try { entry = JSON.parse(line); } catch { return; }
      if (entry.msg !== 'listening') return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${entry.port}`,
        output,
        logs: () => output.join('\n'),
        stop: () => stopProcess(child),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited with ${code}:\n${output.join('\n')}`));
    });
  });
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function get(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(60000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

module.exports = { startApp, get, SERVER };
