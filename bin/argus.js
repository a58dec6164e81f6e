#!/usr/bin/env node
'use strict';
// The CLI runs from the compiled output; `npm ci` builds it (the `prepare` script).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const entry = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('argus is not built yet: run `npm ci` (or `npm run build`) in the Argus directory\n');
  process.exit(1);
}
require(entry).main(process.argv);
