'use strict';

const { createApp } = require('./app');
const { loadConfig } = require('./lib/config');
const log = require('./lib/log');

function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    log.error('bad configuration', { error: err.message });
    process.exit(2);
  }
  const server = createApp({ config }).listen(config.port, config.host, () => {
    const { address, port } = server.address();
    log.info('listening', {
      url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
      port,
      armEndpoint: config.armEndpoint,
      armScope: config.armScope,
      authorityHost: config.authorityHost,
      instanceDiscovery: !config.disableInstanceDiscovery,
    });
  });
  server.on('error', (err) => {
    log.error('cannot listen', { error: err.message });
    process.exit(1);
  });
  const stop = (signal) => {
    log.info('stopping', { signal });
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
