#!/usr/bin/env node
'use strict';
// The CLI runs from the compiled output; `npm ci` builds it (the `prepare` script).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const dist = join(__dirname, '..', 'dist');
if (!existsSync(join(dist, 'cli', 'main.js'))) {
  process.stderr.write('argus is not built yet: run `npm ci` (or `npm run build`) in the Argus directory\n');
  process.exit(1);
}
if (process.argv[2] === 'serve') {
  // Before anything is loaded, so no pretenuring decision predates it (dist/app/serving-heap.js).
  require(join(dist, 'app', 'serving-heap.js')).disableAllocationSitePretenuring();
  // OpenTelemetry must hook http and Fastify before they are loaded.
  require(join(dist, 'telemetry', 'register-tracing.js'));
}
require(join(dist, 'cli', 'main.js')).main(process.argv);
