'use strict';

// The README calls this directory "the workload users copy from": its tests must pass in a copy
// anywhere, with wi found through WI_PYTHON or PATH and nothing read from the wi repository.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const { test } = require('node:test');

const APP = path.resolve(__dirname, '..');
const IN_COPY = 'WI_NODE_APP_IN_COPY';

test('the lab tests pass in a copy of the app outside the repository', {
  skip: process.env[IN_COPY] ? 'this run is the copy' : false,
}, async () => {
  // NODE_TEST_CONTEXT would make the inner `node --test` report to this runner, not to stdout
  const { NODE_TEST_CONTEXT, ...env } = process.env; // eslint-disable-line no-unused-vars
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wi-node-app-copy-'));
  try {
    fs.cpSync(APP, dir, { recursive: true,
      filter: (src) => path.relative(APP, src).split(path.sep)[0] !== 'node_modules' });
    // the installed dependencies, as `npm ci` in the copy would install them (without a network)
    fs.symlinkSync(path.join(APP, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    // the tests that use the lab: they start it, mint tokens, read role names and run `wi bind`
    const { stdout } = await promisify(execFile)(process.execPath,
      ['--test', '--test-concurrency=1', '--test-reporter=tap', '--test-name-pattern',
        'api/whoami|manifests run as a lab pod', 'test/lab.test.js'],
      { cwd: dir, env: { ...env, [IN_COPY]: '1' }, timeout: 180000, maxBuffer: 16 * 1024 * 1024 })
      .catch((err) => assert.fail(`the tests failed in ${dir}:\n${err.stdout}\n${err.stderr}`));
    assert.match(stdout, /^# pass 2$/m, stdout);
    assert.match(stdout, /^# fail 0$/m, stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
