'use strict';

const express = require('express');
const log = require('./lib/log');
const { redact } = require('./lib/redact');
const { createRouter } = require('./routes/index');

function securityHeaders(req, res, next) {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
  });
  next();
}

function requestLog(req, res, next) {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    log.info('request', {
      method: req.method,
      path: req.path,
      status: res.statusCode,
      ms: Number((process.hrtime.bigint() - started) / 1000000n),
    });
  });
  next();
}

// Express 5 routes rejected promises here; the client gets a plain 500, the log one line.
function errorHandler(err, req, res, next) { // eslint-disable-line no-unused-vars
  log.error('request failed', { path: req.path, error: redact(err?.message || err) });
  res.status(500).type('text/plain').send('internal error\n');
}

function createApp({ config, credential }) {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.use(requestLog);
  app.use(createRouter({ config, credential }));
  app.use(errorHandler);
  return app;
}

module.exports = { createApp };
