'use strict';

const express = require('express');
const { DefaultAzureCredential } = require('@azure/identity');
const { collectReport } = require('../lib/report');
const { renderPage, CONTENT_SECURITY_POLICY } = require('../views/page');

/**
 * DefaultAzureCredential picks the workload identity from what the webhook injected
 * (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST).
 * Instance discovery is turned off for an authority MSAL does not know (see lib/config.js).
 */
function createCredential(config) {
  const options = { disableInstanceDiscovery: config.disableInstanceDiscovery };
  if (config.authorityHostFromEnv) options.authorityHost = config.authorityHost;
  return new DefaultAzureCredential(options);
}

function createRouter({ config, credential = createCredential(config) }) {
  const router = express.Router();

  router.get('/healthz', (req, res) => {
    res.type('text/plain').send('ok\n');
  });

  router.get('/api/whoami', async (req, res) => {
    res.json(await collectReport({ credential, config }));
  });

  router.get('/', async (req, res) => {
    const report = await collectReport({ credential, config });
    res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.type('html').send(renderPage(report));
  });

  return router;
}

module.exports = { createRouter, createCredential };
